import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runBundled } from './harness/action-runner.js';
import type { ActionRun } from './harness/action-runner.js';
import { PINNED_TOOLS } from '../../src/tools/pinned.js';
import { publishBaseImage } from './harness/base-images.js';
import { makeDebianBusyboxWorkspace } from './harness/debian-busybox.js';
import { startGitHubApiStandIn } from './harness/github-api.js';
import type { GitHubApiStandIn } from './harness/github-api.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { verifyBundleIndependently } from './harness/independent-verify.js';
import { startOidcTokenEndpoint } from './harness/oidc-issuer.js';
import { realScannerTools, startRealScanners } from './harness/real-scanners.js';
import type { RealScanners } from './harness/real-scanners.js';
import { startRegistry } from './harness/registry.js';
import type { TestRegistry } from './harness/registry.js';
import { GITHUB_ACTIONS_ISSUER, startSigstoreStack } from './harness/sigstore-stack.js';
import type { SigstoreStack } from './harness/sigstore-stack.js';
import { buildahEnvironment, listTagsRaw, makeSampleWorkspace, skopeo } from './harness/workspace.js';

const IDENTITY = 'https://github.com/acme/edge-agent/.github/workflows/release.yml@refs/heads/main';
const REPO = 'acme/edge-agent';

const scannerTools = await realScannerTools('publish e2e');

interface Manifest {
  release: { version: string; channel: string };
  image: { repository: string; index: { digest: string }; tags: string[] };
  platforms: Array<{
    platform: string;
    digest: string;
    size: number;
    delta: { bytes: number; layers: number; baseline: { version: string } | null };
  }>;
  signatures: { mode: string; identity: string; issuer: string };
}

/**
 * Publish end to end, for real: registry (htpasswd + TLS, no referrers API: the sha256-<hex> fallback
 * tag is used), buildah builds, a local Sigstore (Fulcio, Rekor, TSA from @sigstore/mock over loopback
 * HTTP), the runner's OIDC endpoint and the GitHub Releases API as loopback stand-ins; the REAL Syft and Grype
 * (harness/real-scanners.ts) scan every image: the releases use the sample whose busybox is Debian's package
 * (clean), the blocked one the sample with the bare busybox binary (Critical). Everything is checked with
 * skopeo, raw HTTP and @sigstore/verify.
 */
describe.skipIf('reason' in scannerTools)(
  'publish: index, tags, signatures, deployment manifest, baselines',
  () => {
    let reg: TestRegistry;
    let scanners: RealScanners;
    let bareWorkspace: string;
    let stack: SigstoreStack;
    let github: GitHubApiStandIn;
    let oidc: Awaited<ReturnType<typeof startOidcTokenEndpoint>>;
    let base: string;
    let workspace: string;
    let storage: { env: Record<string, string>; dir: string };
    let scratch: string;
    let trustedRootFile: string;
    let first: ActionRun;
    let second: ActionRun;

    async function release(
      tag: string,
      options: { workspace?: string; inputs?: Record<string, string>; agent?: string } = {},
    ) {
      const dir = options.workspace ?? workspace;
      if (options.agent) await writeFile(path.join(dir, 'agent.sh'), options.agent);
      return runBundled('main', {
        workspace: dir,
        inputs: {
          image: `${reg.host}/${REPO}`,
          builder: 'buildah',
          'build-args': `BASE=${base}`,
          'registry-username': reg.username,
          'registry-password': reg.password,
          'registry-ca-file': reg.caFile,
          'reports-dir': path.join(scratch, tag),
          'fulcio-url': stack.fulcioURL,
          'rekor-url': stack.rekorURL,
          'tsa-url': stack.tsaURL,
          'trusted-root': trustedRootFile,
          'github-token': github.token,
          ...scanners.inputs,
          ...options.inputs,
        },
        env: {
          ...storage.env,
          ...scanners.env,
          ...oidc.env,
          GITHUB_REF: `refs/tags/${tag}`,
          GITHUB_REPOSITORY: github.repository,
          GITHUB_API_URL: github.apiUrl,
        },
      });
    }

    const manifestOf = (run: ActionRun) =>
      parse(readFileSync(run.outputs['manifest-file']!, 'utf8')) as Manifest;
    const digestOfTag = async (tag: string) =>
      `sha256:${createHash('sha256')
        .update(await skopeo(reg, ['inspect', '--raw', `docker://${reg.host}/${REPO}:${tag}`]))
        .digest('hex')}`;
    const rawManifest = async (digest: string) =>
      JSON.parse(await skopeo(reg, ['inspect', '--raw', `docker://${reg.host}/${REPO}@${digest}`]));
    const blobSet = async (digest: string) => {
      const m = (await rawManifest(digest)) as {
        config: { digest: string; size: number };
        layers: Array<{ digest: string; size: number }>;
      };
      return new Map([
        [m.config.digest, m.config.size],
        ...m.layers.map((l) => [l.digest, l.size] as [string, number]),
      ]);
    };
    /** Bundles attached to a digest, read through the fallback tag with skopeo and the blobs by raw digest. */
    const bundlesOf = async (digest: string) => {
      const index = JSON.parse(
        await skopeo(reg, ['inspect', '--raw', `docker://${reg.host}/${REPO}:sha256-${digest.slice(7)}`]),
      ) as {
        manifests: Array<{ digest: string; artifactType?: string }>;
      };
      const bundles: Array<{ predicateType: string; json: unknown; layer: string }> = [];
      const sigstore = index.manifests.filter(
        (m) => m.artifactType === 'application/vnd.dev.sigstore.bundle.v0.3+json',
      );
      for (const entry of sigstore) {
        const referrer = (await rawManifest(entry.digest)) as {
          annotations: Record<string, string>;
          subject: { digest: string };
          layers: Array<{ digest: string }>;
        };
        expect(referrer.subject.digest).toBe(digest);
        const dir = await mkdtemp(path.join(os.tmpdir(), 'edgeship-bundle-'));
        await skopeo(reg, ['copy', `docker://${reg.host}/${REPO}@${entry.digest}`, `dir:${dir}`]);
        const layer = referrer.layers[0]!.digest;
        bundles.push({
          predicateType: referrer.annotations['dev.sigstore.bundle.predicateType']!,
          json: JSON.parse(readFileSync(path.join(dir, layer.slice(7)), 'utf8')),
          layer,
        });
        await rm(dir, { recursive: true, force: true });
      }
      return bundles;
    };

    beforeAll(async () => {
      await ensureHostTools();
      await ensureBinfmt();
      scanners = await startRealScanners(scannerTools);
      reg = await startRegistry();
      stack = await startSigstoreStack();
      github = await startGitHubApiStandIn();
      oidc = await startOidcTokenEndpoint(() => stack.oidcToken(IDENTITY));
      base = await publishBaseImage(reg);
      workspace = await makeDebianBusyboxWorkspace();
      bareWorkspace = await makeSampleWorkspace();
      storage = await buildahEnvironment();
      scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-publish-'));
      trustedRootFile = path.join(scratch, 'trusted_root.json');
      await writeFile(trustedRootFile, JSON.stringify(stack.trustedRoot));
      first = await release('v1.0.0');
      second = await release('v1.0.1', { agent: '#!/bin/sh\necho "agent 1.0.1"\n' });
    });

    afterAll(async () => {
      await reg?.stop();
      await stack?.stop();
      await github?.stop();
      await oidc?.stop();
      await scanners?.stop();
      for (const dir of [workspace, bareWorkspace, storage?.dir, scratch])
        if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('publishes v1.0.0: every tag resolves to the index digest', async () => {
      expect(first.errors, first.stdout.slice(-4000)).toEqual([]);
      const digest = first.outputs.digest!;
      expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
      for (const tag of ['1.0.0', '1.0', '1', 'latest']) expect(await digestOfTag(tag)).not.toBe('');
      // After the second release the moving tags point at 1.0.1; 1.0.0 stays where it was.
      expect(await digestOfTag('1.0.0')).toBe(digest);
      expect(first.outputs.tags!.split('\n')).toEqual(
        expect.arrayContaining([
          `${reg.host}/${REPO}:1.0.0`,
          `${reg.host}/${REPO}:latest`,
          `${reg.host}/${REPO}:production`,
        ]),
      );
    });

    it('the index has exact platform fields and the release annotations', async () => {
      const index = (await rawManifest(first.outputs.digest!)) as {
        mediaType: string;
        manifests: Array<{ digest: string; platform: Record<string, string> }>;
        annotations: Record<string, string>;
      };
      expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
      expect(index.manifests.map((m) => m.platform)).toEqual([
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux' },
      ]);
      expect(index.annotations['org.opencontainers.image.version']).toBe('1.0.0');
      const digests = JSON.parse(first.outputs.digests!) as Array<{ digest: string }>;
      expect(index.manifests.map((m) => m.digest)).toEqual(digests.map((d) => d.digest));
    });

    it('bundles on the index and each platform verify with @sigstore/verify, and a tampered one does not', async () => {
      const root = stack.trustedRoot;
      const digests = JSON.parse(second.outputs.digests!) as Array<{ platform: string; digest: string }>;
      const indexBundles = await bundlesOf(second.outputs.digest!);
      expect(indexBundles.map((b) => b.predicateType).sort()).toEqual([
        'https://edgeship.dev/deployment-manifest/v1',
        'https://sigstore.dev/cosign/sign/v1',
      ]);
      for (const b of indexBundles) {
        const { statement } = verifyBundleIndependently(b.json, root, {
          identity: IDENTITY,
          issuer: GITHUB_ACTIONS_ISSUER,
        });
        expect(statement.subject.some((s) => `sha256:${s.digest.sha256}` === second.outputs.digest)).toBe(
          true,
        );
      }
      for (const d of digests) {
        const bundles = await bundlesOf(d.digest);
        expect(bundles.map((b) => b.predicateType).sort()).toEqual([
          'https://cosign.sigstore.dev/attestation/vuln/v1',
          'https://sigstore.dev/cosign/sign/v1',
          'https://spdx.dev/Document',
        ]);
        for (const b of bundles) {
          const { statement } = verifyBundleIndependently(b.json, root, {
            identity: IDENTITY,
            issuer: GITHUB_ACTIONS_ISSUER,
          });
          expect(statement.subject[0]!.digest.sha256).toBe(d.digest.slice(7));
          // The attested SBOM and scan are the real Syft's and Grype's of this very image.
          const predicate = (statement as unknown as { predicate: Record<string, any> }).predicate; // eslint-disable-line @typescript-eslint/no-explicit-any
          if (b.predicateType === 'https://spdx.dev/Document') {
            expect(predicate.creationInfo.creators).toContain(`Tool: syft-${PINNED_TOOLS.syft.version}`);
            expect(predicate.packages).toContainEqual(
              expect.objectContaining({
                checksums: [{ algorithm: 'SHA256', checksumValue: d.digest.slice(7) }],
              }),
            );
            expect(predicate.packages).toContainEqual(expect.objectContaining({ name: 'busybox-static' }));
          }
          if (b.predicateType === 'https://cosign.sigstore.dev/attestation/vuln/v1') {
            expect(predicate.scanner.version).toBe(PINNED_TOOLS.grype.version);
            expect(new Date(predicate.scanner.db.version as string)).toEqual(scanners.db.built);
            expect(predicate.scanner.result.matches).toEqual([]);
          }
        }
      }
      const tampered = structuredClone(indexBundles[0]!.json) as {
        dsseEnvelope: { signatures: Array<{ sig: string }> };
      };
      const sig = Buffer.from(tampered.dsseEnvelope.signatures[0]!.sig, 'base64');
      sig[10] = sig[10]! ^ 0xff;
      tampered.dsseEnvelope.signatures[0]!.sig = sig.toString('base64');
      expect(() =>
        verifyBundleIndependently(tampered, root, { identity: IDENTITY, issuer: GITHUB_ACTIONS_ISSUER }),
      ).toThrow();
      expect(() =>
        verifyBundleIndependently(indexBundles[0]!.json, root, {
          identity: 'https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main',
          issuer: GITHUB_ACTIONS_ISSUER,
        }),
      ).toThrow();
    });

    it('the deployment manifest pins the registry digests, is signed, and its bundle names the file', async () => {
      const manifest = manifestOf(first);
      const index = (await rawManifest(first.outputs.digest!)) as {
        manifests: Array<{ digest: string; platform: { architecture: string } }>;
      };
      expect(manifest.image.index.digest).toBe(first.outputs.digest);
      for (const p of manifest.platforms) {
        const entry = index.manifests.find((m) => `linux/${m.platform.architecture}` === p.platform)!;
        expect(p.digest).toBe(entry.digest);
        const blobs = await blobSet(p.digest);
        expect(p.size).toBe([...blobs.values()].reduce((a, b) => a + b, 0));
      }
      expect(manifest.signatures).toMatchObject({
        mode: 'keyless',
        identity: IDENTITY,
        issuer: GITHUB_ACTIONS_ISSUER,
      });
      const text = readFileSync(first.outputs['manifest-file']!);
      expect(first.outputs['manifest-digest']).toBe(
        `sha256:${createHash('sha256').update(text).digest('hex')}`,
      );
      const bundleFile = path.join(
        path.dirname(first.outputs['manifest-file']!),
        `${path.basename(first.outputs['manifest-file']!, '.yaml')}.yaml.sigstore.json`,
      );
      const bundles = readFileSync(bundleFile, 'utf8');
      const { statement } = verifyBundleIndependently(JSON.parse(bundles), stack.trustedRoot, {
        identity: IDENTITY,
        issuer: GITHUB_ACTIONS_ISSUER,
      });
      expect(statement.subject.map((s) => `sha256:${s.digest.sha256}`)).toContain(
        first.outputs['manifest-digest'],
      );
    });

    it('the deployment manifest is also an OCI artifact referring to the index, with its bundle', async () => {
      const digest = first.outputs.digest!;
      const index = JSON.parse(
        await skopeo(reg, ['inspect', '--raw', `docker://${reg.host}/${REPO}:sha256-${digest.slice(7)}`]),
      ) as {
        manifests: Array<{ digest: string; artifactType?: string }>;
      };
      const entry = index.manifests.find(
        (m) => m.artifactType === 'application/vnd.edgeship.deployment-manifest.v1+yaml',
      )!;
      expect(entry).toBeDefined();
      const artifact = (await rawManifest(entry.digest)) as {
        subject: { digest: string };
        layers: Array<{ mediaType: string; digest: string; annotations: Record<string, string> }>;
      };
      expect(artifact.subject.digest).toBe(digest);
      expect(artifact.layers.map((l) => l.annotations['org.opencontainers.image.title'])).toEqual([
        'edgeship-deployment-1.0.0.yaml',
        'edgeship-deployment-1.0.0.yaml.sigstore.json',
      ]);
      expect(artifact.layers[0]!.digest).toBe(first.outputs['manifest-digest']);
    });

    it('deltas match layer sets computed independently, and the second release downloads less', async () => {
      const m1 = manifestOf(first);
      const m2 = manifestOf(second);
      for (const p of m1.platforms) {
        expect(p.delta.baseline).toBeNull();
        expect(p.delta.bytes).toBe(p.size);
      }
      for (const p of m2.platforms) {
        const previous = m1.platforms.find((x) => x.platform === p.platform)!;
        const now = await blobSet(p.digest);
        const before = await blobSet(previous.digest);
        const expected = [...now.entries()]
          .filter(([d]) => !before.has(d))
          .reduce((sum, [, size]) => sum + size, 0);
        expect(p.delta.bytes).toBe(expected);
        expect(p.delta.bytes).toBeLessThan(p.size);
        expect(p.delta.baseline?.version).toBe('1.0.0');
      }
      expect(await digestOfTag('production')).toBe(second.outputs.digest);
      expect(await digestOfTag('latest')).toBe(second.outputs.digest);
    });

    it('uploaded the release assets for each tag', () => {
      const releases = github.releases();
      const v1 = releases.find((r) => r.tag_name === 'v1.0.0')!;
      const names = v1.assets.map((a) => a.name).sort();
      expect(names).toEqual(
        expect.arrayContaining([
          'edgeship-deployment-1.0.0.yaml',
          'edgeship-deployment-1.0.0.yaml.sigstore.json',
          'sbom-linux-amd64.spdx.json',
          'sbom-linux-arm64.spdx.json',
          'grype-linux-amd64.sarif',
          'grype-linux-arm64.sarif',
        ]),
      );
      const uploaded = v1.assets.find((a) => a.name === 'edgeship-deployment-1.0.0.yaml')!;
      expect(uploaded.content.equals(readFileSync(first.outputs['manifest-file']!))).toBe(true);
    });

    it('a lower stable release is a maintenance release: its own line moves, production and latest stay', async () => {
      // One platform is enough to show which tags move (and saves a build and a scan).
      const run = await release('v0.9.0', { inputs: { platforms: 'linux/amd64' } });
      expect(run.errors, run.stdout.slice(-3000)).toEqual([]);
      expect(await digestOfTag('0.9.0')).toBe(run.outputs.digest);
      expect(await digestOfTag('0.9')).toBe(run.outputs.digest);
      expect(await digestOfTag('production')).toBe(second.outputs.digest);
      expect(await digestOfTag('latest')).toBe(second.outputs.digest);
      const plan = (
        parse(readFileSync(run.outputs['manifest-file']!, 'utf8')) as {
          tagPlan: Array<{ tag: string; moved: boolean; reason: string }>;
        }
      ).tagPlan;
      expect(plan.filter((d) => !d.moved).map((d) => d.tag)).toEqual(['latest', 'production']);
    });

    it('refuses to move an existing release tag unless overwrite is set', async () => {
      const run = await release('v1.0.0', {
        agent: '#!/bin/sh\necho "rebuilt"\n',
        inputs: { platforms: 'linux/amd64' },
      });
      expect(run.exitCode).not.toBe(0);
      expect(run.errors.join('\n')).toMatch(
        /1\.0\.0 already exists and points at sha256:[a-f0-9]{64}.*overwrite: true/s,
      );
      expect(await digestOfTag('1.0.0')).toBe(first.outputs.digest);
    });

    it('a failed gate (the real Critical of a bare busybox) leaves no tag, no signature and no release asset', async () => {
      const tagsBefore = await listTagsRaw(reg, REPO);
      const fallbackBefore = tagsBefore.filter((t) => t.startsWith('sha256-')).length;
      const requestsBefore = stack.requests();
      const run = await release('v1.1.0', {
        workspace: bareWorkspace,
        inputs: { platforms: 'linux/amd64' },
        agent: '#!/bin/sh\necho "agent 1.1.0"\n',
      });
      expect(run.exitCode).not.toBe(0);
      expect(run.outputs.gate).toBe('fail');
      expect(run.errors.join('\n')).toContain('CVE-2022-48174');
      const tagsAfter = await listTagsRaw(reg, REPO);
      expect(tagsAfter.sort()).toEqual(tagsBefore.sort());
      expect(tagsAfter.filter((t) => t.startsWith('sha256-')).length).toBe(fallbackBefore);
      expect(stack.requests()).toEqual(requestsBefore);
      expect(github.releases().find((r) => r.tag_name === 'v1.1.0')).toBeUndefined();
    });
  },
);
