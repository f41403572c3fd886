/**
 * Real verifiers over real releases: what an edge device or a cluster runs, from Debian 13's packages
 * (cosign 2.5, oras 1.2, skopeo 1.18 through its own loader; see harness/verifiers.ts), and cosign 3 and the
 * GitHub CLI (`gh attestation verify`) built from their Go modules (harness/go-tools.ts).
 *
 * Releases are published in-process (publishRelease, as the publish job runs it) into a real registry
 * (distribution 2.8: TLS + htpasswd, no referrers API) and signed with the local Sigstore (Fulcio, Rekor,
 * TSA over loopback HTTP), in each `signature-format`, keyless and with a key. The images are small
 * two-platform images pushed here (the build is not what this suite is about). The `both` release also
 * stores its provenance and SBOM bundles with a GitHub API stand-in (artifact attestations), which serves them
 * back to gh as GitHub does.
 *
 * Run: npx vitest run --project e2e test/e2e/verifiers.test.ts
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseDeploymentManifest, type DeploymentManifest } from '../../src/deployment/manifest.js';
import { parsePlatform } from '../../src/image/platform.js';
import { resolvePlatformImage, type PlatformImage } from '../../src/image/pushed-image.js';
import type { GateResult } from '../../src/policy/decide.js';
import { evaluateGate, loadPolicy, type Policy } from '../../src/policy/index.js';
import { provenanceRun, slsaProvenance } from '../../src/provenance/slsa.js';
import { expectedSignerFor, signerConfig } from '../../src/publish/publish-deps.js';
import { publishRelease, type PublishResult } from '../../src/publish/release.js';
import { RegistryClient } from '../../src/registry/client.js';
import { resolverFromInputs } from '../../src/registry/credentials.js';
import { digestOf } from '../../src/registry/digest.js';
import { OCI_IMAGE_CONFIG, OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from '../../src/registry/media-types.js';
import { fallbackTag } from '../../src/registry/referrer-manifest.js';
import { releaseMetadata } from '../../src/release/metadata.js';
import { parseGrypeReport } from '../../src/scan/grype-report.js';
import type { PlatformScan } from '../../src/scan/scan-platforms.js';
import { countSbomPackages } from '../../src/scan/sbom.js';
import { githubAttestationStore } from '../../src/github/attestations.js';
import { readSettings } from '../../src/settings/inputs.js';
import { classicTag, parseClassicManifest } from '../../src/sign/classic-format.js';
import { CYCLONEDX_PREDICATE_TYPE, SPDX_PREDICATE_TYPE } from '../../src/sign/predicates.js';
import { trustMaterialFromJSON } from '../../src/sign/verify.js';
import { fixturePath } from '../shared-fixtures.js';
import { memoryLog } from '../unit/helpers/memory-host.js';
import { PROJECT_ROOT } from './harness/action-runner.js';
import { startGitHubApiStandIn, type GitHubApiStandIn } from './harness/github-api.js';
import { ensureHostTools } from './harness/host-tools.js';
import { startOidcTokenEndpoint } from './harness/oidc-issuer.js';
import { startRegistry, type TestRegistry } from './harness/registry.js';
import { GITHUB_ACTIONS_ISSUER, startSigstoreStack, type SigstoreStack } from './harness/sigstore-stack.js';
import {
  cosignTrust,
  describeRun,
  githubActionsClaims,
  goVerifier,
  runTool,
  verifierTools,
  type CosignTrust,
  type VerifierTools,
} from './harness/verifiers.js';

const IDENTITY = 'https://github.com/acme/edge-agent/.github/workflows/release.yml@refs/tags/v1.2.3';
const OTHER_IDENTITY = 'https://github.com/mallory/fork/.github/workflows/release.yml@refs/tags/v1.2.3';
/** An e-mail identity (what containers/image's `fulcio.subjectEmail` pins), from an e-mail OIDC issuer. */
const EMAIL = 'release@acme.example';
const OTHER_EMAIL = 'mallory@acme.example';
const EMAIL_ISSUER = 'https://oauth2.sigstore.dev/auth';
const PLATFORMS = ['linux/amd64', 'linux/arm64'];
const SBOM_FIXTURE = 'syft/spdx-json/alpine-latest_syft-0.57.0_spdx-2.2.json';
const REPORT_FIXTURE = 'grype/json/klass-web_wolfi_arm64_grype-0.114.0_zero-matches.json';
const SIGN_TYPE = 'https://sigstore.dev/cosign/sign/v1';
/** A Grype report with findings (busybox 1.32.1): the triaged release waives them all, so it ships OpenVEX. */
const TRIAGED_REPORT_FIXTURE = 'grype/json/defectdojo_busybox-1.32.1_amd64_grype-0.94.0_epss.json';
/** The GitHub repository whose workflow signs the releases (IDENTITY); the stand-in serves its attestations. */
const GITHUB_REPOSITORY = 'acme/edge-agent';

const SLSA = 'https://slsa.dev/provenance/v1';
const DEPLOYMENT = 'https://edgeship.dev/deployment-manifest/v1';
const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const OPENVEX = 'https://openvex.dev/ns/v0.2.0';
/**
 * The predicates each platform image carries in the triaged release, with cosign's `--type` name where it has one.
 * OpenVEX has none: cosign's `openvex` means `https://openvex.dev/ns`, Edgeship's predicate type is the document's
 * versioned @context (as vexctl and Trivy read it).
 */
const COSIGN_TYPE_NAMES: Record<string, string> = {
  'https://spdx.dev/Document': 'spdxjson',
  'https://cosign.sigstore.dev/attestation/vuln/v1': 'vuln',
  [SLSA]: 'slsaprovenance1',
  [OPENVEX]: OPENVEX,
};
/** What Edgeship stores as GitHub artifact attestations (src/publish/github-attestations.ts). */
const GITHUB_STORED = new Set([SLSA, SPDX_PREDICATE_TYPE, CYCLONEDX_PREDICATE_TYPE]);

/** cosign 3 and gh from their Go modules (built once per machine by .ci/run; CI=true: an error when missing). */
const cosign3Tool = await goVerifier('cosign3', (line) => console.log(`  cosign3: ${line}`));
if ('reason' in cosign3Tool) console.log(`cosign 3 cases skipped: ${cosign3Tool.reason}`);
const ghTool = await goVerifier('gh', (line) => console.log(`  gh: ${line}`));
if ('reason' in ghTool) console.log(`gh cases skipped: ${ghTool.reason}`);

/** Keyless with `issuer`: an e-mail identity (the token's verified `email` claim), pinned by certificate-identity. */
type Signing = { kind: 'keyless'; identity: string; issuer?: string } | { kind: 'key'; pem: string };

interface ReleaseOptions {
  /** SLSA provenance of each image (and so of the index). */
  provenance?: boolean;
  /** Findings waived by the policy: the release ships an OpenVEX attestation per platform. */
  triage?: boolean;
  /** Store the provenance and SBOM bundles as GitHub artifact attestations (required) with this stand-in. */
  github?: GitHubApiStandIn;
}

interface Release {
  repo: string;
  /** `host/repo`. */
  image: string;
  result: PublishResult;
  manifest: DeploymentManifest;
  dir: string;
}

describe('real verifiers (cosign 2.5, skopeo 1.18, oras 1.2, cosign 3, gh) over Edgeship releases', () => {
  let tools: VerifierTools;
  let github: GitHubApiStandIn;
  let reg: TestRegistry;
  let stack: SigstoreStack;
  let trust: CosignTrust;
  let scratch: string;
  let keyPem: string;
  let publicKeyFile: string;
  let otherKeyPem: string;
  let otherPublicKeyFile: string;
  const stops: Array<() => Promise<unknown>> = [];
  const releases = new Map<string, Release>();

  beforeAll(async () => {
    // Independent: fetched/unpacked tools, the registry, the local Sigstore and the GitHub API stand-in.
    const [unpacked, registry, sigstore, api] = await Promise.all([
      ensureHostTools().then(() => verifierTools()),
      startRegistry(),
      startSigstoreStack(),
      startGitHubApiStandIn({ repository: GITHUB_REPOSITORY }),
    ]);
    tools = unpacked;
    reg = registry;
    stops.push(() => reg.stop());
    stack = sigstore;
    stops.push(() => stack.stop());
    github = api;
    stops.push(() => github.stop());
    scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-verifiers-'));
    stops.push(() => rm(scratch, { recursive: true, force: true }));
    trust = await cosignTrust(path.join(scratch, 'trust'), stack.trustedRoot, reg);
    const keys = (name: string) => {
      const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      return {
        pem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        pub: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
        file: path.join(scratch, `${name}.pub`),
      };
    };
    const key = keys('cosign');
    const other = keys('other');
    keyPem = key.pem;
    otherKeyPem = other.pem;
    publicKeyFile = key.file;
    otherPublicKeyFile = other.file;
    await writeFile(key.file, key.pub);
    await writeFile(other.file, other.pub);

    // The releases every test reads (each in its own repository).
    // [repository, signature-format, signer, options]
    const plan: Array<[string, string, Signing, ReleaseOptions?]> = [
      [
        'acme/both',
        'both',
        { kind: 'keyless', identity: IDENTITY },
        { provenance: true, triage: true, github },
      ],
      ['acme/classic', 'classic', { kind: 'keyless', identity: IDENTITY }],
      ['acme/bundle', 'bundle', { kind: 'keyless', identity: IDENTITY }],
      ['acme/tampered-bundle', 'bundle', { kind: 'keyless', identity: IDENTITY }],
      ['acme/tampered', 'classic', { kind: 'keyless', identity: IDENTITY }],
      ['acme/keyed', 'both', { kind: 'key', pem: keyPem }, { provenance: true }],
      ['acme/keyed-classic', 'classic', { kind: 'key', pem: keyPem }],
      ['acme/other-key', 'classic', { kind: 'key', pem: otherKeyPem }],
      ['acme/other-identity', 'classic', { kind: 'keyless', identity: OTHER_IDENTITY }],
      ['acme/email', 'both', { kind: 'keyless', identity: EMAIL, issuer: EMAIL_ISSUER }],
      ['acme/other-email', 'classic', { kind: 'keyless', identity: OTHER_EMAIL, issuer: EMAIL_ISSUER }],
    ];
    // Each release is its own repository, OIDC endpoint and workspace: published side by side.
    const published = await Promise.all(
      plan.map(([repo, format, signing, options]) => publish(repo, format, signing, options)),
    );
    for (const r of published) releases.set(r.repo, r);
  }, 15 * 60_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  /** Pushes two small images into `repo` and publishes them as v1.2.3 in `format`. */
  async function publish(
    repo: string,
    format: string,
    signing: Signing,
    options: ReleaseOptions = {},
  ): Promise<Release> {
    const { provenance = false, triage = false } = options;
    const dir = await mkdtemp(path.join(scratch, `${repo.replace('/', '-')}-`));
    const ca = await readFile(reg.caFile, 'utf8');
    const credentials = resolverFromInputs(reg.host, reg.username, reg.password);
    const client = new RegistryClient({ registry: reg.host, credentials, ca });
    stops.push(() => client.close());
    const images: PlatformImage[] = [];
    for (const platform of PLATFORMS) {
      const digest = await pushImage(client, repo, platform);
      images.push(await resolvePlatformImage(client, repo, digest, parsePlatform(platform)));
    }
    const policy = triage ? waivingPolicy() : loadPolicy({});
    const gate = await passingGate(images, dir, policy, triage ? TRIAGED_REPORT_FIXTURE : REPORT_FIXTURE);
    await writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
    const oidc = await startOidcTokenEndpoint(() =>
      signing.kind === 'keyless' && signing.issuer
        ? stack.oidcToken(signing.identity, {
            iss: signing.issuer,
            email: signing.identity,
            email_verified: true,
          })
        : // A GitHub Actions token: the certificate gets the workflow extensions gh checks.
          stack.oidcToken(
            signing.kind === 'keyless' ? signing.identity : IDENTITY,
            githubActionsClaims(signing.kind === 'keyless' ? signing.identity : IDENTITY),
          ),
    );
    stops.push(() => oidc.stop());
    const inputs: Record<string, string> = {
      image: `${reg.host}/${repo}`,
      platforms: PLATFORMS.join(','),
      'registry-username': reg.username,
      'registry-password': reg.password,
      'registry-ca-file': reg.caFile,
      signing: signing.kind,
      ...(signing.kind === 'key' ? { 'signing-key': signing.pem } : {}),
      // Verify-after-publish pins the e-mail identity and its issuer.
      ...(signing.kind === 'keyless' && signing.issuer
        ? { 'certificate-identity': signing.identity, 'certificate-oidc-issuer': signing.issuer }
        : {}),
      'signature-format': format,
      'fulcio-url': stack.fulcioURL,
      'rekor-url': stack.rekorURL,
      'tsa-url': stack.tsaURL,
      'trusted-root': trust.trustedRootFile,
      'release-assets': 'off',
    };
    const settings = readSettings((name) => inputs[name] ?? '', { workspace: dir });
    const signer = signerConfig(settings, oidc.env)!;
    const ref = 'refs/tags/v1.2.3';
    const revision = '0123456789abcdef0123456789abcdef01234567';
    const result = await publishRelease(
      {
        settings,
        policy,
        release: releaseMetadata({
          ref,
          sha: revision,
          repository: repo,
          serverUrl: 'https://github.com',
          now: new Date(),
        }),
        images,
        gate,
        git: { ref, revision, workflowRun: 'https://github.com/acme/edge-agent/actions/runs/4242' },
        reportsDir: dir,
        ...(provenance ? { provenance: provenanceOf(images, ref, revision) } : {}),
      },
      {
        registry: client,
        log: memoryLog(),
        signer,
        expectedSigner: expectedSignerFor(settings, signer),
        trustMaterial: async () => trustMaterialFromJSON(stack.trustedRoot),
        ...(options.github
          ? {
              githubAttestations: {
                mode: 'required' as const,
                store: githubAttestationStore(
                  {
                    apiUrl: options.github.apiUrl,
                    token: options.github.token,
                    repository: GITHUB_REPOSITORY,
                  },
                  () => undefined,
                ),
              },
            }
          : {}),
        readText: (file) => readFile(file, 'utf8'),
        writeText: (file, text) => writeFile(file, text),
        now: () => new Date(),
      },
    );
    const manifest = parseDeploymentManifest(await readFile(result.manifestFile, 'utf8'));
    return { repo, image: `${reg.host}/${repo}`, result, manifest, dir };
  }

  const release = (repo: string): Release => releases.get(repo)!;
  const subjects = (r: Release) => [r.result.indexDigest, ...r.manifest.platforms.map((p) => p.digest)];
  const keyless = ['--certificate-identity', IDENTITY, '--certificate-oidc-issuer', GITHUB_ACTIONS_ISSUER];

  async function cosign(args: string[]): Promise<{ ok: boolean; text: string }> {
    // Commands that read the registry get its CA; verify-blob-attestation reads only files.
    const registry = args[0] === 'verify-blob-attestation' ? [] : ['--registry-cacert', reg.caFile];
    const argv = [tools.cosign, ...args, ...registry];
    const result = await runTool(argv, trust.env);
    return { ok: result.exitCode === 0, text: describeRun(argv, result) };
  }

  async function expectCosign(args: string[]): Promise<void> {
    const run = await cosign(args);
    expect(run.ok, run.text).toBe(true);
  }

  /** Independent cosign 2.5 verifications, side by side; each must pass. */
  async function expectCosignAll(runs: string[][]): Promise<void> {
    for (const run of await Promise.all(runs.map((args) => cosign(args))))
      expect(run.ok, run.text).toBe(true);
  }

  async function expectCosignFails(args: string[], pattern?: RegExp): Promise<string> {
    const run = await cosign(args);
    expect(run.ok, run.text).toBe(false);
    if (pattern) expect(run.text).toMatch(pattern);
    return run.text;
  }

  // -------------------------------------------------------------------------------------------------
  // cosign 2.5

  it('classic alone: cosign 2.5 verifies the index and each platform (keyless)', async () => {
    const r = release('acme/classic');
    for (const digest of subjects(r)) await expectCosign(['verify', `${r.image}@${digest}`, ...keyless]);
  });

  it('bundle alone: cosign 2.5 finds no classic signature (what the issue reported)', async () => {
    const r = release('acme/bundle');
    await expectCosignFails(
      ['verify', `${r.image}@${r.result.indexDigest}`, ...keyless],
      /no signatures found/,
    );
  });

  it('both: cosign verify, and verify-attestation of every attestation the deployment manifest lists, in each format', async () => {
    const r = release('acme/both');
    expect(r.manifest.signatures.format).toBe('both');
    const classic = (r.manifest.signatures.classic ?? []).filter((c) => c.predicateType !== SIGN_TYPE);
    const bundles = r.manifest.signatures.bundles.filter((b) => b.predicateType !== SIGN_TYPE);
    // At least the SBOM and the vulnerability scan of each platform (the deployment manifest's own attestation
    // is made after it, below); every other predicate the manifest lists (provenance, VEX…) is verified too.
    for (const listed of [classic, bundles]) {
      expect(listed.filter((e) => e.predicateType === 'https://slsa.dev/provenance/v1')).toHaveLength(
        1 + PLATFORMS.length,
      );
      for (const p of r.manifest.platforms) {
        const types = listed.filter((e) => e.subject === p.digest).map((e) => e.predicateType);
        expect(types).toEqual(
          expect.arrayContaining([
            'https://spdx.dev/Document',
            'https://cosign.sigstore.dev/attestation/vuln/v1',
          ]),
        );
      }
    }
    for (const c of classic) expect(c.tag).toBe(classicTag(c.subject, 'att'));
    // The deployment manifest's attestation on the index, in both formats.
    const deployment = 'https://edgeship.dev/deployment-manifest/v1';
    const index = `${r.image}@${r.result.indexDigest}`;
    const bundleFormat = ['--new-bundle-format', '--trusted-root', trust.trustedRootFile];
    // Independent checks, side by side.
    await expectCosignAll([
      ...subjects(r).map((digest) => ['verify', `${r.image}@${digest}`, ...keyless]),
      ...classic.map((c) => [
        'verify-attestation',
        '--type',
        c.predicateType,
        `${r.image}@${c.subject}`,
        ...keyless,
      ]),
      ...bundles.map((b) => [
        'verify-attestation',
        ...bundleFormat,
        '--type',
        b.predicateType,
        `${r.image}@${b.subject}`,
        ...keyless,
      ]),
      ['verify-attestation', '--type', deployment, index, ...keyless],
      ['verify-attestation', ...bundleFormat, '--type', deployment, index, ...keyless],
    ]);
  });

  it('key signing: cosign verify --key and verify-attestation --key, classic and bundle', async () => {
    for (const repo of ['acme/keyed', 'acme/keyed-classic']) {
      const r = release(repo);
      expect(r.manifest.signatures.mode).toBe('key');
      const classic = (r.manifest.signatures.classic ?? []).filter((c) => c.predicateType !== SIGN_TYPE);
      await expectCosignAll([
        ...subjects(r).map((digest) => ['verify', '--key', publicKeyFile, `${r.image}@${digest}`]),
        ...classic.map((c) => [
          'verify-attestation',
          '--key',
          publicKeyFile,
          '--type',
          c.predicateType,
          `${r.image}@${c.subject}`,
        ]),
      ]);
      // Key-signed bundles (the one DSSE envelope the classic layer above carries, so the signature is
      // good): cosign 2.5's --new-bundle-format --key path does not accept them ("could not verify envelope:
      // accepted signatures do not match threshold"); devices on cosign 2 verify key-signed releases through
      // the classic format. Recorded here so a cosign update that changes it is noticed.
      for (const b of r.manifest.signatures.bundles.filter((b) => b.predicateType !== SIGN_TYPE)) {
        await expectCosignFails(
          [
            'verify-attestation',
            '--new-bundle-format',
            '--trusted-root',
            trust.trustedRootFile,
            '--key',
            publicKeyFile,
            '--type',
            b.predicateType,
            `${r.image}@${b.subject}`,
          ],
          /could not verify envelope/,
        );
      }
      // Another key does not verify it.
      await expectCosignFails(['verify', '--key', otherPublicKeyFile, `${r.image}@${r.result.indexDigest}`]);
    }
  });

  it('the deployment manifest: verify-blob-attestation passes; a tampered file and a wrong identity fail', async () => {
    const r = release('acme/both');
    const bundle = r.result.manifestBundleFile!;
    const args = (file: string, identity = IDENTITY) => [
      'verify-blob-attestation',
      '--new-bundle-format',
      '--trusted-root',
      trust.trustedRootFile,
      '--bundle',
      bundle,
      '--type',
      'https://edgeship.dev/deployment-manifest/v1',
      '--certificate-identity',
      identity,
      '--certificate-oidc-issuer',
      GITHUB_ACTIONS_ISSUER,
      file,
    ];
    await expectCosign(args(r.result.manifestFile));
    const tampered = path.join(r.dir, 'tampered.yaml');
    await writeFile(tampered, (await readFile(r.result.manifestFile, 'utf8')).replace('1.2.3', '6.6.6'));
    await expectCosignFails(args(tampered));
    await expectCosignFails(args(r.result.manifestFile, OTHER_IDENTITY));
  });

  it('a wrong identity and a tampered classic payload fail cosign verify', async () => {
    const r = release('acme/classic');
    const index = `${r.image}@${r.result.indexDigest}`;
    await expectCosignFails([
      'verify',
      index,
      '--certificate-identity',
      OTHER_IDENTITY,
      '--certificate-oidc-issuer',
      GITHUB_ACTIONS_ISSUER,
    ]);
    // Signed by another workflow: the right identity finds nothing of its own.
    const other = release('acme/other-identity');
    await expectCosignFails(['verify', `${other.image}@${other.result.indexDigest}`, ...keyless]);
    // Tamper: the index's .sig tag gets a payload with one byte changed, the signature annotations kept.
    const tamperedRepo = release('acme/tampered');
    await tamperClassicPayload(tamperedRepo);
    await expectCosignFails([
      'verify',
      `${tamperedRepo.image}@${tamperedRepo.result.indexDigest}`,
      ...keyless,
    ]);
  });

  // -------------------------------------------------------------------------------------------------
  // skopeo 1.18 (containers/image: podman, CRI-O, bootc read the same policy)

  /** A sigstoreSigned requirement for a signature by the key in `keyFile`. */
  const keyRequirement = (keyFile: string) => ({
    type: 'sigstoreSigned',
    keyPath: keyFile,
    signedIdentity: { type: 'matchRepository' },
  });

  /** A keyless sigstoreSigned requirement: a local Fulcio certificate from `oidcIssuer`, logged in the local Rekor. */
  const fulcioRequirement = (oidcIssuer: string, subjectEmail?: string) => ({
    type: 'sigstoreSigned',
    fulcio: { caPath: trust.fulcioRootPem, oidcIssuer, ...(subjectEmail ? { subjectEmail } : {}) },
    rekorPublicKeyPath: trust.rekorKeyPem,
    signedIdentity: { type: 'matchRepository' },
  });

  /** policy.json requiring `requirement` for the whole registry, and registries.d. */
  async function containersPolicy(requirement: object): Promise<string[]> {
    const dir = await mkdtemp(path.join(scratch, 'policy-'));
    const policy = {
      default: [{ type: 'reject' }],
      transports: {
        // cosign's simple signing payload names the repository without tag or digest, which the default
        // matchRepoDigestOrExact refuses: matchRepository accepts it.
        docker: { [reg.host]: [requirement] },
        oci: { '': [{ type: 'insecureAcceptAnything' }] },
      },
    };
    await writeFile(path.join(dir, 'policy.json'), JSON.stringify(policy));
    await writeFile(
      path.join(dir, 'registries.yaml'),
      `docker:\n  ${reg.host}:\n    use-sigstore-attachments: true\n`,
    );
    return ['--policy', path.join(dir, 'policy.json'), '--registries.d', dir];
  }

  async function skopeoCopy(reference: string, requirement: object): Promise<{ ok: boolean; text: string }> {
    const target = await mkdtemp(path.join(scratch, 'copy-'));
    const argv = [
      ...tools.skopeo,
      ...(await containersPolicy(requirement)),
      'copy',
      '--all',
      // The policy is checked on the source; an OCI layout cannot store the signatures themselves.
      '--remove-signatures',
      '--src-cert-dir',
      reg.certDir,
      '--src-authfile',
      reg.authFile,
      `docker://${reference}`,
      `oci:${target}:release`,
    ];
    const result = await runTool(argv);
    return { ok: result.exitCode === 0, text: describeRun(argv, result) };
  }

  it('skopeo 1.18 with a sigstoreSigned keyPath policy copies the key-signed release (--all), classic alone and both', async () => {
    for (const repo of ['acme/keyed-classic', 'acme/keyed']) {
      const r = release(repo);
      const copy = await skopeoCopy(`${r.image}@${r.result.indexDigest}`, keyRequirement(publicKeyFile));
      expect(copy.ok, copy.text).toBe(true);
    }
  });

  /** An unsigned image (pushed once, by digest). */
  let unsignedImage: string | undefined;
  async function unsigned(): Promise<string> {
    if (unsignedImage) return unsignedImage;
    const ca = await readFile(reg.caFile, 'utf8');
    const credentials = resolverFromInputs(reg.host, reg.username, reg.password);
    const client = new RegistryClient({ registry: reg.host, credentials, ca });
    try {
      unsignedImage = `${reg.host}/acme/unsigned@${await pushImage(client, 'acme/unsigned', 'linux/amd64')}`;
    } finally {
      await client.close();
    }
    return unsignedImage;
  }

  it('skopeo 1.18 refuses an unsigned image and one signed by another key', async () => {
    const refusals = [
      await unsigned(),
      `${release('acme/other-key').image}@${release('acme/other-key').result.indexDigest}`,
    ];
    for (const reference of refusals) {
      const copy = await skopeoCopy(reference, keyRequirement(publicKeyFile));
      expect(copy.ok, copy.text).toBe(false);
      expect(copy.text).toMatch(/Source image rejected/);
    }
  });

  it('skopeo 1.18 with a keyless fulcio + rekorPublicKeyPath policy copies a release signed by an e-mail identity (--all), and refuses an unsigned image and another identity', async () => {
    const requirement = fulcioRequirement(EMAIL_ISSUER, EMAIL);
    const r = release('acme/email');
    // Edgeship's own verify-after-publish accepted it with certificate-identity set to the e-mail address.
    expect(r.manifest.signatures).toMatchObject({ mode: 'keyless', identity: EMAIL, issuer: EMAIL_ISSUER });
    const good = await skopeoCopy(`${r.image}@${r.result.indexDigest}`, requirement);
    expect(good.ok, good.text).toBe(true);
    const other = release('acme/other-email');
    const refusals = [await unsigned(), `${other.image}@${other.result.indexDigest}`];
    for (const reference of refusals) {
      const copy = await skopeoCopy(reference, requirement);
      expect(copy.ok, copy.text).toBe(false);
      expect(copy.text).toMatch(/Source image rejected/);
      // The other identity's certificate is refused for its e-mail address.
      if (reference === refusals[1]) expect(copy.text).toContain(OTHER_EMAIL);
    }
  });

  it('skopeo 1.18 cannot pin a keyless workflow identity: its fulcio requirement needs subjectEmail', async () => {
    const r = release('acme/classic');
    const copy = await skopeoCopy(
      `${r.image}@${r.result.indexDigest}`,
      fulcioRequirement(GITHUB_ACTIONS_ISSUER),
    );
    expect(copy.ok, copy.text).toBe(false);
    expect(copy.text).toMatch(/subjectEmail/);
  });

  // -------------------------------------------------------------------------------------------------
  // The README's device commands, run as written (the registry, root and identity substituted)

  /** The fenced block after `<!-- device-verify: NAME -->` in the README. */
  async function readmeBlock(name: string): Promise<string> {
    const readme = await readFile(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    const marker = `<!-- device-verify: ${name} -->`;
    const at = readme.indexOf(marker);
    expect(at, `README.md has no ${marker}`).toBeGreaterThan(-1);
    const block = /```[a-z]*\n([\s\S]*?)\n```/.exec(readme.slice(at));
    expect(block, `no fenced block after ${marker}`).not.toBeNull();
    return block![1]!;
  }

  it("the README's cosign 2 commands pass on a release, and fail for another identity", async () => {
    const r = release('acme/both');
    const readmeBlockText = await readmeBlock('cosign2');
    const script = (identity: string) =>
      readmeBlockText
        .replace(/^REPO=.*$/m, `REPO='${r.image}'`)
        .replace(/^VERSION=.*$/m, 'VERSION=1.2.3')
        .replace(/^IDENTITY=.*$/m, `IDENTITY='${identity}'`)
        // The local Sigstore's root instead of the public-good one cosign fetches through TUF.
        .replace(
          /cosign verify-blob-attestation --new-bundle-format/g,
          `cosign verify-blob-attestation --new-bundle-format --trusted-root '${trust.trustedRootFile}'`,
        );
    const env = {
      ...trust.env,
      PATH: `${path.dirname(tools.cosign)}:${process.env.PATH ?? ''}`,
      // Go reads the registry's CA from here (the commands name no CA).
      SSL_CERT_FILE: reg.caFile,
    };
    const good = await runTool(['bash', '-euo', 'pipefail', '-c', script(IDENTITY)], env, r.dir);
    expect(good.exitCode, describeRun(['bash', 'README cosign2 block'], good)).toBe(0);
    const bad = await runTool(['bash', '-euo', 'pipefail', '-c', script(OTHER_IDENTITY)], env, r.dir);
    expect(bad.exitCode, describeRun(['bash', 'README cosign2 block, other identity'], bad)).not.toBe(0);
  });

  it("the README's policy.json and registries.d let skopeo copy a key-signed release and refuse another key's", async () => {
    const dir = await mkdtemp(path.join(scratch, 'readme-policy-'));
    const write = async (repo: string) => {
      const substitute = (text: string) =>
        text
          .replaceAll('ghcr.io/acme/edge-agent', `${reg.host}/${repo}`)
          .replaceAll('/etc/containers/keys/edge-agent.pub', publicKeyFile);
      await writeFile(path.join(dir, 'policy.json'), substitute(await readmeBlock('policy.json')));
      await writeFile(path.join(dir, 'edge-agent.yaml'), substitute(await readmeBlock('registries.d')));
    };
    const copy = async (r: Release) => {
      const target = await mkdtemp(path.join(scratch, 'copy-'));
      const argv = [
        ...tools.skopeo,
        '--policy',
        path.join(dir, 'policy.json'),
        '--registries.d',
        dir,
        'copy',
        '--all',
        '--remove-signatures',
        '--src-cert-dir',
        reg.certDir,
        '--src-authfile',
        reg.authFile,
        `docker://${r.image}@${r.result.indexDigest}`,
        `oci:${target}:release`,
      ];
      const result = await runTool(argv);
      return { ok: result.exitCode === 0, text: describeRun(argv, result) };
    };
    await write('acme/keyed-classic');
    const good = await copy(release('acme/keyed-classic'));
    expect(good.ok, good.text).toBe(true);
    await write('acme/other-key');
    const bad = await copy(release('acme/other-key'));
    expect(bad.ok, bad.text).toBe(false);
    expect(bad.text).toMatch(/Source image rejected/);
  });

  // -------------------------------------------------------------------------------------------------
  // oras 1.2

  it('oras 1.2 discover lists the referrers of the index (bundles and the deployment manifest)', async () => {
    const r = release('acme/both');
    const argv = [
      tools.oras,
      'discover',
      '--format',
      'json',
      '--ca-file',
      reg.caFile,
      '-u',
      reg.username,
      '-p',
      reg.password,
      `${r.image}@${r.result.indexDigest}`,
    ];
    const result = await runTool(argv);
    expect(result.exitCode, describeRun(argv, result)).toBe(0);
    const listed = JSON.parse(result.stdout) as {
      manifests?: Array<{ artifactType?: string; digest: string }>;
    };
    const types = (listed.manifests ?? []).map((m) => m.artifactType);
    expect(types).toContain('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(types).toContain('application/vnd.edgeship.deployment-manifest.v1+yaml');
    const onIndex = r.manifest.signatures.bundles.filter((b) => b.subject === r.result.indexDigest);
    for (const b of onIndex) expect(listed.manifests!.map((m) => m.digest)).toContain(b.referrer);
  });

  // -------------------------------------------------------------------------------------------------
  // cosign 3 (built from github.com/sigstore/cosign/v3): bundles stored as OCI referrers

  describe.skipIf('reason' in cosign3Tool)('cosign 3', () => {
    const bin = () => (cosign3Tool as { path: string }).path;
    /** The local Sigstore through --trusted-root only (no SIGSTORE_* variables), the registry's CA and login. */
    async function cosign3(args: string[]): Promise<{ ok: boolean; text: string }> {
      const registry = args[0] === 'verify-blob-attestation' ? [] : ['--registry-cacert', reg.caFile];
      const argv = [bin(), ...args, '--trusted-root', trust.trustedRootFile, ...registry];
      const result = await runTool(argv, { DOCKER_CONFIG: trust.dockerConfigDir, TUF_ROOT: trust.tufRoot });
      return { ok: result.exitCode === 0, text: describeRun(argv, result) };
    }
    /** Runs independent verifications side by side; each must pass (`ok`) or fail. */
    async function expectAll(runs: string[][], ok = true): Promise<void> {
      for (const run of await Promise.all(runs.map((args) => cosign3(args))))
        expect(run.ok, run.text).toBe(ok);
    }

    it('cosign 3 verify reads the bundle signatures stored as OCI referrers: the index and each platform (bundle alone, both)', async () => {
      const runs = ['acme/bundle', 'acme/both'].flatMap((repo) => {
        const r = release(repo);
        return subjects(r).map((digest) => ['verify', `${r.image}@${digest}`, ...keyless]);
      });
      await expectAll(runs);
    });

    it('cosign 3 verify-attestation: SBOM, vulnerability report, SLSA provenance and OpenVEX of each platform; provenance and deployment manifest of the index', async () => {
      const r = release('acme/both');
      const bundles = r.manifest.signatures.bundles.filter((b) => b.predicateType !== SIGN_TYPE);
      for (const subject of subjects(r)) {
        const types = bundles.filter((b) => b.subject === subject).map((b) => b.predicateType);
        const expected = subject === r.result.indexDigest ? [SLSA] : Object.keys(COSIGN_TYPE_NAMES);
        expect(types).toEqual(expect.arrayContaining(expected));
      }
      await expectAll([
        ...bundles.map((b) => [
          'verify-attestation',
          '--type',
          COSIGN_TYPE_NAMES[b.predicateType] ?? b.predicateType,
          `${r.image}@${b.subject}`,
          ...keyless,
        ]),
        ['verify-attestation', '--type', DEPLOYMENT, `${r.image}@${r.result.indexDigest}`, ...keyless],
      ]);
      // cosign's short name `openvex` is another predicate type (what the README says instead).
      const platform = `${r.image}@${r.manifest.platforms[0]!.digest}`;
      const short = await cosign3(['verify-attestation', '--type', 'openvex', platform, ...keyless]);
      expect(short.ok, short.text).toBe(false);
      expect(short.text).toMatch(/none of the attestations matched the predicate type: openvex/);
    });

    it('cosign 3 verify-blob-attestation of the deployment manifest; a tampered manifest, a tampered bundle and a wrong identity fail', async () => {
      const r = release('acme/both');
      const blob = (file: string, identity = IDENTITY) => [
        'verify-blob-attestation',
        '--bundle',
        r.result.manifestBundleFile!,
        '--type',
        DEPLOYMENT,
        '--certificate-identity',
        identity,
        '--certificate-oidc-issuer',
        GITHUB_ACTIONS_ISSUER,
        file,
      ];
      const tampered = path.join(r.dir, 'tampered-cosign3.yaml');
      await writeFile(tampered, (await readFile(r.result.manifestFile, 'utf8')).replace('1.2.3', '6.6.6'));
      const other = [
        '--certificate-identity',
        OTHER_IDENTITY,
        '--certificate-oidc-issuer',
        GITHUB_ACTIONS_ISSUER,
      ];
      const platform = r.manifest.platforms[0]!.digest;
      await expectAll([blob(r.result.manifestFile)]);
      await expectAll(
        [
          blob(tampered),
          blob(r.result.manifestFile, OTHER_IDENTITY),
          ['verify', `${r.image}@${r.result.indexDigest}`, ...other],
          ['verify-attestation', '--type', 'slsaprovenance1', `${r.image}@${platform}`, ...other],
        ],
        false,
      );
      // Every bundle referrer of the index gets a DSSE payload changed after signing (the signatures kept).
      const t = release('acme/tampered-bundle');
      await expectAll([['verify', `${t.image}@${t.result.indexDigest}`, ...keyless]]);
      expect(await tamperBundleReferrers(t, t.result.indexDigest)).toBeGreaterThan(0);
      await expectAll([['verify', `${t.image}@${t.result.indexDigest}`, ...keyless]], false);
    });

    it("the README's cosign 3 commands pass on a release, and fail for another identity", async () => {
      const r = release('acme/both');
      const block = await readmeBlock('cosign3');
      const bin = await toolsBin();
      const script = (identity: string) =>
        readmeVariables(block, r, identity)
          // Step 1 (the manifest and its bundle from the GitHub release): they are in the release's folder.
          .replace(/^gh release download .*$/m, 'test -s "edgeship-deployment-$VERSION.yaml.sigstore.json"')
          // Step 5 (docker pull): no Docker engine here; the pull is not what this checks.
          .replace(/^docker pull .*$/m, ':')
          // The local Sigstore's root instead of the public-good one cosign fetches through TUF.
          .replace(/\bcosign (verify[a-z-]*) /g, `cosign $1 --trusted-root '${trust.trustedRootFile}' `);
      const env = {
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        DOCKER_CONFIG: trust.dockerConfigDir,
        TUF_ROOT: trust.tufRoot,
        // Go reads the registry's CA from here (the commands name no CA).
        SSL_CERT_FILE: reg.caFile,
      };
      const good = await runTool(['bash', '-euo', 'pipefail', '-c', script(IDENTITY)], env, r.dir);
      expect(good.exitCode, describeRun(['bash', 'README cosign3 block'], good)).toBe(0);
      const bad = await runTool(['bash', '-euo', 'pipefail', '-c', script(OTHER_IDENTITY)], env, r.dir);
      expect(bad.exitCode, describeRun(['bash', 'README cosign3 block, other identity'], bad)).not.toBe(0);
    });
  });

  // -------------------------------------------------------------------------------------------------
  // gh attestation verify (GitHub CLI built from github.com/cli/cli/v2): artifact attestations

  describe.skipIf('reason' in ghTool)('gh attestation verify', () => {
    /**
     * gh refuses a GitHub Enterprise Server host for `attestation` ("gh attestation does not currently support
     * GHES", pkg/cmd/attestation/auth/host.go); it accepts github.com, *.ghe.com and `github.localhost`, whose API
     * it calls over plain HTTP at `http://api.github.localhost/` with GH_TOKEN (internal/ghinstance/host.go). The
     * stand-in answers that host as an HTTP proxy. The registry is read with DOCKER_CONFIG and the CA in
     * SSL_CERT_FILE; the local Sigstore comes from --custom-trusted-root (a JSON Lines file).
     */
    async function ghEnv(): Promise<Record<string, string>> {
      const config = await mkdtemp(path.join(scratch, 'gh-config-'));
      return {
        PATH: `${await toolsBin()}:${process.env.PATH ?? ''}`,
        GH_HOST: 'github.localhost',
        GH_TOKEN: github.token,
        GH_CONFIG_DIR: config,
        HTTP_PROXY: github.apiUrl,
        http_proxy: github.apiUrl,
        NO_PROXY: '',
        no_proxy: '',
        GH_NO_UPDATE_NOTIFIER: '1',
        GH_PROMPT_DISABLED: '1',
        NO_COLOR: '1',
        DOCKER_CONFIG: trust.dockerConfigDir,
        SSL_CERT_FILE: reg.caFile,
      };
    }
    async function gh(
      args: string[],
    ): Promise<{ ok: boolean; text: string; stdout: string; output: string }> {
      const argv = ['gh', 'attestation', 'verify', ...args, '--custom-trusted-root', trust.trustedRootJsonl];
      const result = await runTool(argv, await ghEnv());
      return {
        ok: result.exitCode === 0,
        text: describeRun(argv, result),
        stdout: result.stdout,
        output: `${result.stdout}\n${result.stderr}`,
      };
    }

    it('the stand-in holds the provenance and SBOM bundles of the release, one subject each', () => {
      const r = release('acme/both');
      const stored = github.attestations();
      const expected = r.manifest.signatures.bundles.filter((b) => GITHUB_STORED.has(b.predicateType));
      expect(stored).toHaveLength(expected.length);
      expect(expected.filter((b) => b.subject === r.result.indexDigest).map((b) => b.predicateType)).toEqual([
        SLSA,
      ]);
    });

    it('gh verifies the provenance of the index and of each platform, and the SBOMs, with --owner and --repo', async () => {
      const r = release('acme/both');
      const image = (digest: string) => `oci://${r.image}@${digest}`;
      // [argv, subject, predicate type]; --format json prints what was verified (gh is silent without a TTY).
      const cases: Array<[string[], string, string]> = [
        ...subjects(r).map((d): [string[], string, string] => [[image(d), '--owner', 'acme'], d, SLSA]),
        ...subjects(r).map((d): [string[], string, string] => [
          [image(d), '--repo', GITHUB_REPOSITORY],
          d,
          SLSA,
        ]),
        ...r.manifest.platforms.map((p): [string[], string, string] => [
          [image(p.digest), '--owner', 'acme', '--predicate-type', SPDX_PREDICATE_TYPE],
          p.digest,
          SPDX_PREDICATE_TYPE,
        ]),
        // The same bundles from the registry (the referrers Edgeship stores), without the GitHub API.
        ...subjects(r).map((d): [string[], string, string] => [
          [image(d), '--owner', 'acme', '--bundle-from-oci'],
          d,
          SLSA,
        ]),
      ];
      const runs = await Promise.all(cases.map(([args]) => gh([...args, '--format', 'json'])));
      cases.forEach(([, subject, predicateType], i) => {
        const run = runs[i]!;
        expect(run.ok, run.text).toBe(true);
        const verified = JSON.parse(run.stdout) as Array<{
          verificationResult: {
            statement: { predicateType: string; subject: Array<{ digest: Record<string, string> }> };
            signature: { certificate: Record<string, string> };
          };
        }>;
        expect(verified.length, run.text).toBeGreaterThan(0);
        for (const { verificationResult: v } of verified) {
          expect(v.statement.predicateType).toBe(predicateType);
          expect(v.statement.subject.map((s) => `sha256:${s.digest.sha256}`)).toContain(subject);
          expect(v.signature.certificate).toMatchObject({
            subjectAlternativeName: IDENTITY,
            issuer: GITHUB_ACTIONS_ISSUER,
            sourceRepositoryOwnerURI: 'https://github.com/acme',
            sourceRepositoryURI: `https://github.com/${GITHUB_REPOSITORY}`,
          });
        }
      });
      // gh asked the API by owner and by repository, as GitHub serves them.
      const asked = github.requests().map((q) => new URL(q.path, 'http://x').pathname);
      expect(asked).toContain(`/orgs/acme/attestations/${r.result.indexDigest}`);
      expect(asked).toContain(`/repos/${GITHUB_REPOSITORY}/attestations/${r.result.indexDigest}`);
    });

    it('a wrong owner fails: the API has no attestation of it, and its owner refuses the release’s own bundles', async () => {
      const r = release('acme/both');
      const index = `oci://${r.image}@${r.result.indexDigest}`;
      const none = await gh([index, '--owner', 'mallory']);
      expect(none.ok, none.text).toBe(false);
      expect(none.output, none.text).toMatch(/no attestations found/i);
      // The same bundles offline (--bundle, no API): the certificate names acme's workflow, not mallory's.
      const file = path.join(r.dir, 'github-attestations.jsonl');
      await writeFile(
        file,
        github
          .attestations()
          .map((a) => `${JSON.stringify(a.bundle)}\n`)
          .join(''),
      );
      const own = await gh([index, '--owner', 'acme', '--bundle', file]);
      expect(own.ok, own.text).toBe(true);
      // Refused by the identity policy (SAN ^https://github.com/mallory/) inside the Sigstore verification…
      const refused = await gh([index, '--owner', 'mallory', '--bundle', file]);
      expect(refused.ok, refused.text).toBe(false);
      expect(refused.output, refused.text).toMatch(/verifying with issuer "sigstore\.mock"/);
      // …and, with the exact signer identity given, by the certificate's source repository owner extension.
      const owner = await gh([index, '--owner', 'mallory', '--cert-identity', IDENTITY, '--bundle', file]);
      expect(owner.ok, owner.text).toBe(false);
      expect(owner.output, owner.text).toMatch(
        /expected SourceRepositoryOwnerURI to be https:\/\/github\.com\/mallory, got https:\/\/github\.com\/acme/,
      );
      const otherRepo = await gh([index, '--repo', 'acme/other', '--bundle', file]);
      expect(otherRepo.ok, otherRepo.text).toBe(false);
      const fromRegistry = await gh([index, '--owner', 'mallory', '--bundle-from-oci']);
      expect(fromRegistry.ok, fromRegistry.text).toBe(false);
    });

    it("the README's gh commands pass on a release, and fail for another owner", async () => {
      const r = release('acme/both');
      const block = await readmeBlock('gh');
      const arm64 = r.manifest.platforms.find((p) => p.platform === 'linux/arm64')!.digest;
      const script = (owner: string) =>
        [`REPO='${r.image}'`, `INDEX='${r.result.indexDigest}'`, `IMAGE='${arm64}'`, block]
          .join('\n')
          .replace(/--owner acme\b/g, `--owner ${owner}`)
          .replace(
            /\bgh attestation verify /g,
            `gh attestation verify --custom-trusted-root '${trust.trustedRootJsonl}' `,
          );
      const env = await ghEnv();
      const good = await runTool(['bash', '-euo', 'pipefail', '-c', script('acme')], env, r.dir);
      expect(good.exitCode, describeRun(['bash', 'README gh block'], good)).toBe(0);
      const bad = await runTool(['bash', '-euo', 'pipefail', '-c', script('mallory')], env, r.dir);
      expect(bad.exitCode, describeRun(['bash', 'README gh block, other owner'], bad)).not.toBe(0);
    });
  });

  /** A folder with `cosign` (cosign 3) and `gh` for the README's commands, as a device has them on PATH. */
  let binDir: Promise<string> | undefined;
  function toolsBin(): Promise<string> {
    return (binDir ??= (async () => {
      const dir = await mkdtemp(path.join(scratch, 'bin-'));
      if ('path' in cosign3Tool) await symlink(cosign3Tool.path, path.join(dir, 'cosign'));
      if ('path' in ghTool) await symlink(ghTool.path, path.join(dir, 'gh'));
      return dir;
    })());
  }

  /** The README's variables set to the release (`REPO`, `VERSION`, `IDENTITY`). */
  function readmeVariables(block: string, r: Release, identity: string): string {
    return block
      .replace(/^REPO=.*$/m, `REPO='${r.image}'`)
      .replace(/^VERSION=.*$/m, 'VERSION=1.2.3')
      .replace(/^IDENTITY=.*$/m, `IDENTITY='${identity}'`);
  }

  /**
   * Changes the DSSE payload of every Sigstore bundle referrer of `subject` (its referrers tag: the registry
   * has no referrers API), keeping the signatures; returns how many bundles were changed.
   */
  async function tamperBundleReferrers(r: Release, subject: string): Promise<number> {
    const ca = await readFile(reg.caFile, 'utf8');
    const credentials = resolverFromInputs(reg.host, reg.username, reg.password);
    const client = new RegistryClient({ registry: reg.host, credentials, ca });
    let changed = 0;
    try {
      const tag = fallbackTag(subject);
      const index = JSON.parse((await client.getManifest(r.repo, tag)).body.toString('utf8')) as {
        manifests: Array<{ digest: string; size: number; artifactType?: string }>;
      };
      for (const entry of index.manifests.filter((m) => m.artifactType === BUNDLE_MEDIA_TYPE)) {
        const stored = await client.getManifest(r.repo, entry.digest);
        const manifest = JSON.parse(stored.body.toString('utf8')) as {
          layers: Array<{ digest: string; size: number }>;
        };
        const bundle = JSON.parse(
          (await client.getBlob(r.repo, manifest.layers[0]!.digest)).toString('utf8'),
        ) as {
          dsseEnvelope?: { payload: string };
        };
        if (!bundle.dsseEnvelope) continue;
        const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as {
          predicate?: Record<string, unknown>;
        };
        statement.predicate = { ...statement.predicate, tampered: true };
        bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
        const altered = Buffer.from(JSON.stringify(bundle));
        await client.uploadBlob(r.repo, altered);
        manifest.layers[0]!.digest = digestOf(altered);
        manifest.layers[0]!.size = altered.length;
        const body = Buffer.from(JSON.stringify(manifest));
        entry.digest = await client.putManifest(r.repo, digestOf(body), body, OCI_IMAGE_MANIFEST);
        entry.size = body.length;
        changed += 1;
      }
      await client.putManifest(r.repo, tag, Buffer.from(JSON.stringify(index)), OCI_IMAGE_INDEX);
    } finally {
      await client.close();
    }
    return changed;
  }

  /** Replaces the first .sig layer of the index with a payload that differs in one byte. */
  async function tamperClassicPayload(r: Release): Promise<void> {
    const ca = await readFile(reg.caFile, 'utf8');
    const credentials = resolverFromInputs(reg.host, reg.username, reg.password);
    const client = new RegistryClient({ registry: reg.host, credentials, ca });
    try {
      const tag = classicTag(r.result.indexDigest, 'sig');
      const stored = await client.getManifest(r.repo, tag);
      const layers = parseClassicManifest(stored.body);
      const payload = await client.getBlob(r.repo, layers[0]!.digest);
      const altered = Buffer.from(payload.toString('utf8').replace('"optional":null', '"optional":{}'));
      await client.uploadBlob(r.repo, altered);
      const json = JSON.parse(stored.body.toString('utf8')) as {
        layers: Array<{ digest: string; size: number }>;
      };
      json.layers[0]!.digest = digestOf(altered);
      json.layers[0]!.size = altered.length;
      await client.putManifest(r.repo, tag, Buffer.from(JSON.stringify(json)), OCI_IMAGE_MANIFEST);
    } finally {
      await client.close();
    }
  }
});

/** SLSA provenance of each image, as the build jobs make it. */
function provenanceOf(images: readonly PlatformImage[], ref: string, revision: string) {
  const run = provenanceRun({
    GITHUB_WORKFLOW_REF: 'acme/edge-agent/.github/workflows/release.yml@refs/tags/v1.2.3',
    GITHUB_REPOSITORY: 'acme/edge-agent',
    GITHUB_REF: ref,
    GITHUB_SHA: revision,
    GITHUB_RUN_ID: '4242',
  })!;
  const build = {
    platforms: [...PLATFORMS],
    file: 'Dockerfile',
    context: '.',
    buildArgs: [],
    builder: 'buildah',
  };
  const at = new Date();
  return images.map((i) => ({
    platform: i.platform,
    digest: i.digest,
    predicate: slsaProvenance({ run, build, dependencies: [], startedOn: at, finishedOn: at }),
  }));
}

/** A small real image for `platform` (config + one layer, manifest by digest). */
async function pushImage(client: RegistryClient, repo: string, platform: string): Promise<string> {
  const { os: osName, architecture } = parsePlatform(platform);
  const config = Buffer.from(
    JSON.stringify({
      architecture,
      os: osName,
      config: { User: '1000', Healthcheck: { Test: ['CMD', '/agent', 'health'] } },
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
  const layer = Buffer.from(`edge agent for ${platform}\n`.repeat(64));
  for (const blob of [config, layer]) await client.uploadBlob(repo, blob);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_IMAGE_MANIFEST,
      config: { mediaType: OCI_IMAGE_CONFIG, digest: digestOf(config), size: config.length },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(layer), size: layer.length },
      ],
    }),
  );
  return client.putManifest(repo, digestOf(manifest), manifest, OCI_IMAGE_MANIFEST);
}

/** A policy that waives every finding of TRIAGED_REPORT_FIXTURE (each waiver becomes an OpenVEX statement). */
function waivingPolicy(): Policy {
  const ids = ['CVE-2021-28831', 'CVE-2021-42374', 'CVE-2021-42376', 'CVE-2021-42378', 'CVE-2021-42379'];
  ids.push('CVE-2021-42380', 'CVE-2021-42381', 'CVE-2021-42382', 'CVE-2021-42384', 'CVE-2021-42385');
  ids.push('CVE-2021-42386', 'CVE-2022-28391', 'CVE-2022-48174', 'CVE-2024-58251', 'CVE-2025-46394');
  const waivers = ids
    .map((id) => `  - { id: ${id}, reason: "busybox applets the agent never runs", expires: 2099-01-01 }`)
    .join('\n');
  const text = `apiVersion: edgeship/v1\nkind: Policy\nwaivers:\n${waivers}\n`;
  return loadPolicy({ policyFile: { path: 'policy.yml', text } });
}

/** A passing gate over a real Syft SPDX SBOM and a real Grype report (copied into `dir`). */
async function passingGate(
  images: readonly PlatformImage[],
  dir: string,
  policy: Policy,
  reportFixture: string,
): Promise<GateResult> {
  const sbomText = await readFile(fixturePath(SBOM_FIXTURE), 'utf8');
  const reportBytes = await readFile(fixturePath(reportFixture));
  const scans: PlatformScan[] = [];
  for (const image of images) {
    const slug = image.platform.replace('/', '-');
    const sbomFile = path.join(dir, `sbom-${slug}.spdx.json`);
    const reportFile = path.join(dir, `grype-${slug}.json`);
    const sarifFile = path.join(dir, `grype-${slug}.sarif`);
    await writeFile(sbomFile, sbomText);
    await writeFile(reportFile, reportBytes);
    await writeFile(sarifFile, '{"version":"2.1.0","runs":[]}');
    scans.push({
      platform: image.platform,
      digest: image.digest,
      sbomFiles: [{ format: 'spdx-json', file: sbomFile }],
      packages: countSbomPackages(sbomText, 'spdx-json'),
      reportFile,
      sarifFile,
      report: parseGrypeReport(reportBytes, reportFile),
    });
  }
  const verdict = evaluateGate(
    policy,
    scans.map((scan, i) => ({
      platform: scan.platform,
      report: scan.report,
      image: {
        size: images[i]!.size,
        user: images[i]!.config.user,
        healthcheck: images[i]!.config.healthcheck,
      },
    })),
    new Date(),
  );
  if (!verdict.pass) throw new Error('the gate of the verifier releases should pass');
  return { verdict, scans, reportsDir: dir };
}
