/**
 * Real verifiers over real releases: what an edge device or a cluster runs, from Debian 13's packages
 * (cosign 2.5, oras 1.2, skopeo 1.18 through its own loader; see harness/verifiers.ts).
 *
 * Releases are published in-process (publishRelease, as the publish job runs it) into a real registry
 * (distribution 2.8: TLS + htpasswd, no referrers API) and signed with the local Sigstore (Fulcio, Rekor,
 * TSA over loopback HTTP), in each `signature-format`, keyless and with a key. The images are small
 * two-platform images pushed here (the build is not what this suite is about).
 *
 * Run: npx vitest run --project e2e test/e2e/verifiers.test.ts
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseDeploymentManifest, type DeploymentManifest } from '../../src/deployment/manifest.js';
import { parsePlatform } from '../../src/image/platform.js';
import { resolvePlatformImage, type PlatformImage } from '../../src/image/pushed-image.js';
import type { GateResult } from '../../src/policy/decide.js';
import { evaluateGate, loadPolicy } from '../../src/policy/index.js';
import { provenanceRun, slsaProvenance } from '../../src/provenance/slsa.js';
import { expectedSignerFor, signerConfig } from '../../src/publish/publish-deps.js';
import { publishRelease, type PublishResult } from '../../src/publish/release.js';
import { RegistryClient } from '../../src/registry/client.js';
import { resolverFromInputs } from '../../src/registry/credentials.js';
import { digestOf } from '../../src/registry/digest.js';
import { OCI_IMAGE_CONFIG, OCI_IMAGE_MANIFEST } from '../../src/registry/media-types.js';
import { releaseMetadata } from '../../src/release/metadata.js';
import { parseGrypeReport } from '../../src/scan/grype-report.js';
import type { PlatformScan } from '../../src/scan/scan-platforms.js';
import { countSbomPackages } from '../../src/scan/sbom.js';
import { readSettings } from '../../src/settings/inputs.js';
import { classicTag, parseClassicManifest } from '../../src/sign/classic-format.js';
import { trustMaterialFromJSON } from '../../src/sign/verify.js';
import { fixturePath } from '../shared-fixtures.js';
import { memoryLog } from '../unit/helpers/memory-host.js';
import { PROJECT_ROOT } from './harness/action-runner.js';
import { ensureHostTools } from './harness/host-tools.js';
import { startOidcTokenEndpoint } from './harness/oidc-issuer.js';
import { startRegistry, type TestRegistry } from './harness/registry.js';
import { GITHUB_ACTIONS_ISSUER, startSigstoreStack, type SigstoreStack } from './harness/sigstore-stack.js';
import {
  cosignTrust,
  describeRun,
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

/** Keyless with `issuer`: an e-mail identity (the token's verified `email` claim), pinned by certificate-identity. */
type Signing = { kind: 'keyless'; identity: string; issuer?: string } | { kind: 'key'; pem: string };

interface Release {
  repo: string;
  /** `host/repo`. */
  image: string;
  result: PublishResult;
  manifest: DeploymentManifest;
  dir: string;
}

describe('real verifiers (cosign 2.5, skopeo 1.18, oras 1.2) over Edgeship releases', () => {
  let tools: VerifierTools;
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
    await ensureHostTools();
    tools = await verifierTools();
    reg = await startRegistry();
    stops.push(() => reg.stop());
    stack = await startSigstoreStack();
    stops.push(() => stack.stop());
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
    // [repository, signature-format, signer, with SLSA provenance of each image (and so of the index)]
    const plan: Array<[string, string, Signing, boolean?]> = [
      ['acme/both', 'both', { kind: 'keyless', identity: IDENTITY }, true],
      ['acme/classic', 'classic', { kind: 'keyless', identity: IDENTITY }],
      ['acme/bundle', 'bundle', { kind: 'keyless', identity: IDENTITY }],
      ['acme/keyed', 'both', { kind: 'key', pem: keyPem }, true],
      ['acme/keyed-classic', 'classic', { kind: 'key', pem: keyPem }],
      ['acme/other-key', 'classic', { kind: 'key', pem: otherKeyPem }],
      ['acme/other-identity', 'classic', { kind: 'keyless', identity: OTHER_IDENTITY }],
      ['acme/email', 'both', { kind: 'keyless', identity: EMAIL, issuer: EMAIL_ISSUER }],
      ['acme/other-email', 'classic', { kind: 'keyless', identity: OTHER_EMAIL, issuer: EMAIL_ISSUER }],
    ];
    for (const [repo, format, signing, provenance] of plan) {
      releases.set(repo, await publish(repo, format, signing, provenance));
    }
  }, 15 * 60_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  /** Pushes two small images into `repo` and publishes them as v1.2.3 in `format`. */
  async function publish(
    repo: string,
    format: string,
    signing: Signing,
    provenance = false,
  ): Promise<Release> {
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
    const gate = await passingGate(images, dir);
    await writeFile(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
    const oidc = await startOidcTokenEndpoint(() =>
      signing.kind === 'keyless' && signing.issuer
        ? stack.oidcToken(signing.identity, {
            iss: signing.issuer,
            email: signing.identity,
            email_verified: true,
          })
        : stack.oidcToken(signing.kind === 'keyless' ? signing.identity : IDENTITY),
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
        policy: loadPolicy({}),
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
    for (const digest of subjects(r)) await expectCosign(['verify', `${r.image}@${digest}`, ...keyless]);
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
    for (const c of classic) {
      expect(c.tag).toBe(classicTag(c.subject, 'att'));
      await expectCosign([
        'verify-attestation',
        '--type',
        c.predicateType,
        `${r.image}@${c.subject}`,
        ...keyless,
      ]);
    }
    for (const b of bundles) {
      await expectCosign([
        'verify-attestation',
        '--new-bundle-format',
        '--trusted-root',
        trust.trustedRootFile,
        '--type',
        b.predicateType,
        `${r.image}@${b.subject}`,
        ...keyless,
      ]);
    }
    // The deployment manifest's attestation on the index, in both formats.
    const deployment = 'https://edgeship.dev/deployment-manifest/v1';
    const index = `${r.image}@${r.result.indexDigest}`;
    await expectCosign(['verify-attestation', '--type', deployment, index, ...keyless]);
    await expectCosign([
      'verify-attestation',
      '--new-bundle-format',
      '--trusted-root',
      trust.trustedRootFile,
      '--type',
      deployment,
      index,
      ...keyless,
    ]);
  });

  it('key signing: cosign verify --key and verify-attestation --key, classic and bundle', async () => {
    for (const repo of ['acme/keyed', 'acme/keyed-classic']) {
      const r = release(repo);
      expect(r.manifest.signatures.mode).toBe('key');
      for (const digest of subjects(r)) {
        await expectCosign(['verify', '--key', publicKeyFile, `${r.image}@${digest}`]);
      }
      for (const c of (r.manifest.signatures.classic ?? []).filter((c) => c.predicateType !== SIGN_TYPE)) {
        await expectCosign([
          'verify-attestation',
          '--key',
          publicKeyFile,
          '--type',
          c.predicateType,
          `${r.image}@${c.subject}`,
        ]);
      }
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
    const tamperedRepo = await publish('acme/tampered', 'classic', { kind: 'keyless', identity: IDENTITY });
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

/** A passing gate over a real Syft SPDX SBOM and a real Grype report (copied into `dir`). */
async function passingGate(images: readonly PlatformImage[], dir: string): Promise<GateResult> {
  const sbomText = await readFile(fixturePath(SBOM_FIXTURE), 'utf8');
  const reportBytes = await readFile(fixturePath(REPORT_FIXTURE));
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
    loadPolicy({}),
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
