// Child process of bench/run.mjs: offline bundles (issue 12) against a REAL registry (Debian docker-registry,
// htpasswd + TLS) signed with the local Sigstore stack. Two releases of a sample image (a 6 MB base layer and
// a 2 MB top layer, part random, part text) are published by publishRelease with `offline-bundles: both`; the
// second changes only the top layer. Prints one JSON line with:
//   - delta: bytes of the linux/amd64 delta bundle, and the physical minimum: the new blobs (config + top
//     layer), the image manifest, the signatures and attestations, the deployment manifest and its bundle, and
//     the SHA256SUMS bundle (everything a device needs that is not derived: tar headers, index.json,
//     manifest.json, oci-layout, the trusted root, the installer and SHA256SUMS are overhead);
//   - create: wall time of writing + finishing the full linux/amd64 bundle (zstd) against `skopeo copy
//     docker://… oci-archive:…` plus `zstd` (the CLI at its defaults) of the same image, in paired rounds
//     after a warm-up (9, BENCH_BUNDLE_ROUNDS; which side goes first alternates): the median of the rounds'
//     ratios, every ratio, the medians of the times and the 1-minute load average before and after, and the
//     median ratio of CPU time (this process with its thread pool against skopeo + zstd; the registry's
//     own CPU is left out on both sides);
//   - sizes: the full bundle with zstd and with gzip; its image frame against skopeo's archive through the
//     `zstd` CLI; and one input (skopeo's archive) through the bundle's compressor and through the CLI.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFile, execFileSync } from 'node:child_process';
import { compressor } from '../src/bundles/archive-writer.js';
import { finishBundles, writeBundleImages, type BundleRequest } from '../src/bundles/offline-bundles.js';
import { parsePlatform } from '../src/image/platform.js';
import { resolvePlatformImage, type PlatformImage } from '../src/image/pushed-image.js';
import { expectedSignerFor } from '../src/publish/publish-deps.js';
import { publishRelease, type PublishResult } from '../src/publish/release.js';
import { RegistryClient } from '../src/registry/client.js';
import { resolverFromInputs } from '../src/registry/credentials.js';
import { OCI_IMAGE_CONFIG, OCI_IMAGE_MANIFEST } from '../src/registry/media-types.js';
import { releaseMetadata } from '../src/release/metadata.js';
import { readSettings } from '../src/settings/inputs.js';
import type { SignerConfig } from '../src/sign/signer.js';
import { trustMaterialFromJSON } from '../src/sign/verify.js';
import { memoryLog } from '../test/unit/helpers/memory-host.js';
import { passingGate } from '../test/unit/publish/harness.js';
import { startRegistry } from '../test/e2e/harness/registry.js';
import { startSigstoreStack } from '../test/e2e/harness/sigstore-stack.js';

const REPO = 'acme/edge-agent';
const PLATFORMS = ['linux/amd64', 'linux/arm64'];
const IDENTITY = 'https://github.com/acme/edge-agent/.github/workflows/release.yml@refs/tags/v1.0.0';
/** Paired rounds (the median ratio is reported), after one warm-up round of each side that is not counted. */
const RUNS = Number(process.env.BENCH_BUNDLE_ROUNDS ?? 9);
/** The base layer's uncompressed size (BENCH_BUNDLE_BASE_MB, default 6 MB; the top layer is 2 MB). */
const BASE_LAYER_BYTES = Number(process.env.BENCH_BUNDLE_BASE_MB ?? 6) * 1e6;
const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

function tarWithFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
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
  return Buffer.concat([
    header,
    content,
    Buffer.alloc((512 - (content.length % 512)) % 512),
    Buffer.alloc(1024),
  ]);
}

/** Half random bytes, half repetitive text: a layer that compresses about as well as a real binary layer. */
const layerContent = (bytes: number, seed: string) =>
  Buffer.concat([
    randomBytes(bytes / 2),
    Buffer.from(`${seed} log line with some text\n`.repeat(bytes / 60)),
  ]);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main() {
  const [reg, stack] = await Promise.all([startRegistry(), startSigstoreStack()]);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-bench-offline-'));
  try {
    const trustedRootFile = path.join(scratch, 'trusted_root.json');
    await writeFile(trustedRootFile, JSON.stringify(stack.trustedRoot));
    const client = new RegistryClient({
      registry: reg.host,
      credentials: resolverFromInputs(reg.host, reg.username, reg.password),
      ca: await readFile(reg.caFile, 'utf8'),
    });
    const baseLayers = new Map(
      PLATFORMS.map((p) => [p, gzipSync(tarWithFile('base', layerContent(BASE_LAYER_BYTES, p)))]),
    );
    const signer: SignerConfig = {
      identity: {
        kind: 'keyless',
        tokenProvider: { getToken: async () => stack.oidcToken(IDENTITY) },
        fulcioURL: stack.fulcioURL,
      },
      rekorURL: stack.rekorURL,
      tsaURL: stack.tsaURL,
    };

    async function release(
      version: string,
    ): Promise<{ result: PublishResult; images: PlatformImage[]; reports: string }> {
      const digests: string[] = [];
      for (const platform of PLATFORMS) {
        const { architecture } = parsePlatform(platform);
        const base = baseLayers.get(platform)!;
        const top = gzipSync(tarWithFile('agent', layerContent(2e6, `${version} ${platform}`)));
        const config = Buffer.from(
          JSON.stringify({
            architecture,
            os: 'linux',
            config: { User: '1000' },
            rootfs: { type: 'layers', diff_ids: [] },
          }),
        );
        for (const blob of [base, top, config]) await client.uploadBlob(REPO, blob);
        const layer = (b: Buffer) => ({
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: sha256(b),
          size: b.length,
        });
        const manifest = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_IMAGE_MANIFEST,
            config: { mediaType: OCI_IMAGE_CONFIG, digest: sha256(config), size: config.length },
            layers: [layer(base), layer(top)],
          }),
        );
        digests.push(await client.putManifest(REPO, sha256(manifest), manifest, OCI_IMAGE_MANIFEST));
      }
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
        'fulcio-url': stack.fulcioURL,
        'rekor-url': stack.rekorURL,
        'tsa-url': stack.tsaURL,
        'trusted-root': trustedRootFile,
        'release-assets': 'off',
        'offline-bundles': 'both',
      };
      const settings = readSettings((name) => inputs[name] ?? '', { workspace });
      const gate = await passingGate(images, settings.gatePolicy, reports);
      const result = await publishRelease(
        {
          settings,
          policy: settings.gatePolicy,
          release: releaseMetadata({
            ref: `refs/tags/v${version}`,
            sha: '0123456789abcdef0123456789abcdef01234567',
            repository: 'acme/edge-agent',
            serverUrl: 'https://github.com',
            runId: '1',
            runAttempt: '1',
            now: new Date(),
          }),
          images,
          gate,
          git: {
            ref: `refs/tags/v${version}`,
            revision: '0123456789abcdef0123456789abcdef01234567',
            workflowRun: 'https://github.com/acme/edge-agent/actions/runs/1',
          },
          reportsDir: reports,
        },
        {
          registry: client,
          log: memoryLog(),
          signer,
          expectedSigner: expectedSignerFor(settings, signer),
          trustMaterial: async () => trustMaterialFromJSON(stack.trustedRoot),
          readText: (f) => readFile(f, 'utf8'),
          writeText: (f, t) => writeFile(f, t),
          now: () => new Date(),
        },
      );
      return { result, images, reports };
    }

    await release('1.0.0');
    const second = await release('1.0.1');

    // Delta bytes against the physical minimum.
    const delta = second.result.offlineBundles!.find(
      (b) => b.platform === 'linux/amd64' && b.kind === 'delta',
    )!;
    const unpacked = path.join(scratch, 'delta');
    await mkdir(unpacked);
    execFileSync('tar', ['--zstd', '-xf', path.join(second.reports, delta.file), '-C', unpacked]);
    const overhead = new Set([
      'oci-layout',
      'index.json',
      'manifest.json',
      'signatures/oci-layout',
      'signatures/index.json',
      'trusted_root.json',
      'edgeship-install.sh',
      'SHA256SUMS',
    ]);
    let minimum = 0;
    let overheadBytes = 0;
    for (const file of await readdir(unpacked, { recursive: true })) {
      const info = await stat(path.join(unpacked, file));
      if (!info.isFile()) continue;
      if (overhead.has(file)) overheadBytes += info.size;
      else minimum += info.size;
    }

    // Full bundle creation time against skopeo copy + zstd.
    const amd64 = second.images.find((i) => i.platform === 'linux/amd64')!;
    const request = (compression: 'zstd' | 'gzip', dir: string): BundleRequest => ({
      registry: client,
      repository: REPO,
      reference: `${reg.host}/${REPO}:1.0.1`,
      version: '1.0.1',
      images: [amd64],
      mode: 'full',
      compression,
      dir,
      log: memoryLog(),
    });
    const manifestText = await readFile(second.result.manifestFile);
    const create = async (compression: 'zstd' | 'gzip') => {
      const dir = await mkdtemp(path.join(scratch, 'create-'));
      const start = performance.now();
      const started = await writeBundleImages(request(compression, dir));
      const imageMs = performance.now() - start;
      const [done] = await finishBundles(started, {
        manifest: { name: path.basename(second.result.manifestFile), body: manifestText },
        trustedRoot: Buffer.from(JSON.stringify(stack.trustedRoot)),
        installer: '#!/bin/sh\n',
        log: memoryLog(),
      });
      return {
        ms: performance.now() - start,
        imageMs,
        bytes: done!.bytes,
        frameBytes: started[0]!.content.bytes,
      };
    };
    // Run without blocking this process: the registry's log pipe is read here, and a full pipe stalls it.
    const run = (tool: string, args: string[]) =>
      new Promise<void>((resolve, reject) =>
        execFile(tool, args, (error) => (error ? reject(error) : resolve())),
      );
    /** CPU ms of this process (and its thread pool) and of its finished children, from /proc. */
    const cpu = () => {
      const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
      const ticks = (i: number) => Number(fields[i]) * 10;
      return { own: ticks(11) + ticks(12), children: ticks(13) + ticks(14) };
    };
    const skopeoZstd = async (i: number) => {
      const out = path.join(scratch, `skopeo-${i}.tar`);
      const before = cpu();
      const start = performance.now();
      await run('skopeo', [
        'copy',
        '--src-cert-dir',
        reg.certDir,
        '--authfile',
        reg.authFile,
        `docker://${reg.host}/${REPO}@${amd64.digest}`,
        `oci-archive:${out}`,
      ]);
      // The CLI at its defaults (level 3, one thread), said explicitly.
      await run('zstd', ['-q', '-f', '-3', '-T1', out, '-o', `${out}.zst`]);
      return { ms: performance.now() - start, cpuMs: cpu().children - before.children, tar: out };
    };
    // Warm-up (not counted): the first round of either side pays for cold caches and connections.
    await create('zstd');
    const warm = await skopeoZstd(-1);
    // Same input, both compressors: the bundle's (Node's zstd, the settings bundles use) against the CLI's.
    const ourCompressed = path.join(scratch, 'ours.tar.zst');
    await pipeline(createReadStream(warm.tar), compressor('zstd'), createWriteStream(ourCompressed));
    const sameInput = {
      node: (await stat(ourCompressed)).size,
      cli: (await stat(`${warm.tar}.zst`)).size,
    };
    // Paired rounds, alternating which side goes first: each round's ratio compares two runs a few hundred
    // ms apart, so load from other processes that comes and goes hits both sides of a ratio alike; the
    // median of the rounds' ratios is the result.
    const rounds: Array<{
      ms: number;
      imageMs: number;
      baselineMs: number;
      ratio: number;
      cpuRatio: number;
    }> = [];
    const load = [os.loadavg()[0]!];
    let zstdBytes = 0;
    let frameBytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const theirsFirst = i % 2 === 1;
      const before = theirsFirst ? await skopeoZstd(i) : undefined;
      const cpuBefore = cpu().own;
      const mine = await create('zstd');
      const mineCpu = cpu().own - cpuBefore;
      const theirs = before ?? (await skopeoZstd(i));
      rounds.push({
        ms: mine.ms,
        imageMs: mine.imageMs,
        baselineMs: theirs.ms,
        ratio: mine.ms / theirs.ms,
        cpuRatio: mineCpu / theirs.cpuMs,
      });
      zstdBytes = mine.bytes;
      frameBytes = mine.frameBytes;
    }
    load.push(os.loadavg()[0]!);
    const skopeoBytes = (await stat(path.join(scratch, `skopeo-${RUNS - 1}.tar.zst`))).size;
    const gzip = await create('gzip');
    await client.close();
    const middle = (pick: (r: (typeof rounds)[number]) => number) => median(rounds.map(pick));
    console.log(
      JSON.stringify({
        delta: { bytes: delta.bytes, minimum, overhead: overheadBytes },
        create: {
          ratio: middle((r) => r.ratio),
          ratios: rounds.map((r) => Number(r.ratio.toFixed(3))),
          ms: middle((r) => r.ms),
          imageMs: middle((r) => r.imageMs),
          baselineMs: middle((r) => r.baselineMs),
          // CPU time (registry excluded on both sides): less sensitive to other load than wall time.
          cpuRatio: middle((r) => r.cpuRatio),
          load,
        },
        sizes: { zstd: zstdBytes, gzip: gzip.bytes, frame: frameBytes, skopeoZstd: skopeoBytes, sameInput },
      }),
    );
  } finally {
    await reg.stop();
    await stack.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
