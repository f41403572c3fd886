import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RULES,
  PolicyError,
  loadPolicy,
  parseSize,
  policyDigest,
  rulesFor,
  type Policy,
  type PolicyInputs,
} from '../../../src/policy/index.js';

const FULL = `apiVersion: edgeship/v1
kind: Policy
failOn: high
max: { critical: 0, high: 5, medium: 50, low: null, negligible: null, unknown: 10 }
onlyFixed: false
failOnKev: true
epssThreshold: 0.5
edge:
  maxImageSize: 150MB
  imageSize: fail
  nonRoot: warn
  healthcheck: warn
platforms:
  linux/arm/v7: { failOn: critical, edge: { maxImageSize: 80MB } }
waivers:
  - id: CVE-2024-1234
    package: openssl
    platforms: [linux/arm64]
    reason: "not reachable: the TLS server is disabled"
    expires: 2026-12-31
`;

const HEAD = 'apiVersion: edgeship/v1\nkind: Policy\n';

function file(text: string, path = 'policy.yml'): PolicyInputs {
  return { policyFile: { path, text } };
}

/** Loading must throw a PolicyError (never return a policy) whose message matches and has no stack trace. */
function expectPolicyError(inputs: PolicyInputs, pattern: RegExp): string {
  let policy: Policy | undefined;
  let error: unknown;
  try {
    policy = loadPolicy(inputs);
  } catch (e) {
    error = e;
  }
  expect(policy).toBeUndefined();
  expect(error).toBeInstanceOf(PolicyError);
  const message = (error as PolicyError).message;
  expect(message).toMatch(pattern);
  expect(message).not.toMatch(/\n\s+at /);
  expect(message).not.toMatch(/\bat .*\.(ts|js):\d+/);
  return message;
}

describe('loadPolicy: defaults, file and inputs', () => {
  it('uses the Edgeship defaults when nothing is set (blank inputs are not set)', () => {
    const policy = loadPolicy({ failOn: '', onlyFixed: '  ', epssThreshold: '' });
    expect(policy).toMatchObject({
      apiVersion: 'edgeship/v1',
      failOn: 'high',
      onlyFixed: false,
      failOnKev: true,
      epssThreshold: null,
      max: { critical: null, high: null, medium: null, low: null, negligible: null, unknown: null },
      edge: { maxImageSize: null, imageSize: 'fail', nonRoot: 'warn', healthcheck: 'warn' },
      platforms: {},
      waivers: [],
    });
    expect(policy.source).toContain('failOn="high": default');
    expect(policy.source).toContain('edge.imageSize="fail": default');
    expect(DEFAULT_RULES.failOn).toBe('high');
  });

  it('resolves the documented example file', () => {
    const policy = loadPolicy(file(FULL));
    expect(policy.failOn).toBe('high');
    expect(policy.max).toEqual({
      critical: 0,
      high: 5,
      medium: 50,
      low: null,
      negligible: null,
      unknown: 10,
    });
    expect(policy.epssThreshold).toBe(0.5);
    expect(policy.edge).toEqual({
      maxImageSize: 150_000_000,
      imageSize: 'fail',
      nonRoot: 'warn',
      healthcheck: 'warn',
    });
    // The arm/v7 override changes two settings and inherits the rest.
    expect(policy.platforms['linux/arm/v7']).toEqual({
      ...rulesFor(policy, 'linux/amd64'),
      failOn: 'critical',
      edge: { ...policy.edge, maxImageSize: 80_000_000 },
    });
    expect(policy.waivers).toEqual([
      {
        id: 'CVE-2024-1234',
        package: 'openssl',
        platforms: ['linux/arm64'],
        reason: 'not reachable: the TLS server is disabled',
        expires: '2026-12-31',
        index: 0,
      },
    ]);
    expect(policy.source).toContain('failOn="high": policy.yml');
    expect(policy.source).toContain('platforms["linux/arm/v7"]: failOn, edge.maxImageSize from policy.yml');
    expect(policy.source).toContain('waivers: 1 from policy.yml');
  });

  it('lets a set input override the file, including per-platform overrides, and says so in source', () => {
    const policy = loadPolicy({
      ...file(FULL),
      failOn: 'Medium',
      onlyFixed: 'TRUE',
      failOnKev: 'false',
      epssThreshold: '0.9',
      maxImageSize: '1GiB',
      imageSizeCheck: 'WARN',
      nonRootCheck: 'fail',
      healthcheckCheck: 'off',
    });
    for (const rules of [rulesFor(policy, 'linux/amd64'), rulesFor(policy, 'linux/arm/v7')]) {
      expect(rules).toMatchObject({
        failOn: 'medium',
        onlyFixed: true,
        failOnKev: false,
        epssThreshold: 0.9,
        edge: { maxImageSize: 1024 ** 3, imageSize: 'warn', nonRoot: 'fail', healthcheck: 'off' },
      });
    }
    // Settings no input touches stay as the file says.
    expect(policy.max.high).toBe(5);
    expect(policy.source).toContain(
      'failOn="medium": input "fail-on" (overrides policy.yml failOn, platforms["linux/arm/v7"].failOn)',
    );
    expect(policy.source).toContain(
      'edge.maxImageSize=1073741824: input "max-image-size" (overrides policy.yml edge.maxImageSize, platforms["linux/arm/v7"].edge.maxImageSize)',
    );
    expect(policy.source).toContain(
      'edge.healthcheck="off": input "healthcheck-check" (overrides policy.yml edge.healthcheck)',
    );
  });

  it('inputs alone work without a file', () => {
    const policy = loadPolicy({ failOn: 'none', epssThreshold: '0', maxImageSize: '150 MiB' });
    expect(policy.failOn).toBe('none');
    expect(policy.epssThreshold).toBe(0);
    expect(policy.edge.maxImageSize).toBe(157_286_400);
    expect(policy.source).toContain('failOn="none": input "fail-on"');
  });

  it('accepts case-insensitive values, integer byte sizes, null caps and a minimal file', () => {
    const policy = loadPolicy(
      file(
        `${HEAD}failOn: CRITICAL\nmax: { high: null, unknown: 0 }\nepssThreshold: null\nedge: { maxImageSize: 157286400, nonRoot: Fail }\n`,
      ),
    );
    expect(policy.failOn).toBe('critical');
    expect(policy.max.unknown).toBe(0);
    expect(policy.max.high).toBeNull();
    expect(policy.edge.maxImageSize).toBe(157_286_400);
    expect(policy.edge.nonRoot).toBe('fail');
    expect(loadPolicy(file(HEAD)).failOn).toBe('high');
  });

  it('reads expires as a string (YAML 1.2) or a Date (YAML 1.1 timestamp) the same way', () => {
    const waiver = 'waivers:\n  - id: CVE-1\n    reason: r\n    expires: 2026-12-31\n';
    const plain = loadPolicy(file(HEAD + waiver));
    const yaml11 = loadPolicy(file(`%YAML 1.1\n---\n${HEAD}${waiver}`));
    const quoted = loadPolicy(file(`${HEAD}waivers:\n  - { id: CVE-1, reason: r, expires: "2026-12-31" }\n`));
    expect(plain.waivers[0]!.expires).toBe('2026-12-31');
    expect(yaml11.waivers[0]!.expires).toBe('2026-12-31');
    expect(quoted.waivers).toEqual(plain.waivers);
  });

  it('normalises platforms in overrides and waivers (linux/arm64/v8 is linux/arm64, aarch64 → arm64)', () => {
    const policy = loadPolicy(
      file(
        `${HEAD}platforms:\n  linux/aarch64: { failOn: low }\nwaivers:\n  - { id: CVE-1, reason: r, expires: 2030-01-01, platforms: [linux/arm64/v8, LINUX/ARM64] }\n`,
      ),
    );
    expect(Object.keys(policy.platforms)).toEqual(['linux/arm64']);
    expect(rulesFor(policy, 'linux/arm64/v8').failOn).toBe('low');
    expect(rulesFor(policy, 'linux/amd64').failOn).toBe('high');
    expect(policy.waivers[0]!.platforms).toEqual(['linux/arm64']);
  });
});

describe('parseSize', () => {
  it.each([
    ['150MB', 150_000_000],
    ['150 MB', 150_000_000],
    ['150mb', 150_000_000],
    ['150 MiB', 157_286_400],
    ['150MiB', 157_286_400],
    ['157286400', 157_286_400],
    ['1.5GB', 1_500_000_000],
    ['1.5 GiB', 1_610_612_736],
    ['2KiB', 2048],
    ['1kB', 1000],
    ['1KB', 1000],
    ['0.5MB', 500_000],
    ['1TB', 1e12],
    ['512B', 512],
    [' 80MB ', 80_000_000],
  ])('%s → %d bytes', (raw, bytes) => {
    expect(parseSize(raw)).toBe(bytes);
  });

  it.each(['', 'abc', '-1MB', '150 M', '150m', '1e9', '0', '0MB', '150MBB', '1.2.3MB', 'MB', '10 parsecs'])(
    'refuses %j',
    (raw) => {
      expect(() => parseSize(raw)).toThrow(PolicyError);
      expect(() => parseSize(raw)).toThrow(/is not a size|greater than zero/);
    },
  );
});

describe('policyDigest', () => {
  it('is sha256 of the resolved rules: the same rules written differently give the same digest', () => {
    const a = loadPolicy(file(`${HEAD}failOn: high\nedge: { maxImageSize: 150MB }\nmax: { high: 5 }\n`));
    const b = loadPolicy(
      file(
        `kind: Policy\napiVersion: edgeship/v1\nmax:\n  high: 5\nedge:\n  maxImageSize: 150000000\n`,
        'other.yml',
      ),
    );
    const c = loadPolicy({ maxImageSize: '150MB', ...file(`${HEAD}max: { high: 5 }\n`) });
    expect(policyDigest(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(policyDigest(b)).toBe(policyDigest(a));
    expect(policyDigest(c)).toBe(policyDigest(a));
    expect(policyDigest(loadPolicy(file(FULL)))).toBe(policyDigest(loadPolicy(file(FULL))));
  });

  it('changes when any rule or waiver changes', () => {
    const base = policyDigest(loadPolicy(file(FULL)));
    const variants = [
      FULL.replace('failOn: high', 'failOn: critical'),
      FULL.replace('high: 5', 'high: 6'),
      FULL.replace('epssThreshold: 0.5', 'epssThreshold: 0.6'),
      FULL.replace('80MB', '81MB'),
      FULL.replace('2026-12-31', '2027-01-01'),
      FULL.replace('package: openssl', 'package: libssl3'),
    ];
    const digests = variants.map((v) => policyDigest(loadPolicy(file(v))));
    expect(new Set([base, ...digests]).size).toBe(variants.length + 1);
    expect(policyDigest(loadPolicy({ ...file(FULL), onlyFixed: 'true' }))).not.toBe(base);
  });
});

describe('bad policy files are refused with the file, the field path and the accepted form', () => {
  const W = (body: string) => `${HEAD}waivers:\n${body}`;
  const OK_WAIVER = '  - { id: CVE-1, reason: r, expires: 2030-01-01 }\n';

  it.each([
    [
      'not YAML (unclosed flow)',
      'apiVersion: [edgeship/v1\n',
      /^policy\.yml: not valid YAML: .*\(line \d+, column \d+\)/,
    ],
    ['not YAML (unterminated quote)', `${HEAD}failOn: "high\n`, /not valid YAML/],
    ['duplicate key', `${HEAD}failOn: high\nfailOn: low\n`, /not valid YAML: Map keys must be unique/],
    ['several YAML documents', `${HEAD}---\n${HEAD}`, /not valid YAML: contains several YAML documents/],
    ['empty file', '', /policy\.yml: is empty; expected a mapping with apiVersion: edgeship\/v1/],
    ['a list', '- apiVersion: edgeship/v1\n', /policy\.yml: must be a mapping .*; got a list/],
    ['a scalar', 'hello\n', /must be a mapping .*; got "hello"/],
    [
      'wrong apiVersion',
      'apiVersion: edgeship/v2\nkind: Policy\n',
      /policy\.yml: apiVersion: must be "edgeship\/v1"; got "edgeship\/v2" \(line 1\)/,
    ],
    ['missing apiVersion', 'kind: Policy\n', /policy\.yml: apiVersion: is required; expected "edgeship\/v1"/],
    ['wrong kind', 'apiVersion: edgeship/v1\nkind: policy\n', /kind: must be "Policy"; got "policy"/],
    [
      'unknown key close to a real one',
      `${HEAD}failon: high\n`,
      /policy\.yml: failon: unknown key; did you mean "failOn"\? \(line 3\)/,
    ],
    [
      'unknown key with a dash',
      `${HEAD}only-fixed: true\n`,
      /only-fixed: unknown key; did you mean "onlyFixed"\?/,
    ],
    [
      'unknown key far from all',
      `${HEAD}colour: blue\n`,
      /colour: unknown key; allowed keys here: apiVersion, kind, failOn/,
    ],
    [
      'bad failOn',
      `${HEAD}failOn: hgh\n`,
      /failOn: must be one of negligible, low, medium, high, critical, none; got "hgh"; did you mean "high"\?/,
    ],
    ['failOn a number', `${HEAD}failOn: 7\n`, /failOn: must be one of .*; got 7/],
    [
      'negative max',
      `${HEAD}max: { high: -1 }\n`,
      /max\.high: must be a whole number ≥ 0, or null for no cap; got -1/,
    ],
    [
      'fractional max',
      `${HEAD}max: { medium: 2.5 }\n`,
      /max\.medium: must be a whole number ≥ 0.*; got 2\.5/,
    ],
    [
      'max of an unknown severity',
      `${HEAD}max: { hihg: 1 }\n`,
      /max\.hihg: unknown key; did you mean "high"\?/,
    ],
    ['max as a list', `${HEAD}max: [1, 2]\n`, /max: must be a mapping of severities .*; got a list/],
    ['onlyFixed "yes"', `${HEAD}onlyFixed: yes\n`, /onlyFixed: must be true or false; got "yes" \(line 3\)/],
    ['failOnKev quoted', `${HEAD}failOnKev: "true"\n`, /failOnKev: must be true or false; got "true"/],
    [
      'epss above 1',
      `${HEAD}epssThreshold: 1.5\n`,
      /epssThreshold: must be a number from 0 to 1 \(e\.g\. 0\.5\), or null; got 1\.5/,
    ],
    [
      'epss below 0',
      `${HEAD}epssThreshold: -0.1\n`,
      /epssThreshold: must be a number from 0 to 1.*; got -0\.1/,
    ],
    ['epss a word', `${HEAD}epssThreshold: high\n`, /epssThreshold: must be a number.*; got "high"/],
    [
      'bad size',
      `${HEAD}edge: { maxImageSize: 150 megs }\n`,
      /edge\.maxImageSize: must be a size such as 150MB, 150 MiB, 1\.5GB.*; got "150 megs"/,
    ],
    ['zero size', `${HEAD}edge: { maxImageSize: 0 }\n`, /edge\.maxImageSize: must be a size .*; got 0/],
    [
      'ambiguous size unit',
      `${HEAD}edge: { maxImageSize: 150M }\n`,
      /edge\.maxImageSize: must be a size .*; got "150M"/,
    ],
    [
      'bad check mode',
      `${HEAD}edge:\n  nonRoot: wanr\n`,
      /edge\.nonRoot: must be one of fail, warn, off; got "wanr"; did you mean "warn"\? \(line 4\)/,
    ],
    [
      'unknown edge key',
      `${HEAD}edge: { maxSize: 1MB }\n`,
      /edge\.maxSize: unknown key; allowed keys here: maxImageSize, imageSize, nonRoot, healthcheck \(line 3\)/,
    ],
    [
      'bad platform key',
      `${HEAD}platforms:\n  linux/arm/v9: { failOn: low }\n`,
      /platforms\["linux\/arm\/v9"\]: is not a platform: .*unknown variant "v9" for arm.*\(line 4\)/,
    ],
    [
      'platform key without os',
      `${HEAD}platforms:\n  arm64: { failOn: low }\n`,
      /platforms\.arm64: is not a platform: "arm64" is not of the form os\/arch/,
    ],
    [
      'the same platform twice',
      `${HEAD}platforms:\n  linux/arm64: {}\n  linux/arm64/v8: {}\n`,
      /platforms\["linux\/arm64\/v8"\]: is the same platform as "linux\/arm64"/,
    ],
    [
      'waivers in a platform override',
      `${HEAD}platforms:\n  linux/arm64: { waivers: [] }\n`,
      /platforms\["linux\/arm64"\]\.waivers: unknown key; a platform override can only set failOn, max/,
    ],
    [
      'platform override not a mapping',
      `${HEAD}platforms:\n  linux/arm64: critical\n`,
      /platforms\["linux\/arm64"\]: must be a mapping of rule overrides .*; got "critical"/,
    ],
    ['platforms a list', `${HEAD}platforms: [linux/arm64]\n`, /platforms: must be a mapping of platforms/],
    [
      'waivers not a list',
      `${HEAD}waivers: { id: CVE-1 }\n`,
      /waivers: must be a list of waivers; got a mapping/,
    ],
    [
      'waiver without reason',
      W('  - { id: CVE-1, expires: 2030-01-01 }\n'),
      /waivers\[0\]\.reason: is required; expected a non-empty text/,
    ],
    [
      'waiver with an empty reason',
      W('  - { id: CVE-1, reason: "  ", expires: 2030-01-01 }\n'),
      /waivers\[0\]\.reason: must be a non-empty text .*; got an empty string/,
    ],
    [
      'waiver without expires',
      W('  - { id: CVE-1, reason: r }\n'),
      /waivers\[0\]\.expires: is required; expected a date \(YYYY-MM-DD\)/,
    ],
    [
      'waiver with an impossible date',
      W(OK_WAIVER + OK_WAIVER + '  - { id: CVE-1, reason: r, expires: 2026-02-30 }\n'),
      /^policy\.yml: waivers\[2\]\.expires: must be a date \(YYYY-MM-DD\); got "2026-02-30" \(line 6\)$/,
    ],
    [
      'waiver with a European date',
      W('  - { id: CVE-1, reason: r, expires: 31/12/2026 }\n'),
      /waivers\[0\]\.expires: must be a date \(YYYY-MM-DD\); got "31\/12\/2026"/,
    ],
    [
      'waiver with a date and time (YAML 1.1)',
      `%YAML 1.1\n---\n${W('  - { id: CVE-1, reason: r, expires: 2026-12-31T10:00:00Z }\n')}`,
      /waivers\[0\]\.expires: must be a date \(YYYY-MM-DD\); got "2026-12-31T10:00:00\.000Z"/,
    ],
    [
      'waiver with a numeric expiry',
      W('  - { id: CVE-1, reason: r, expires: 20261231 }\n'),
      /waivers\[0\]\.expires: must be a date \(YYYY-MM-DD\); got 20261231/,
    ],
    [
      'waiver without id',
      W('  - { reason: r, expires: 2030-01-01 }\n'),
      /waivers\[0\]\.id: is required; expected a vulnerability id/,
    ],
    [
      'waiver with a bad platform',
      W('  - { id: CVE-1, reason: r, expires: 2030-01-01, platforms: [linux/arm65] }\n'),
      /waivers\[0\]\.platforms\[0\]: is not a platform: .*unknown architecture "arm65"/,
    ],
    [
      'waiver with no platforms',
      W('  - { id: CVE-1, reason: r, expires: 2030-01-01, platforms: [] }\n'),
      /waivers\[0\]\.platforms: must be a non-empty list of platforms; got an empty list/,
    ],
    [
      'waiver with a misspelt key',
      W('  - { id: CVE-1, reason: r, expiry: 2030-01-01 }\n'),
      /waivers\[0\]\.expiry: unknown key; did you mean "expires"\?/,
    ],
    [
      'waiver with an empty package',
      W('  - { id: CVE-1, reason: r, expires: 2030-01-01, package: "" }\n'),
      /waivers\[0\]\.package: must be a package name; got an empty string/,
    ],
  ] as Array<[string, string, RegExp]>)('%s', (_name, text, pattern) => {
    expectPolicyError(file(text), pattern);
  });

  it('lists every problem of a file, one line each with its path', () => {
    const message = expectPolicyError(
      file(
        `apiVersion: edgeship/v2\nkind: Policy\nfailOn: hgh\nmax: { high: -1 }\nwaivers:\n  - { id: CVE-1 }\n`,
      ),
      /^policy\.yml: 5 problems:\n/,
    );
    const lines = message.split('\n').slice(1);
    expect(lines).toHaveLength(5);
    expect(lines.every((l) => l.startsWith('  policy.yml: '))).toBe(true);
    expect(message).toMatch(/apiVersion: must be "edgeship\/v1"/);
    expect(message).toMatch(/failOn: must be one of/);
    expect(message).toMatch(/max\.high: must be a whole number/);
    expect(message).toMatch(/waivers\[0\]\.reason: is required/);
    expect(message).toMatch(/waivers\[0\]\.expires: is required/);
  });

  it('names the file by the path it was given', () => {
    expectPolicyError(
      file(`${HEAD}failOn: hgh\n`, '.github/edgeship.yml'),
      /^\.github\/edgeship\.yml: failOn: /,
    );
  });
});

describe('bad inputs are refused naming the input, the value and the expected form', () => {
  it.each([
    [
      { failOn: 'hgh' },
      'Input "fail-on": "hgh" is not valid; expected one of negligible, low, medium, high, critical, none',
    ],
    [{ failOn: 'severe' }, 'Input "fail-on": "severe" is not valid; expected one of negligible'],
    [{ onlyFixed: 'yes' }, 'Input "only-fixed": "yes" is not valid; expected true or false'],
    [{ failOnKev: '1' }, 'Input "fail-on-kev": "1" is not valid; expected true or false'],
    [{ epssThreshold: '1.5' }, 'Input "epss-threshold": "1.5" is not valid; expected a number from 0 to 1'],
    [{ epssThreshold: '-0.1' }, 'Input "epss-threshold": "-0.1" is not valid; expected a number from 0 to 1'],
    [{ epssThreshold: '50%' }, 'Input "epss-threshold": "50%" is not valid; expected a number from 0 to 1'],
    [
      { maxImageSize: '10 parsecs' },
      'Input "max-image-size": "10 parsecs" is not valid; expected a number of bytes or a number with a unit',
    ],
    [{ maxImageSize: '0' }, 'Input "max-image-size": "0" is not valid; expected a number of bytes'],
    [
      { imageSizeCheck: 'block' },
      'Input "image-size-check": "block" is not valid; expected one of fail, warn, off',
    ],
    [
      { nonRootCheck: 'fial' },
      'Input "non-root-check": "fial" is not valid; expected one of fail, warn, off (did you mean "fail"?)',
    ],
    [
      { healthcheckCheck: 'warning' },
      'Input "healthcheck-check": "warning" is not valid; expected one of fail, warn, off',
    ],
  ] as Array<[PolicyInputs, string]>)('%j', (inputs, message) => {
    const escaped = message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expectPolicyError(inputs, new RegExp(`^${escaped}`));
    // Also with a valid file: the input is still reported.
    expectPolicyError({ ...inputs, ...file(FULL) }, new RegExp(`^${escaped}`));
  });
});
