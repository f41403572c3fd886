import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { platformDeltas } from '../../../src/deployment/delta.js';
import {
  DEPLOYMENT_MANIFEST_SCHEMA,
  DeploymentManifestError,
  buildDeploymentManifest,
  deploymentManifestSchemaJson,
  manifestBundleFileName,
  manifestFileName,
  parseDeploymentManifest,
  renderDeploymentManifest,
  plainIsSameString,
  parsesBackPlain,
  validateDeploymentManifest,
  type DeploymentManifest,
} from '../../../src/deployment/manifest.js';
import { policyDigest } from '../../../src/policy/index.js';
import {
  AMD64,
  ARM64,
  INDEX,
  PREV_AMD64,
  PREV_ARM64,
  PREV_INDEX,
  SHA,
  digest,
  image,
  input,
} from './fixtures.js';

function errorOf(fn: () => unknown): DeploymentManifestError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DeploymentManifestError) return error;
    throw error;
  }
  throw new Error('expected a DeploymentManifestError');
}

describe('buildDeploymentManifest', () => {
  const m = buildDeploymentManifest(input());

  it('records the release, the image and the gate', () => {
    expect(m.apiVersion).toBe('edgeship.dev/v1');
    expect(m.kind).toBe('DeploymentManifest');
    expect(m.release).toEqual({
      version: '1.2.0',
      channel: 'production',
      semver: '1.2.0',
      revision: SHA,
      ref: 'refs/tags/v1.2.0',
      workflowRun: 'https://github.com/acme/agent/actions/runs/42',
      created: '2025-06-01T12:00:00.000Z',
    });
    expect(m.image).toEqual({
      repository: 'ghcr.io/acme/agent',
      index: { digest: INDEX, mediaType: 'application/vnd.oci.image.index.v1+json', size: 1234 },
      tags: ['1.2.0', '1.2', '1', 'latest'],
    });
    expect(m.gate).toEqual({
      verdict: 'pass',
      policyDigest: policyDigest(input().policy),
      failOn: 'high',
      waivers: [
        {
          id: 'CVE-2024-1234',
          package: 'openssl',
          platforms: ['linux/arm64'],
          reason: 'not reachable: the TLS server is disabled',
          expires: '2099-12-31',
          applied: true,
        },
        { id: 'CVE-2023-0001', reason: 'unused code path', expires: '2099-01-31', applied: false },
      ],
    });
    expect(m.baseline).toEqual({ channel: 'production', version: '1.1.0', index: PREV_INDEX });
  });

  it('lists platforms by name with their delta against the baseline, SBOM and counts', () => {
    expect(m.platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm64']);
    const [amd, arm] = m.platforms;
    // Base layers a1, a2 shared; a4 (3000 bytes) and the config (500) are new.
    expect(amd).toEqual({
      platform: 'linux/amd64',
      digest: AMD64,
      size: 6500,
      delta: { bytes: 3500, layers: 1, baseline: { version: '1.1.0', digest: PREV_AMD64 } },
      user: '65532:65532',
      healthcheck: true,
      sbom: { format: 'spdx-json', file: 'sbom-linux-amd64.spdx.json', packages: 120 },
      vulnerabilities: { critical: 0, high: 0, medium: 3, low: 7, negligible: 1, unknown: 0 },
    });
    expect(arm?.delta.baseline).toEqual({ version: '1.1.0', digest: PREV_ARM64 });
    expect(arm?.sbom.attestation).toEqual({ referrer: digest('e3') });
    expect(arm?.vulnerabilities.high).toBe(1);
  });

  it('orders bundles by subject, then predicate type', () => {
    expect(m.signatures.bundles.map((b) => [b.subject, b.predicateType])).toEqual([
      [INDEX, 'https://sigstore.dev/cosign/sign/v1'],
      [AMD64, 'https://sigstore.dev/cosign/sign/v1'],
      [ARM64, 'https://sigstore.dev/cosign/sign/v1'],
      [ARM64, 'https://spdx.dev/Document'],
    ]);
  });

  it('without a baseline every platform is a full download', () => {
    const first = buildDeploymentManifest(input({ baseline: null }));
    expect(first.baseline).toBeNull();
    for (const p of first.platforms) expect(p.delta).toEqual({ bytes: p.size, layers: 3, baseline: null });
  });

  it('a platform the baseline did not have is a full download', () => {
    const base = input().baseline!;
    const onlyAmd = {
      ...base,
      platforms: new Map([...base.platforms!].filter(([k]) => k === 'linux/amd64')),
    };
    const built = buildDeploymentManifest(input({ baseline: onlyAmd }));
    expect(built.platforms[1]?.delta).toEqual({ bytes: 6500, layers: 3, baseline: null });
    expect(built.platforms[0]?.delta.baseline).not.toBeNull();
  });

  it('takes precomputed platformDeltas', () => {
    const i = input();
    const deltas = platformDeltas(i.images, i.baseline!.platforms!);
    const built = buildDeploymentManifest({
      ...i,
      deltas,
      baseline: { ...i.baseline!, platforms: undefined },
    });
    expect(built.platforms).toEqual(m.platforms);
  });

  it('normalises the repository and the revision', () => {
    const built = buildDeploymentManifest(
      input({ repository: 'acme/agent', git: { ...input().git, revision: SHA.toUpperCase() } }),
    );
    expect(built.image.repository).toBe('docker.io/acme/agent');
    expect(built.release.revision).toBe(SHA);
  });

  it('refuses an invalid creation time', () => {
    expect(errorOf(() => buildDeploymentManifest(input({ created: new Date('nope') }))).problems).toEqual([
      { path: 'release.created', message: 'is an invalid Date' },
    ]);
    expect(
      errorOf(() => buildDeploymentManifest(input({ created: 'yesterday' }))).problems.map((p) => p.path),
    ).toEqual(['release.created']);
  });

  it('refuses a release that did not pass the gate', () => {
    const i = input();
    const error = errorOf(() => buildDeploymentManifest({ ...i, verdict: { ...i.verdict, pass: false } }));
    expect(error.problems[0]).toMatchObject({ path: 'gate.verdict' });
  });

  it('names each missing piece by path', () => {
    const i = input();
    const error = errorOf(() =>
      buildDeploymentManifest({
        ...i,
        sboms: new Map([...i.sboms].filter(([k]) => k !== 'linux/arm64')),
        verdict: { ...i.verdict, platforms: i.verdict.platforms.filter((p) => p.platform !== 'linux/amd64') },
      }),
    );
    expect(error.problems.map((p) => p.path)).toEqual(['platforms[0].vulnerabilities', 'platforms[1].sbom']);
    expect(error.message).toContain('platforms[1].sbom: no SBOM was given for linux/arm64');
  });

  it('refuses a signature over a digest that is not part of the release', () => {
    const i = input();
    const bundles = [
      ...i.signatures.bundles,
      { subject: digest('d'), predicateType: 'x:y', referrer: digest('e9') },
    ];
    const error = errorOf(() => buildDeploymentManifest({ ...i, signatures: { ...i.signatures, bundles } }));
    expect(error.problems).toEqual([
      {
        // Bundles are ordered by subject: sha256:ddd… comes after the index and both platforms' bundles.
        path: 'signatures.bundles[4].subject',
        message: `${digest('d')} is neither the index nor a platform image of this release`,
      },
    ]);
  });

  it('refuses an SBOM attestation whose referrer is not among the signatures', () => {
    const i = input();
    const bundles = i.signatures.bundles.filter((b) => b.predicateType !== 'https://spdx.dev/Document');
    const error = errorOf(() => buildDeploymentManifest({ ...i, signatures: { ...i.signatures, bundles } }));
    expect(error.problems.map((p) => p.path)).toEqual(['platforms[1].sbom.attestation.referrer']);
  });

  it('refuses keyless signatures without identity and issuer', () => {
    const i = input();
    const error = errorOf(() =>
      buildDeploymentManifest({ ...i, signatures: { mode: 'keyless', bundles: i.signatures.bundles } }),
    );
    expect(error.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'signatures.identity: is required when mode is keyless',
      'signatures.issuer: is required when mode is keyless',
    ]);
    // Key mode needs neither.
    expect(
      buildDeploymentManifest({ ...i, signatures: { mode: 'key', bundles: i.signatures.bundles } })
        .signatures,
    ).toEqual({ mode: 'key', bundles: expect.any(Array) });
  });

  it('refuses a delta against a previous image when there is no baseline', () => {
    const i = input();
    const deltas = platformDeltas(i.images, i.baseline!.platforms!);
    const error = errorOf(() => buildDeploymentManifest({ ...i, deltas, baseline: null }));
    expect(error.problems.map((p) => p.path)).toEqual([
      'platforms[0].delta.baseline',
      'platforms[1].delta.baseline',
    ]);
  });

  it('is pure: the same input gives the same manifest', () => {
    expect(buildDeploymentManifest(input())).toEqual(m);
    const reordered = input();
    reordered.images = [...reordered.images].reverse();
    expect(buildDeploymentManifest(reordered)).toEqual(m);
  });
});

describe('render and parse', () => {
  const m = buildDeploymentManifest(input());
  const text = renderDeploymentManifest(m);

  it('writes a string plain by its shortcut only where YAML 1.1 and 1.2 parsers read it back as that string', () => {
    const strings: string[] = [];
    const collect = (v: unknown): void => {
      if (typeof v === 'string') strings.push(v);
      else if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === 'object') Object.values(v).forEach(collect);
    };
    collect(m);
    const tricky = [
      ...['y', 'Y', 'n', 'N', 'yes', 'Yes', 'YES', 'no', 'No', 'on', 'On', 'ON', 'off', 'Off', 'OFF'],
      ...[
        'true',
        'True',
        'FALSE',
        'null',
        'Null',
        'NULL',
        '~',
        '<<',
        '=',
        '.inf',
        '.NaN',
        'Inf',
        'NaN',
        'nan',
      ],
      ...[
        'a:',
        'a: b',
        'a:b',
        'a::',
        'a #b',
        'a#b',
        '@x',
        'x@y',
        '-a',
        'a-',
        '1.8.2',
        'v1.8.2',
        '0x1f',
        'e10',
      ],
      ...['1:20', 'a1:20', '2026-12-01', '2026-12-01T00:00:00Z', 'https://example.com/a?b=c', 'linux/arm/v7'],
      ...['sha256:' + 'a'.repeat(64), 'a b', ' a', 'a ', "it's", '"q"', 'a,b', 'a[0]', '{a}', '&a', '*a'],
    ];
    // And short strings of the shortcut's alphabet, drawn with a fixed seed.
    const alphabet = 'aeEnNoOyYtf01_./:@+-';
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const drawn = Array.from({ length: 3000 }, () =>
      Array.from({ length: 1 + (next() % 6) }, () => alphabet[next() % alphabet.length]).join(''),
    );
    let shortcuts = 0;
    for (const s of [...strings, ...tricky, ...drawn]) {
      const slow = parsesBackPlain(s);
      expect(plainIsSameString(s), JSON.stringify(s)).toBe(slow);
      if (slow && plainIsSameString(s)) shortcuts++;
    }
    // The shortcut does take most of a manifest's strings.
    expect(shortcuts).toBeGreaterThan(strings.length / 2);
  });

  it('round-trips', () => {
    expect(parseDeploymentManifest(text)).toEqual(m);
    expect(renderDeploymentManifest(parseDeploymentManifest(text))).toBe(text);
  });

  it('starts with a header saying how to verify it', () => {
    const header = text.split('\n').filter((l) => l.startsWith('#'));
    expect(header[0]).toBe('# Edgeship deployment manifest: ghcr.io/acme/agent 1.2.0 (production channel)');
    expect(text).toContain(`# Run the release by digest: ghcr.io/acme/agent@${INDEX}`);
    expect(text).toContain(
      '#   cosign verify-blob-attestation --new-bundle-format --bundle edgeship-deployment-1.2.0.yaml.sigstore.json',
    );
    expect(text).toContain('--type https://edgeship.dev/deployment-manifest/v1');
    expect(text).toContain(
      '--certificate-identity https://github.com/acme/agent/.github/workflows/release.yml@refs/tags/v1.2.0 --certificate-oidc-issuer https://token.actions.githubusercontent.com',
    );
    expect(text).toContain(`#   cosign verify ghcr.io/acme/agent@${INDEX}`);
    const keyed = buildDeploymentManifest(
      input({ signatures: { mode: 'key', bundles: input().signatures.bundles } }),
    );
    expect(renderDeploymentManifest(keyed)).toContain('--key cosign.pub');
  });

  it('writes keys in the documented order', () => {
    const topLevel = text.split('\n').filter((l) => /^[a-zA-Z]+:/.test(l));
    expect(topLevel.map((l) => l.split(':')[0])).toEqual([
      'apiVersion',
      'kind',
      'release',
      'image',
      'platforms',
      'gate',
      'signatures',
      'baseline',
    ]);
    const platform = text.slice(
      text.indexOf('  - platform: linux/amd64'),
      text.indexOf('  - platform: linux/arm64'),
    );
    const keys = platform.split('\n').filter((l) => /^ {4}[a-zA-Z]+:/.test(l) || l.startsWith('  - '));
    expect(keys.map((l) => l.replace(/^[ -]+/, '').split(':')[0])).toEqual([
      'platform',
      'digest',
      'size',
      'delta',
      'user',
      'healthcheck',
      'sbom',
      'vulnerabilities',
    ]);
    // Whatever order the object was built in.
    const shuffled = JSON.parse(JSON.stringify(m), (_k, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
    ) as DeploymentManifest;
    expect(renderDeploymentManifest(shuffled)).toBe(text);
  });

  it('quotes what a YAML 1.1 reader would turn into something else', () => {
    expect(text).toContain('created: "2025-06-01T12:00:00.000Z"');
    expect(text).toContain('expires: "2099-12-31"');
    expect(text).toContain('- "1.2"');
    const { created, ...rest } = m.release;
    expect(parse(text, { version: '1.1' })).toEqual(m);
    expect(parse(text)).toEqual(m);
    expect(created).toBe('2025-06-01T12:00:00.000Z');
    expect(rest.version).toBe('1.2.0');
  });

  it('a prerelease on staging with build metadata and without a baseline', () => {
    const i = input({
      release: {
        version: '2.0.0-rc.1',
        semver: '2.0.0-rc.1+build.7',
        channel: 'staging',
        tags: ['2.0.0-rc.1'],
      },
      baseline: null,
    });
    const built = buildDeploymentManifest(i);
    expect(parseDeploymentManifest(renderDeploymentManifest(built))).toEqual(built);
    expect(renderDeploymentManifest(built)).toContain('semver: 2.0.0-rc.1+build.7');
  });

  it('refuses to render an invalid manifest', () => {
    const bad = { ...m, gate: { ...m.gate, policyDigest: 'nope' } };
    expect(() => renderDeploymentManifest(bad)).toThrow(/gate\.policyDigest: must be a digest/);
  });

  it('reports YAML errors with their line', () => {
    const error = errorOf(() => parseDeploymentManifest('apiVersion: edgeship.dev/v1\nkind: [unclosed\n'));
    expect(error.problems[0]?.line).toBeGreaterThanOrEqual(2);
    expect(error.message).toMatch(/^deployment manifest is not valid YAML/);
    const duplicate = errorOf(() => parseDeploymentManifest(`${text}kind: DeploymentManifest\n`));
    expect(duplicate.problems[0]?.message).toMatch(/unique/i);
  });

  it('reports schema problems with their path and line', () => {
    const edited = text.replace('    size: 6500\n', '    size: "6500"\n');
    const error = errorOf(() => parseDeploymentManifest(edited, 'edgeship-deployment-1.2.0.yaml'));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toEqual({
      path: 'platforms[0].size',
      message: 'must be a number of bytes (a whole number ≥ 0); got "6500"',
      line: edited.split('\n').indexOf('    size: "6500"') + 1,
    });
    expect(error.message).toMatch(/^edgeship-deployment-1\.2\.0\.yaml is not a valid DeploymentManifest:/);
  });

  it('rejects a document that is not a mapping', () => {
    expect(errorOf(() => parseDeploymentManifest('- 1\n')).problems[0]?.path).toBe('(top level)');
    expect(errorOf(() => parseDeploymentManifest('')).problems[0]?.path).toBe('(top level)');
  });
});

describe('the schema rejects bad manifests', () => {
  const good = buildDeploymentManifest(input());
  type Edit = (m: Record<string, any>) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

  const cases: Array<[string, Edit, string, RegExp]> = [
    ['wrong apiVersion', (m) => (m.apiVersion = 'edgeship/v1'), 'apiVersion', /must be "edgeship.dev\/v1"/],
    ['wrong kind', (m) => (m.kind = 'Policy'), 'kind', /must be "DeploymentManifest"/],
    [
      'unknown top-level key',
      (m) => (m.extra = 1),
      'extra',
      /unknown key; allowed keys here: apiVersion, kind/,
    ],
    [
      'missing revision',
      (m) => delete m.release.revision,
      'release.revision',
      /is required; expected a full git/,
    ],
    [
      'bad channel',
      (m) => (m.release.channel = 'prod'),
      'release.channel',
      /one of production, staging, dev/,
    ],
    ['short revision', (m) => (m.release.revision = 'abc1234'), 'release.revision', /full git commit sha/],
    [
      'created not a date-time',
      (m) => (m.release.created = '2025-13-01T00:00:00Z'),
      'release.created',
      /RFC 3339/,
    ],
    [
      'workflowRun not a URL',
      (m) => (m.release.workflowRun = 'run 42'),
      'release.workflowRun',
      /http\(s\) URL/,
    ],
    ['bad semver', (m) => (m.release.semver = 'v1.2.0'), 'release.semver', /semantic version/],
    [
      'version does not match semver',
      (m) => (m.release.version = '1.2.1'),
      'release.version',
      /must be the semver without build metadata \(1\.2\.0\)/,
    ],
    ['unqualified repository', (m) => (m.image.repository = 'agent'), 'image.repository', /fully qualified/],
    [
      'tag in the repository',
      (m) => (m.image.repository = 'ghcr.io/acme/agent:1'),
      'image.repository',
      /qualified/,
    ],
    [
      'index media type',
      (m) => (m.image.index.mediaType = 'application/json'),
      'image.index.mediaType',
      /one of/,
    ],
    ['duplicate tags', (m) => m.image.tags.push('latest'), 'image.tags', /items 3 and 4 are the same/],
    ['bad tag', (m) => (m.image.tags[0] = '-bad'), 'image.tags[0]', /Docker tag/],
    ['no platforms', (m) => (m.platforms = []), 'platforms', /got an empty list/],
    ['bad platform digest', (m) => (m.platforms[1].digest = 'sha256:abc'), 'platforms[1].digest', /a digest/],
    [
      'uppercase digest',
      (m) => (m.platforms[0].digest = AMD64.toUpperCase()),
      'platforms[0].digest',
      /digest/,
    ],
    [
      'negative delta',
      (m) => (m.platforms[0].delta.bytes = -1),
      'platforms[0].delta.bytes',
      /whole number ≥ 0/,
    ],
    ['fractional size', (m) => (m.platforms[0].size = 1.5), 'platforms[0].size', /got 1\.5/],
    ['delta over size', (m) => (m.platforms[0].delta.bytes = 7000), 'platforms[0].delta.bytes', /more than/],
    [
      'missing delta.baseline',
      (m) => delete m.platforms[0].delta.baseline,
      'platforms[0].delta.baseline',
      /required/,
    ],
    [
      'healthcheck as string',
      (m) => (m.platforms[0].healthcheck = 'yes'),
      'platforms[0].healthcheck',
      /true or false/,
    ],
    ['sbom format', (m) => (m.platforms[0].sbom.format = 'spdx'), 'platforms[0].sbom.format', /spdx-json/],
    [
      'sbom file escapes',
      (m) => (m.platforms[0].sbom.file = '../x.json'),
      'platforms[0].sbom.file',
      /relative/,
    ],
    [
      'missing vulnerability count',
      (m) => delete m.platforms[1].vulnerabilities.unknown,
      'platforms[1].vulnerabilities.unknown',
      /is required/,
    ],
    ['verdict fail', (m) => (m.gate.verdict = 'fail'), 'gate.verdict', /"pass"/],
    ['failOn', (m) => (m.gate.failOn = 'severe'), 'gate.failOn', /one of negligible/],
    [
      'waiver date',
      (m) => (m.gate.waivers[0].expires = '2099-02-30'),
      'gate.waivers[0].expires',
      /YYYY-MM-DD/,
    ],
    ['waiver applied', (m) => delete m.gate.waivers[1].applied, 'gate.waivers[1].applied', /is required/],
    ['signing mode', (m) => (m.signatures.mode = 'gpg'), 'signatures.mode', /one of keyless, key/],
    [
      'keyless issuer',
      (m) => delete m.signatures.issuer,
      'signatures.issuer',
      /required when mode is keyless/,
    ],
    [
      'bundle subject',
      (m) => (m.signatures.bundles[0].subject = 'latest'),
      'signatures.bundles[0].subject',
      /a digest/,
    ],
    [
      'foreign bundle subject',
      (m) => (m.signatures.bundles[0].subject = digest('f')),
      'signatures.bundles[0].subject',
      /neither the index nor a platform image/,
    ],
    [
      'baseline channel',
      (m) => (m.baseline.channel = 'staging'),
      'baseline.channel',
      /release channel production/,
    ],
    [
      'delta baseline without baseline',
      (m) => (m.baseline = null),
      'platforms[0].delta.baseline',
      /must be null when the manifest has no baseline/,
    ],
    [
      'delta baseline version',
      (m) => (m.platforms[1].delta.baseline.version = '1.0.0'),
      'platforms[1].delta.baseline.version',
      /baseline's version "1.1.0"/,
    ],
    [
      'duplicate platform',
      (m) => (m.platforms[1].platform = 'linux/amd64'),
      'platforms[1].platform',
      /duplicates platforms\[0\]/,
    ],
    [
      'baseline missing',
      (m) => delete m.baseline,
      'baseline',
      /is required; expected a mapping with channel/,
    ],
  ];

  const table = cases.map(([name, edit, path, message]) => ({ name, edit, path, message }));
  it.each(table)('$name → $path', ({ edit, path, message }) => {
    const document = structuredClone(good) as unknown as Record<string, unknown>;
    edit(document);
    const problems = validateDeploymentManifest(document);
    expect(problems.map((p) => p.path)).toContain(path);
    expect(problems.find((p) => p.path === path)?.message).toMatch(message);
    // The same through the YAML parser, with a line number.
    const error = errorOf(() => parseDeploymentManifest(JSON.stringify(document, null, 2)));
    expect(error.problems.find((p) => p.path === path)?.line).toBeGreaterThan(0);
  });

  it('accepts the manifest it builds', () => {
    expect(validateDeploymentManifest(good)).toEqual([]);
  });
});

describe('the schema file', () => {
  const file = new URL('../../../src/deployment/deployment-manifest.schema.json', import.meta.url);

  it('is the exported schema', () => {
    expect(JSON.parse(readFileSync(file, 'utf8')), 'regenerate with deploymentManifestSchemaJson()').toEqual(
      DEPLOYMENT_MANIFEST_SCHEMA,
    );
    expect(JSON.parse(deploymentManifestSchemaJson())).toEqual(DEPLOYMENT_MANIFEST_SCHEMA);
  });

  it('works with a plain validator (standard keywords only)', () => {
    const ajv = new Ajv({ strict: false, validateFormats: false });
    const check = ajv.compile(JSON.parse(readFileSync(file, 'utf8')) as object);
    expect(check(buildDeploymentManifest(input()))).toBe(true);
    expect(check({ ...buildDeploymentManifest(input()), kind: 'Other' })).toBe(false);
  });
});

describe('names', () => {
  it('manifestFileName and manifestBundleFileName', () => {
    expect(manifestFileName('1.2.0')).toBe('edgeship-deployment-1.2.0.yaml');
    expect(manifestFileName('2.0.0-rc.1')).toBe('edgeship-deployment-2.0.0-rc.1.yaml');
    expect(manifestBundleFileName('1.2.0')).toBe('edgeship-deployment-1.2.0.yaml.sigstore.json');
    expect(() => manifestFileName('../etc/passwd')).toThrow(DeploymentManifestError);
    expect(() => manifestFileName('')).toThrow(/not a Docker-tag-shaped version/);
  });

  it('image() fixture sizes add up', () => {
    expect(image('linux/amd64', AMD64, ['a1'], 'c1').size).toBe(1500);
  });
});

describe('run settings (device-run)', () => {
  const run = {
    user: '65532',
    healthTimeout: 90,
    restart: 'on-failure:3',
    memory: '256m',
    cpus: 1.5,
    readOnly: true,
  };

  it('carries them in a fixed order, through render and parse', () => {
    const m = buildDeploymentManifest({ ...input(), run });
    expect(Object.keys(m.run!)).toEqual(['restart', 'memory', 'cpus', 'readOnly', 'user', 'healthTimeout']);
    const text = renderDeploymentManifest(m);
    expect(parseDeploymentManifest(text)).toEqual(m);
    expect(validateDeploymentManifest(m)).toEqual([]);
    expect(buildDeploymentManifest(input()).run).toBeUndefined();
  });

  it.each([
    ['restart', 'sometimes'],
    ['memory', '256 MB'],
    ['cpus', 0],
    ['readOnly', 'yes'],
    ['user', 'root; rm -rf /'],
    ['healthTimeout', 1.5],
    ['extra', 1],
  ])('the schema refuses run.%s = %j', (key, value) => {
    const document = { ...buildDeploymentManifest(input()), run: { [key]: value } };
    expect(validateDeploymentManifest(document).map((p) => p.path)).toContain(`run.${key}`);
  });
});
