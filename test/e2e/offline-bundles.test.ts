/**
 * Offline bundles end to end, for real: three consecutive releases to the production channel of a busybox
 * agent image (the second and third change only the top layer; the third's health check fails), published
 * in-process by publishRelease to a real registry (distribution 2.8, TLS + htpasswd) and signed by a local
 * Sigstore, with `offline-bundles: both`. The bundles are then loaded by the real tools — skopeo
 * (`oci-archive:`), Debian 13's containerd (`ctr images import`) and Docker Engine 26 (`docker load`) —,
 * verified offline as the README documents (cosign 2.5 in a network namespace without network,
 * `sha256sum -c`, digests), tampered with, and installed by edgeship-install.sh against the real engine.
 *
 * Run: npx vitest run --project e2e test/e2e/offline-bundles.test.ts
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { OfflineBundle } from '../../src/bundles/offline-bundles.js';
import { parseDeploymentManifest, type DeploymentManifest } from '../../src/deployment/manifest.js';
import { parsePlatform } from '../../src/image/platform.js';
import { resolvePlatformImage, type PlatformImage } from '../../src/image/pushed-image.js';
import { expectedSignerFor } from '../../src/publish/publish-deps.js';
import { publishRelease, type PublishResult } from '../../src/publish/release.js';
import { RegistryClient } from '../../src/registry/client.js';
import { resolverFromInputs } from '../../src/registry/credentials.js';
import { OCI_IMAGE_CONFIG, OCI_IMAGE_MANIFEST } from '../../src/registry/media-types.js';
import { releaseMetadata } from '../../src/release/metadata.js';
import { readSettings } from '../../src/settings/inputs.js';
import type { SignerConfig } from '../../src/sign/signer.js';
import { trustMaterialFromJSON } from '../../src/sign/verify.js';
import { memoryLog } from '../unit/helpers/memory-host.js';
import { passingGate } from '../unit/publish/harness.js';
import { publishBaseImage, registryArgs } from './harness/base-images.js';
import { startDockerEngine, type DockerEngine } from './harness/docker-engine.js';
import { ensureHostTools } from './harness/host-tools.js';
import {
  attempt,
  cosignFor,
  shellcheckBinary,
  startContainerd,
  tool,
  type PrivateContainerd,
} from './harness/offline-tools.js';
import { startRegistry, type TestRegistry } from './harness/registry.js';
import { GITHUB_ACTIONS_ISSUER, startSigstoreStack, type SigstoreStack } from './harness/sigstore-stack.js';

const REPO = 'acme/edge-agent';
const PLATFORMS = ['linux/amd64', 'linux/arm64'] as const;
const IDENTITY = 'https://github.com/acme/edge-agent/.github/workflows/release.yml@refs/tags/v1.0.0';
const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const timings: Record<string, number> = {};
async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  try {
    return await fn();
  } finally {
    timings[name] = Date.now() - start;
  }
}

/** A one-file ustar archive (the agent layer before compression). */
function tarWithFile(name: string, content: Buffer, mode = 0o755): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write(`${mode.toString(8).padStart(7, '0')}\0`, 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('offline bundles: full and delta, loaders, offline verification, installer', () => {
  let reg: TestRegistry;
  let site: TestRegistry;
  let stack: SigstoreStack;
  let client: RegistryClient;
  let scratch: string;
  let trustedRootFile: string;
  let base: string;
  const releases: Array<{
    version: string;
    result: PublishResult;
    images: PlatformImage[];
    reports: string;
  }> = [];

  /** Pushes the agent image of `version` for every platform on top of the busybox base; returns digests. */
  async function pushAgent(version: string, healthy: boolean): Promise<string[]> {
    const baseIndex = (await client.getManifest('base/busybox', '1')).json as {
      manifests: Array<{ digest: string; platform: { architecture: string } }>;
    };
    const digests: string[] = [];
    for (const platform of PLATFORMS) {
      const { architecture } = parsePlatform(platform);
      const entry = baseIndex.manifests.find((m) => m.platform.architecture === architecture)!;
      const baseManifest = (await client.getManifest('base/busybox', entry.digest)).json as {
        config: { digest: string };
        layers: Array<{ digest: string; size: number; mediaType: string }>;
      };
      const baseConfig = await client.getJsonBlob<{ rootfs: { diff_ids: string[] }; config: object }>(
        'base/busybox',
        baseManifest.config.digest,
      );
      for (const layer of baseManifest.layers)
        await client.uploadBlob(REPO, await client.getBlob('base/busybox', layer.digest));
      const script = `#!/bin/sh\nif [ "$1" = health ]; then exit ${healthy ? 0 : 1}; fi\necho "edge agent ${version}"\nexec sleep 3600\n`;
      const tar = tarWithFile('agent', Buffer.from(script));
      const layer = gzipSync(tar);
      const config = Buffer.from(
        JSON.stringify({
          architecture,
          os: 'linux',
          created: '2026-01-02T03:04:05Z',
          config: {
            ...baseConfig.config,
            User: '1000',
            Entrypoint: ['/agent'],
            Cmd: [],
            Healthcheck: { Test: ['CMD', '/agent', 'health'], Interval: 1e9, Timeout: 1e9, Retries: 2 },
          },
          rootfs: { type: 'layers', diff_ids: [...baseConfig.rootfs.diff_ids, sha256(tar)] },
        }),
      );
      await client.uploadBlob(REPO, layer);
      await client.uploadBlob(REPO, config);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_IMAGE_MANIFEST,
          config: { mediaType: OCI_IMAGE_CONFIG, digest: sha256(config), size: config.length },
          layers: [
            ...baseManifest.layers,
            {
              mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
              digest: sha256(layer),
              size: layer.length,
            },
          ],
        }),
      );
      digests.push(await client.putManifest(REPO, sha256(manifest), manifest, OCI_IMAGE_MANIFEST));
    }
    return digests;
  }

  async function release(version: string, healthy = true) {
    const digests = await pushAgent(version, healthy);
    const images = await Promise.all(
      PLATFORMS.map((p, i) => resolvePlatformImage(client, REPO, digests[i]!, parsePlatform(p))),
    );
    const reports = path.join(scratch, version);
    const workspace = path.join(scratch, `ws-${version}`);
    await mkdir(workspace, { recursive: true });
    await writeFile(path.join(workspace, 'Dockerfile'), 'FROM scratch\n');
    const inputs: Record<string, string> = {
      image: `${reg.host}/${REPO}`,
      platforms: PLATFORMS.join(','),
      'registry-username': reg.username,
      'registry-password': reg.password,
      'registry-ca-file': reg.caFile,
      'reports-dir': reports,
      signing: 'keyless',
      'fulcio-url': stack.fulcioURL,
      'rekor-url': stack.rekorURL,
      'tsa-url': stack.tsaURL,
      'trusted-root': trustedRootFile,
      'release-assets': 'off',
      'offline-bundles': 'both',
    };
    const settings = readSettings((name) => inputs[name] ?? '', { workspace });
    const meta = releaseMetadata({
      ref: `refs/tags/v${version}`,
      sha: '0123456789abcdef0123456789abcdef01234567',
      repository: 'acme/edge-agent',
      serverUrl: 'https://github.com',
      runId: '4242',
      runAttempt: '1',
      now: new Date(),
    });
    const gate = await passingGate(images, settings.gatePolicy, reports);
    const signer: SignerConfig = {
      identity: {
        kind: 'keyless',
        tokenProvider: { getToken: async () => stack.oidcToken(IDENTITY) },
        fulcioURL: stack.fulcioURL,
      },
      rekorURL: stack.rekorURL,
      tsaURL: stack.tsaURL,
    };
    const log = memoryLog();
    const result = await timed(`publish ${version}`, () =>
      publishRelease(
        {
          settings,
          policy: settings.gatePolicy,
          release: meta,
          images,
          gate,
          git: {
            ref: `refs/tags/v${version}`,
            revision: '0123456789abcdef0123456789abcdef01234567',
            workflowRun: 'https://github.com/acme/edge-agent/actions/runs/4242',
          },
          reportsDir: reports,
        },
        {
          registry: client,
          log,
          signer,
          expectedSigner: expectedSignerFor(settings, signer),
          trustMaterial: async () => trustMaterialFromJSON(stack.trustedRoot),
          readText: (f) => readFile(f, 'utf8'),
          writeText: (f, t) => writeFile(f, t),
          now: () => new Date(),
        },
      ),
    );
    releases.push({ version, result, images, reports });
    return result;
  }

  const bundleOf = (version: string, platform: string, kind: 'full' | 'delta'): OfflineBundle => {
    const r = releases.find((x) => x.version === version)!;
    const b = r.result.offlineBundles!.find((x) => x.platform === platform && x.kind === kind);
    if (!b) throw new Error(`no ${kind} bundle of ${version} for ${platform}`);
    return b;
  };
  const bundleFile = (version: string, platform: string, kind: 'full' | 'delta') => {
    const r = releases.find((x) => x.version === version)!;
    return path.join(r.reports, bundleOf(version, platform, kind).file);
  };
  const digestOf = (version: string, platform = 'linux/amd64') =>
    releases.find((x) => x.version === version)!.images.find((i) => i.platform === platform)!.digest;
  const destArgs = () => ['--dest-cert-dir', site.certDir, '--authfile', site.authFile];
  const manifestOf = (version: string): DeploymentManifest =>
    releases.find((x) => x.version === version)!.result.manifest;

  beforeAll(async () => {
    await ensureHostTools();
    [reg, site, stack] = await Promise.all([startRegistry(), startRegistry(), startSigstoreStack()]);
    scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-offline-'));
    trustedRootFile = path.join(scratch, 'trusted_root.json');
    await writeFile(trustedRootFile, JSON.stringify(stack.trustedRoot));
    client = new RegistryClient({
      registry: reg.host,
      credentials: resolverFromInputs(reg.host, reg.username, reg.password),
      ca: await readFile(reg.caFile, 'utf8'),
    });
    base = await publishBaseImage(reg);
    await release('1.0.0');
    await release('1.0.1');
    await release('1.0.2', false);
  });

  afterAll(async () => {
    console.log(`offline bundle e2e timings (ms): ${JSON.stringify(timings)}`);
    await client?.close();
    await reg?.stop();
    await site?.stop();
    await stack?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('writes a full bundle per platform, and a delta from the baseline once there is one', () => {
    expect(base).toContain('base/busybox');
    const kinds = (v: string) =>
      releases.find((r) => r.version === v)!.result.offlineBundles!.map((b) => `${b.platform} ${b.kind}`);
    expect(kinds('1.0.0')).toEqual(['linux/amd64 full', 'linux/arm64 full']);
    expect(kinds('1.0.1')).toEqual([
      'linux/amd64 full',
      'linux/amd64 delta',
      'linux/arm64 full',
      'linux/arm64 delta',
    ]);
    expect(bundleOf('1.0.1', 'linux/amd64', 'delta').file).toBe(
      'edgeship-1.0.1-linux-amd64-delta-from-1.0.0.oci.tar.zst',
    );
    expect(bundleOf('1.0.1', 'linux/amd64', 'delta').bytes).toBeLessThan(
      bundleOf('1.0.1', 'linux/amd64', 'full').bytes / 10,
    );
  });

  it('the signed deployment manifest lists each bundle; its bytes and sha256 pin the bundle head', async () => {
    const m = manifestOf('1.0.1');
    const amd64 = m.platforms.find((p) => p.platform === 'linux/amd64')!;
    expect(amd64.bundles!.map((b) => [b.kind, b.baseline])).toEqual([
      ['full', undefined],
      ['delta', '1.0.0'],
    ]);
    const text = await readFile(releases[1]!.result.manifestFile, 'utf8');
    expect(parseDeploymentManifest(text).platforms[0]!.bundles).toEqual(amd64.bundles);
    for (const listed of amd64.bundles!) {
      const file = await readFile(path.join(releases[1]!.reports, listed.file));
      expect(sha256(file.subarray(0, listed.bytes))).toBe(listed.sha256);
      const out = bundleOf('1.0.1', 'linux/amd64', listed.kind);
      expect(out.sha256).toBe(sha256(file));
      expect(out.bytes).toBe(file.length);
    }
  });

  it('skopeo copy oci-archive: puts the full bundle into a second registry with the published digest', async () => {
    const target = `${site.host}/${REPO}:1.0.0`;
    await timed('skopeo copy full', () =>
      tool('skopeo', [
        'copy',
        '--preserve-digests',
        ...destArgs(),
        `oci-archive:${bundleFile('1.0.0', 'linux/amd64', 'full')}`,
        `docker://${target}`,
      ]),
    );
    const raw = await tool('skopeo', ['inspect', '--raw', ...registryArgs(site), `docker://${target}`]);
    expect(sha256(Buffer.from(raw))).toBe(digestOf('1.0.0'));
  });

  it('the delta bundle imports into the registry holding 1.0.0 and yields 1.0.1 with the published digest', async () => {
    const target = `${site.host}/${REPO}:1.0.1`;
    await timed('skopeo copy delta', () =>
      tool('skopeo', [
        'copy',
        '--preserve-digests',
        ...destArgs(),
        `oci-archive:${bundleFile('1.0.1', 'linux/amd64', 'delta')}`,
        `docker://${target}`,
      ]),
    );
    const raw = await tool('skopeo', ['inspect', '--raw', ...registryArgs(site), `docker://${target}`]);
    expect(sha256(Buffer.from(raw))).toBe(digestOf('1.0.1'));
  });

  it('the delta bundle is refused by a registry without the baseline, naming the missing blob', async () => {
    const empty = await startRegistry();
    const result = await attempt('skopeo', [
      'copy',
      '--dest-cert-dir',
      empty.certDir,
      '--authfile',
      empty.authFile,
      `oci-archive:${bundleFile('1.0.1', 'linux/amd64', 'delta')}`,
      `docker://${empty.host}/${REPO}:1.0.1`,
    ]).finally(() => empty.stop());
    expect(result.exitCode).not.toBe(0);
    const baseLayer = releases[0]!.images[0]!.layers[0]!.digest;
    expect(result.output).toContain(baseLayer.slice('sha256:'.length));
  });

  describe('ctr images import (containerd 1.7, as K3s runs it)', () => {
    let containerd: PrivateContainerd;
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'es-ctd-'));
      containerd = await startContainerd(dir);
    });
    afterAll(async () => {
      await containerd?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('imports the full bundle, then the delta on top; both with the published digests', async () => {
      // containerd 1.7 reads a plain tar: K3s decompresses *.tar.zst itself, as `zstd -dc` does here.
      const tar = async (file: string) => {
        const out = path.join(dir, `${path.basename(file)}.tar`);
        await tool('zstd', ['-q', '-d', '-f', file, '-o', out]);
        return out;
      };
      const full = await tar(bundleFile('1.0.0', 'linux/amd64', 'full'));
      const delta = await tar(bundleFile('1.0.1', 'linux/amd64', 'delta'));
      await timed('ctr import full', () => containerd.ctr(['images', 'import', full]));
      await timed('ctr import delta', () => containerd.ctr(['images', 'import', delta]));
      const list = await containerd.ctr(['images', 'ls']);
      expect(list).toContain(`${reg.host}/${REPO}:1.0.0`);
      expect(list).toMatch(new RegExp(`${reg.host}/${REPO}:1\\.0\\.0\\s+\\S+\\s+${digestOf('1.0.0')}`));
      expect(list).toMatch(new RegExp(`${reg.host}/${REPO}:1\\.0\\.1\\s+\\S+\\s+${digestOf('1.0.1')}`));
    });
  });

  describe('docker load and edgeship-install.sh (Docker Engine 26)', () => {
    let engine: DockerEngine;
    let cosign: { cosign: string; env: Record<string, string> };
    let device: string;
    let env: Record<string, string>;
    const install = (version: string, args: string[]) =>
      attempt(
        'sh',
        [
          path.join(releases.find((r) => r.version === version)!.reports, 'edgeship-install.sh'),
          '--network',
          'none',
          '--timeout',
          '20',
          ...args,
        ],
        { env },
      );
    const running = async () =>
      (
        await tool(engine.docker, ['inspect', '--format', '{{.Image}}', 'edge-agent'], { env: engine.env })
      ).trim();

    beforeAll(async () => {
      engine = await startDockerEngine();
      device = await mkdtemp(path.join(os.tmpdir(), 'es-device-'));
      cosign = await cosignFor(stack.trustedRoot, device);
      const bin = path.join(device, 'bin');
      await mkdir(bin);
      await writeFile(path.join(bin, 'cosign'), `#!/bin/sh\nexec ${cosign.cosign} "$@"\n`);
      await chmod(path.join(bin, 'cosign'), 0o755);
      env = { ...engine.env, ...cosign.env, PATH: `${bin}:${engine.env.PATH}` };
    });
    afterAll(async () => {
      await engine?.stop();
      if (device) await rm(device, { recursive: true, force: true });
    });

    it('docker load takes the full bundle; the image is the published manifest', async () => {
      await timed('docker load full', () =>
        tool(engine.docker, ['load', '-i', bundleFile('1.0.2', 'linux/amd64', 'full')], { env: engine.env }),
      );
      const id = await tool(
        engine.docker,
        ['image', 'inspect', '--format', '{{.Id}}', `${reg.host}/${REPO}:1.0.2`],
        { env: engine.env },
      );
      expect(id.trim()).toBe(digestOf('1.0.2'));
    });

    it('installs 1.0.0 fresh from its full bundle (cosign-verified) and runs it healthy', async () => {
      const result = await timed('install fresh', () =>
        install('1.0.0', ['--bundle', bundleFile('1.0.0', 'linux/amd64', 'full')]),
      );
      expect(result.exitCode, result.output).toBe(0);
      expect(result.output).toContain('is healthy');
      expect(await running()).toBe(digestOf('1.0.0'));
    });

    it('rolls 1.0.2 back to 1.0.0 when its health check fails', async () => {
      const result = await timed('install failing', () =>
        install('1.0.2', ['--bundle', bundleFile('1.0.2', 'linux/amd64', 'full')]),
      );
      expect(result.exitCode).not.toBe(0);
      expect(result.output).toContain('rolled back');
      expect(await running()).toBe(digestOf('1.0.0'));
    });

    it('upgrades 1.0.0 to 1.0.1 with the delta bundle', async () => {
      const result = await timed('install delta', () =>
        install('1.0.1', ['--bundle', bundleFile('1.0.1', 'linux/amd64', 'delta')]),
      );
      expect(result.exitCode, result.output).toBe(0);
      expect(await running()).toBe(digestOf('1.0.1'));
    });

    it('refuses a bundle for another architecture, by name', async () => {
      const result = await install('1.0.1', ['--bundle', bundleFile('1.0.1', 'linux/arm64', 'full')]);
      expect(result.exitCode).not.toBe(0);
      expect(result.output).toContain('is for linux/arm64; this device is linux/amd64');
      expect(await running()).toBe(digestOf('1.0.1'));
    });

    it('--dry-run prints what it would do and changes nothing', async () => {
      const result = await install('1.0.1', [
        '--dry-run',
        '--bundle',
        bundleFile('1.0.1', 'linux/amd64', 'full'),
      ]);
      expect(result.exitCode, result.output).toBe(0);
      expect(result.output).toContain('would run: docker load');
      expect(result.output).toContain('would run: docker run');
      expect(await running()).toBe(digestOf('1.0.1'));
    });

    it('the README device commands verify a bundle offline; a tampered layer fails them', async () => {
      const dir = path.join(device, 'unpacked');
      await mkdir(dir);
      await tool('tar', ['--zstd', '-xf', bundleFile('1.0.1', 'linux/amd64', 'full'), '-C', dir]);
      const m = manifestOf('1.0.1');
      const manifestFile = `edgeship-deployment-1.0.1.yaml`;
      const offline = (args: string[]) =>
        attempt('unshare', ['--net', cosign.cosign, ...args], { env: cosign.env, cwd: dir });
      const who = [
        '--certificate-identity',
        m.signatures.identity!,
        '--certificate-oidc-issuer',
        GITHUB_ACTIONS_ISSUER,
      ];
      const common = [
        'verify-blob-attestation',
        '--offline',
        '--new-bundle-format',
        '--trusted-root',
        'trusted_root.json',
      ];
      const manifestCheck = await timed('cosign offline', () =>
        offline([
          ...common,
          '--bundle',
          `${manifestFile}.sigstore.json`,
          '--type',
          'https://edgeship.dev/deployment-manifest/v1',
          ...who,
          manifestFile,
        ]),
      );
      expect(manifestCheck.exitCode, manifestCheck.output).toBe(0);
      const sumsCheck = await offline([
        ...common,
        '--bundle',
        'SHA256SUMS.sigstore.json',
        '--type',
        'https://edgeship.dev/offline-bundle/v1',
        ...who,
        'SHA256SUMS',
      ]);
      expect(sumsCheck.exitCode, sumsCheck.output).toBe(0);
      expect((await attempt('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: dir })).exitCode).toBe(0);
      const digest = digestOf('1.0.1');
      const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as {
        manifests: Array<{ digest: string }>;
      };
      expect(index.manifests[0]!.digest).toBe(digest);
      expect(
        parseDeploymentManifest(await readFile(path.join(dir, manifestFile), 'utf8')).platforms[0]!.digest,
      ).toBe(digest);
      expect(`sha256:${await fileSha256(path.join(dir, 'blobs', 'sha256', digest.slice(7)))}`).toBe(digest);
      // One byte changed in the top layer.
      const layer = releases[1]!.images[0]!.layers.at(-1)!.digest;
      const layerFile = path.join(dir, 'blobs', 'sha256', layer.slice(7));
      const bytes = await readFile(layerFile);
      const middle = bytes.length >> 1;
      bytes[middle] = bytes[middle]! ^ 0xff;
      await writeFile(layerFile, bytes);
      const tampered = await attempt('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: dir });
      expect(tampered.exitCode).not.toBe(0);
      expect(tampered.output).toContain(`blobs/sha256/${layer.slice(7)}: FAILED`);
      expect(`sha256:${await fileSha256(layerFile)}`).not.toBe(layer);
    });
  });

  it('edgeship-install.sh is shellcheck-clean (POSIX sh)', async () => {
    const shellcheck = await shellcheckBinary(scratch);
    const script = path.join(releases[1]!.reports, 'edgeship-install.sh');
    const result = await attempt(shellcheck, ['--shell=sh', script]);
    expect(result.exitCode, result.output).toBe(0);
    expect((await readdir(releases[1]!.reports)).filter((f) => f.endsWith('.oci.tar.zst'))).toHaveLength(4);
  });
});
