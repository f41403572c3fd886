import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { PassThrough, Readable } from 'node:stream';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { writeFrame } from '../../../src/bundles/archive-writer.js';
import { imageFiles, signatureFiles, type BundleRegistry } from '../../../src/bundles/collect.js';
import { renderInstaller } from '../../../src/bundles/installer.js';
import {
  bundleFileName,
  memoryFile,
  readWhole,
  sumsText,
  type BundleFile,
} from '../../../src/bundles/layout.js';
import {
  bundleListing,
  finishBundles,
  splitFile,
  writeBundleImages,
  writeHandOverPart,
} from '../../../src/bundles/offline-bundles.js';
import { tarHeader, TarError } from '../../../src/bundles/tar.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { RegistryError } from '../../../src/registry/errors.js';
import { FakeRegistry } from '../registry/fake-registry.js';
import { memoryLog } from '../helpers/memory-host.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const digest = (data: Buffer | string) => `sha256:${sha(data)}`;

/** Reads a ustar stream back: path → content. */
function untar(data: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let offset = 0;
  while (offset + 512 <= data.length) {
    const header = data.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const name = field(0, 100);
    const prefix = field(345, 155);
    const size = parseInt(field(124, 12), 8);
    files.set(prefix ? `${prefix}/${name}` : name, data.subarray(offset + 512, offset + 512 + size));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** Node's zstdDecompressSync stops after the first frame (the zstd CLI and Go's decoders read them all). */
const unzstd = (data: Buffer, firstFrame: number) => {
  const one = (b: Buffer) =>
    b.length === 0
      ? Buffer.alloc(0)
      : (zlib as unknown as { zstdDecompressSync: (b: Buffer) => Buffer }).zstdDecompressSync(b);
  return Buffer.concat([one(data.subarray(0, firstFrame)), one(data.subarray(firstFrame))]);
};

/** An in-memory registry with one image (config + 2 layers) and one referrer in the fallback index. */
function fakeRegistry() {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, { body: Buffer; mediaType: string }>();
  const blob = (text: string) => {
    const body = Buffer.from(text);
    blobs.set(digest(body), body);
    return { mediaType: 'application/octet-stream', digest: digest(body), size: body.length };
  };
  const put = (json: unknown, mediaType: string, tag?: string) => {
    const body = Buffer.from(JSON.stringify(json));
    manifests.set(digest(body), { body, mediaType });
    if (tag) manifests.set(tag, { body, mediaType });
    return digest(body);
  };
  const config = blob('{"architecture":"arm64","os":"linux"}');
  const base = blob('base layer bytes');
  const top = blob('top layer bytes, release 2');
  const image = put(
    { schemaVersion: 2, config, layers: [base, top] },
    'application/vnd.oci.image.manifest.v1+json',
  );
  const bundleLayer = blob('{"sigstore":"bundle"}');
  const emptyConfig = blob('{}');
  const referrer = put(
    { schemaVersion: 2, config: emptyConfig, layers: [bundleLayer], subject: { digest: image } },
    'application/vnd.oci.image.manifest.v1+json',
  );
  put(
    {
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: referrer, size: 10 }],
    },
    'application/vnd.oci.image.index.v1+json',
    `sha256-${image.slice(7)}`,
  );
  const registry: BundleRegistry = {
    registry: 'registry.test',
    getManifest: async (_repo, ref) => {
      const m = manifests.get(ref);
      if (!m)
        throw new RegistryError({ operation: 'get manifest', reason: 'not found', status: 404 } as never);
      return {
        body: m.body,
        json: JSON.parse(m.body.toString()),
        digest: digest(m.body),
        mediaType: m.mediaType,
        size: m.body.length,
      };
    },
    getBlob: async (_repo, d) => blobs.get(d)!,
    blobStream: (_repo, d) => Readable.from([blobs.get(d)!]),
    putManifest: async () => '',
    uploadBlob: async () => ({}) as never,
  };
  return { registry, image, config, base, top, referrer, bundleLayer };
}

describe('tar', () => {
  it('writes ustar headers with a valid checksum, splitting long paths into prefix and name', () => {
    const header = tarHeader(`${'d'.repeat(120)}/file`, 5);
    expect(header.subarray(345, 465).toString().replace(/\0+$/, '')).toBe('d'.repeat(120));
    expect(header.subarray(0, 4).toString()).toBe('file');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
    expect(parseInt(header.subarray(148, 154).toString(), 8)).toBe(sum);
    expect(() => tarHeader('x'.repeat(101), 1)).toThrow(TarError);
  });
});

describe('writeFrame', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bundles-unit-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('two frames (zstd or gzip) concatenate into one tar; the first frame is hashed on its own', async () => {
    for (const compression of ['zstd', 'gzip'] as const) {
      const file = path.join(dir, `b.${compression}`);
      const first = await writeFrame(file, [memoryFile('a.txt', 'alpha')], {
        compression,
        append: false,
        end: false,
      });
      await writeFrame(file, [memoryFile('b/c.txt', 'gamma')], { compression, append: true, end: true });
      const data = await readFile(file);
      expect(first.sha256).toBe(sha(data.subarray(0, first.bytes)));
      expect(first.files).toEqual([{ path: 'a.txt', sha256: sha('alpha') }]);
      const tar = compression === 'zstd' ? unzstd(data, first.bytes) : zlib.gunzipSync(data);
      const files = untar(tar);
      expect([...files.keys()]).toEqual(['a.txt', 'b/c.txt']);
      expect(files.get('b/c.txt')!.toString()).toBe('gamma');
    }
  });
});

describe('writeFrame with streamed files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bundles-unit-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const streamed = (name: string, data: Buffer, fail?: Error): BundleFile => ({
    path: name,
    size: data.length,
    sha256: sha(data),
    content: () =>
      Readable.from(
        (async function* () {
          for (let i = 0; i < data.length; i += 100_000) {
            if (fail && i >= data.length / 2) throw fail;
            yield data.subarray(i, i + 100_000);
          }
        })(),
      ),
  });

  it('streams blobs through tar and compressor: the same archive as whole files', async () => {
    const big = randomBytes(1_500_000);
    const file = path.join(dir, 'b.zst');
    const frame = await writeFrame(file, [memoryFile('a.txt', 'alpha'), streamed('blob', big)], {
      compression: 'zstd',
      append: false,
      end: true,
    });
    const files = untar(unzstd(await readFile(file), frame.bytes));
    expect(files.get('blob')!.equals(big)).toBe(true);
    expect(frame.files).toEqual([
      { path: 'a.txt', sha256: sha('alpha') },
      { path: 'blob', sha256: sha(big) },
    ]);
  });

  it('a stream failing midway fails the frame and removes the file; streams opened ahead are destroyed', async () => {
    const file = path.join(dir, 'b.zst');
    let ahead: Readable | undefined;
    const next: BundleFile = {
      ...streamed('next', randomBytes(1000)),
      content: () => (ahead = Readable.from([randomBytes(1000)])),
    };
    const failing = streamed('blob', randomBytes(1_000_000), new Error('digest mismatch (test)'));
    await expect(
      writeFrame(file, [failing, next], { compression: 'gzip', append: false, end: true }),
    ).rejects.toThrow('digest mismatch (test)');
    await expect(readdir(dir)).resolves.toEqual([]);
    expect(ahead?.destroyed).toBe(true);
  });

  it('a file read ahead that fails before its turn surfaces when its turn comes (not unhandled)', async () => {
    const file = path.join(dir, 'b.zst');
    const broken: BundleFile = {
      path: 'broken',
      size: 10,
      content: () => {
        const stream = new PassThrough();
        setImmediate(() => stream.destroy(new Error('read ahead failed (test)')));
        return stream;
      },
    };
    const slow = streamed('slow', randomBytes(500_000));
    await expect(
      writeFrame(file, [slow, broken], { compression: 'zstd', append: false, end: true }),
    ).rejects.toThrow('read ahead failed (test)');
  });
});

describe('bundles through the registry client (loopback fake registry)', () => {
  let dir: string;
  let registry: FakeRegistry;
  let client: RegistryClient;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bundles-unit-'));
    registry = await new FakeRegistry().start();
    client = new RegistryClient({
      registry: `http://${registry.host}`,
      sleep: async () => undefined,
      random: () => 1,
    });
  });
  afterEach(async () => {
    await client.close();
    await registry.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function pushImage() {
    const layer = randomBytes(2_000_000);
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const ref = (b: Buffer, mediaType: string) => ({
      mediaType,
      digest: registry.addBlob('acme/agent', b),
      size: b.length,
    });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: ref(config, 'application/vnd.oci.image.config.v1+json'),
        layers: [ref(layer, 'application/vnd.oci.image.layer.v1.tar+gzip')],
      }),
    );
    const image = registry.addManifest(
      'acme/agent',
      undefined,
      manifest,
      'application/vnd.oci.image.manifest.v1+json',
    );
    return { layer, layerDigest: digest(layer), image };
  }

  const request = (image: string) => ({
    registry: client,
    repository: 'acme/agent',
    reference: 'r.test/acme/agent:1.0.0',
    version: '1.0.0',
    images: [{ platform: 'linux/amd64', digest: image, config: { os: 'linux', architecture: 'amd64' } }],
    mode: 'full' as const,
    compression: 'zstd' as const,
    dir,
    log: memoryLog(),
  });

  const layerGets = (d: string) =>
    registry.registryRequests().filter((r) => r.endsWith(`/blobs/${d}`)).length;

  it('a layer download cut midway is read again: the bundle holds the layer once, intact', async () => {
    const { layer, layerDigest, image } = pushImage();
    registry.failNext(
      1,
      (r) => r.method === 'GET' && r.url.endsWith(`/blobs/${layerDigest}`),
      (res) => {
        res.writeHead(200, { 'content-length': String(layer.length) });
        res.write(layer.subarray(0, 700_000), () => setTimeout(() => res.socket?.destroy(), 20));
      },
    );
    const [started] = await writeBundleImages(request(image));
    const files = untar(unzstd(await readFile(started!.file), started!.content.bytes));
    expect(files.get(`blobs/sha256/${layerDigest.slice(7)}`)!.equals(layer)).toBe(true);
    expect(layerGets(layerDigest)).toBe(2);
  });

  it('a layer that does not match its digest fails the bundle (DIGEST_MISMATCH) and leaves no file', async () => {
    const { layer, layerDigest, image } = pushImage();
    const tampered = Buffer.from(layer);
    tampered[1_000_000] = tampered[1_000_000]! ^ 1;
    registry.failNext(
      1,
      (r) => r.method === 'GET' && r.url.endsWith(`/blobs/${layerDigest}`),
      (res) => {
        res.writeHead(200, { 'content-length': String(tampered.length) });
        res.end(tampered);
      },
    );
    const error = await writeBundleImages(request(image)).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).code).toBe('DIGEST_MISMATCH');
    expect((error as RegistryError).message).toContain(layerDigest);
    await expect(readdir(dir)).resolves.toEqual([]);
    expect(layerGets(layerDigest)).toBe(1);
  });
});

describe('collect', () => {
  it('the image as OCI layout + docker archive, named for every loader; a delta leaves out the baseline blobs', async () => {
    const f = fakeRegistry();
    const full = await imageFiles(
      f.registry,
      'acme/agent',
      { digest: f.image, platform: { os: 'linux', architecture: 'arm64' } },
      'r.test/acme/agent:2.0.0',
    );
    expect(full.files.map((x) => x.path)).toEqual([
      'oci-layout',
      'index.json',
      'manifest.json',
      `blobs/sha256/${f.image.slice(7)}`,
      `blobs/sha256/${f.config.digest.slice(7)}`,
      `blobs/sha256/${f.base.digest.slice(7)}`,
      `blobs/sha256/${f.top.digest.slice(7)}`,
    ]);
    const index = JSON.parse((await readWhole(full.files[1]!)).toString());
    expect(index.manifests[0].annotations).toEqual({
      'io.containerd.image.name': 'r.test/acme/agent:2.0.0',
      'org.opencontainers.image.ref.name': 'r.test/acme/agent:2.0.0',
    });
    expect(index.manifests[0].platform).toEqual({ os: 'linux', architecture: 'arm64' });
    const docker = JSON.parse((await readWhole(full.files[2]!)).toString());
    expect(docker).toEqual([
      {
        Config: `blobs/sha256/${f.config.digest.slice(7)}`,
        RepoTags: ['r.test/acme/agent:2.0.0'],
        Layers: [`blobs/sha256/${f.base.digest.slice(7)}`, `blobs/sha256/${f.top.digest.slice(7)}`],
      },
    ]);
    const delta = await imageFiles(
      f.registry,
      'acme/agent',
      { digest: f.image, platform: {} },
      'n:1',
      new Set([f.base.digest]),
    );
    expect(delta.files.map((x) => x.path)).not.toContain(`blobs/sha256/${f.base.digest.slice(7)}`);
    expect(delta.blobBytes).toBe(f.config.size + f.top.size);
    expect(delta.skipped).toBe(1);
  });

  it('signatures: referrers from the fallback index, in their own OCI layout', async () => {
    const f = fakeRegistry();
    const files = await signatureFiles(f.registry, 'acme/agent', f.image);
    expect(files.slice(0, 2).map((x) => x.path)).toEqual(['signatures/oci-layout', 'signatures/index.json']);
    expect(files.slice(2).map((x) => x.path)).toEqual(
      [f.referrer, digest('{}'), f.bundleLayer.digest]
        .map((d) => `signatures/blobs/sha256/${d.slice(7)}`)
        .sort(),
    );
    const index = JSON.parse((await readWhole(files[1]!)).toString());
    expect(index.manifests[0].annotations['dev.edgeship.subject']).toBe(f.image);
  });
});

describe('writeBundleImages and finishBundles', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bundles-unit-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('full + delta, listed for the manifest, finished with signed sums, split when too large', async () => {
    const f = fakeRegistry();
    const log = memoryLog();
    const started = await writeBundleImages({
      registry: f.registry,
      repository: 'acme/agent',
      reference: 'r.test/acme/agent:2.0.0',
      version: '2.0.0',
      images: [{ platform: 'linux/arm64', digest: f.image, config: { os: 'linux', architecture: 'arm64' } }],
      baseline: {
        version: '1.0.0',
        layersByPlatform: new Map([
          [
            'linux/arm64',
            {
              digest: 'sha256:' + 'a'.repeat(64),
              configDigest: 'sha256:' + 'b'.repeat(64),
              layers: [{ digest: f.base.digest }],
            },
          ],
        ]),
      },
      mode: 'both',
      compression: 'zstd',
      dir,
      log,
    });
    expect(started.map((s) => path.basename(s.file))).toEqual([
      'edgeship-2.0.0-linux-arm64.oci.tar.zst',
      'edgeship-2.0.0-linux-arm64-delta-from-1.0.0.oci.tar.zst',
    ]);
    const listing = bundleListing(started).get('linux/arm64')!;
    expect(listing.map((l) => [l.kind, l.baseline])).toEqual([
      ['full', undefined],
      ['delta', '1.0.0'],
    ]);
    const signed: string[] = [];
    const done = await finishBundles(started, {
      manifest: { name: 'edgeship-deployment-2.0.0.yaml', body: Buffer.from('manifest') },
      manifestBundle: { name: 'edgeship-deployment-2.0.0.yaml.sigstore.json', body: Buffer.from('{}') },
      trustedRoot: Buffer.from('{"root":1}'),
      installer: '#!/bin/sh\n',
      signSums: async (hex) => {
        signed.push(hex);
        return Buffer.from(`{"signed":"${hex}"}`);
      },
      maxSize: 300,
      log,
    });
    expect(done[0]!.files.length).toBeGreaterThan(1);
    expect(done[0]!.files.every((p) => p.bytes <= 300)).toBe(true);
    const names = await readdir(dir);
    expect(names).not.toContain('edgeship-2.0.0-linux-arm64.oci.tar.zst');
    expect(names).toContain('edgeship-2.0.0-linux-arm64.oci.tar.zst.001');
    const joined = Buffer.concat(await Promise.all(done[0]!.files.map((p) => readFile(p.file))));
    expect(digest(joined)).toBe(done[0]!.sha256);
    expect(sha(joined.subarray(0, listing[0]!.bytes))).toBe(listing[0]!.sha256.slice(7));
    const files = untar(unzstd(joined, listing[0]!.bytes));
    const sums = files.get('SHA256SUMS')!.toString();
    expect(sha(sums)).toBe(signed[0]);
    for (const [name, content] of files) {
      if (name === 'SHA256SUMS' || name === 'SHA256SUMS.sigstore.json') continue;
      expect(sums).toContain(`${sha(content)}  ${name}\n`);
    }
    expect(files.has(`signatures/blobs/sha256/${f.bundleLayer.digest.slice(7)}`)).toBe(true);
    expect(sha(joined.subarray(0, listing[0]!.bytes))).toBe(listing[0]!.sha256.slice(7));
    expect(
      untar(unzstd(joined.subarray(0, listing[0]!.bytes), listing[0]!.bytes)).has('signatures/index.json'),
    ).toBe(false);
    expect([...files.keys()].slice(-6)).toEqual([
      'edgeship-deployment-2.0.0.yaml',
      'edgeship-deployment-2.0.0.yaml.sigstore.json',
      'trusted_root.json',
      'edgeship-install.sh',
      'SHA256SUMS',
      'SHA256SUMS.sigstore.json',
    ]);
  });

  it('mode delta without a baseline writes the full bundle', async () => {
    const f = fakeRegistry();
    const started = await writeBundleImages({
      registry: f.registry,
      repository: 'acme/agent',
      reference: 'r:1',
      version: '1.0.0',
      images: [{ platform: 'linux/arm64', digest: f.image, config: { os: 'linux', architecture: 'arm64' } }],
      mode: 'delta',
      compression: 'gzip',
      dir,
      log: memoryLog(),
    });
    expect(started.map((s) => [s.kind, path.basename(s.file)])).toEqual([
      ['full', 'edgeship-1.0.0-linux-arm64.oci.tar.gz'],
    ]);
  });

  it('matrix: the build job writes the image part, the publish job takes it over instead of reading the registry', async () => {
    const f = fakeRegistry();
    const image = {
      platform: 'linux/arm64',
      digest: f.image,
      config: { os: 'linux', architecture: 'arm64' },
    };
    const common = {
      repository: 'acme/agent',
      reference: 'r:2.0.0',
      version: '2.0.0',
      compression: 'zstd' as const,
      dir,
      log: memoryLog(),
    };
    const names = await writeHandOverPart({ ...common, registry: f.registry }, image);
    expect(names).toEqual([
      'edgeship-2.0.0-linux-arm64.oci.tar.zst.image',
      'edgeship-2.0.0-linux-arm64.oci.tar.zst.image.sha256',
    ]);
    const unreachable = {
      ...f.registry,
      getBlob: () => Promise.reject(new Error('the publish job must not read the layers again')),
    };
    const started = await writeBundleImages({
      ...common,
      registry: unreachable,
      images: [image],
      mode: 'full',
    });
    const part = await readFile(started[0]!.file);
    expect(started[0]!.content).toEqual({ bytes: part.length, sha256: sha(part) });
    expect(started[0]!.sums.map((x) => x.path)).toContain(`blobs/sha256/${f.top.digest.slice(7)}`);
    expect(await readdir(dir)).toEqual(['edgeship-2.0.0-linux-arm64.oci.tar.zst']);
  });

  it('splitFile cuts exact parts', async () => {
    const file = path.join(dir, 'x');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, Buffer.alloc(1000, 7));
    const parts = await splitFile(file, 400);
    expect(parts.map((p) => [path.basename(p.file), p.bytes])).toEqual([
      ['x.001', 400],
      ['x.002', 400],
      ['x.003', 200],
    ]);
  });
});

describe('names and installer', () => {
  it('bundle file names', () => {
    expect(bundleFileName('1.8.2', 'linux/arm/v7', 'full', 'zstd')).toBe(
      'edgeship-1.8.2-linux-arm-v7.oci.tar.zst',
    );
    expect(bundleFileName('1.8.2', 'linux/amd64', 'delta', 'gzip', '1.8.1')).toBe(
      'edgeship-1.8.2-linux-amd64-delta-from-1.8.1.oci.tar.gz',
    );
    expect(sumsText([{ path: 'a', sha256: 'f'.repeat(64) }])).toBe(`${'f'.repeat(64)}  a\n`);
  });

  it('the installer carries the release constants, shell-quoted', () => {
    const script = renderInstaller(
      {
        image: { repository: 'r.test/acme/agent' },
        release: { version: '2.0.0' },
        signatures: { mode: 'keyless', identity: "https://x/it's", issuer: 'https://issuer' },
        platforms: [
          {
            platform: 'linux/arm64',
            digest: 'sha256:' + 'c'.repeat(64),
            user: '',
            healthcheck: true,
            delta: { baseline: { version: '1.0.0', digest: 'sha256:' + 'd'.repeat(64) } },
            bundles: [
              {
                kind: 'delta',
                file: 'f.zst',
                bytes: 10,
                sha256: 'sha256:' + 'e'.repeat(64),
                baseline: '1.0.0',
              },
            ],
          },
        ],
      } as never,
      { manifest: 'm.yaml', manifestBundle: 'm.yaml.sigstore.json', predicateType: 'https://t' },
    );
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain(`REPO='r.test/acme/agent'`);
    expect(script).toContain(`--certificate-identity 'https://x/it'\\''s'`);
    expect(script).toContain(`linux/arm64 sha256:${'c'.repeat(64)} - yes`);
    expect(script).toContain(
      `f.zst linux/arm64 delta 10 sha256:${'e'.repeat(64)} 1.0.0 sha256:${'d'.repeat(64)}`,
    );
  });

  describe('run settings from the manifest (device-run)', () => {
    const manifest = (run?: object) =>
      ({
        image: { repository: 'r.test/acme/agent' },
        release: { version: '2.0.0' },
        signatures: { mode: 'none' },
        platforms: ['linux/amd64', 'linux/arm64'].map((platform) => ({
          platform,
          digest: 'sha256:' + 'c'.repeat(64),
          user: '1000',
          healthcheck: false,
          delta: { baseline: null },
        })),
        ...(run ? { run } : {}),
      }) as never;
    const files = { manifest: 'm.yaml', manifestBundle: 'm.yaml.sigstore.json', predicateType: 'https://t' };
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'edgeship-installer-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    /** Runs the script with --pull --dry-run under dash against a docker stand-in; returns what it would run. */
    async function dryRun(script: string, ...args: string[]): Promise<string> {
      await writeFile(path.join(dir, 'install.sh'), script);
      // `info` succeeds (a running engine), `inspect` finds no container: a fresh install.
      await writeFile(path.join(dir, 'docker'), '#!/bin/sh\ncase $1 in info) exit 0 ;; *) exit 1 ;; esac\n', {
        mode: 0o755,
      });
      const { stderr } = await promisify(execFile)(
        'dash',
        [path.join(dir, 'install.sh'), '--pull', '--dry-run', '--engine', 'docker', ...args],
        { env: { PATH: `${dir}:${process.env.PATH ?? ''}` } },
      );
      return stderr.split('\n').find((l) => l.includes('would run: docker run')) ?? stderr;
    }

    it('renders the defaults when the manifest has none', () => {
      const script = renderInstaller(manifest(), files);
      expect(script).toContain(`RESTART='unless-stopped' TIMEOUT=60`);
      expect(script).toContain(`MEMORY='' CPUS=''`);
      expect(script).toContain(`READONLY=no RUNAS=''`);
    });

    it('renders the manifest run block as the defaults, shell-quoted', () => {
      const script = renderInstaller(
        manifest({
          restart: 'on-failure:3',
          memory: '256m',
          cpus: 1.5,
          readOnly: true,
          user: '65532:65532',
          healthTimeout: 90,
        }),
        files,
      );
      expect(script).toContain(`RESTART='on-failure:3' TIMEOUT=90`);
      expect(script).toContain(`MEMORY='256m' CPUS='1.5'`);
      expect(script).toContain(`READONLY=yes RUNAS='65532:65532'`);
    });

    it.runIf(process.arch === 'x64' || process.arch === 'arm64')(
      'starts the container with them, and flags override them',
      async () => {
        const script = renderInstaller(
          manifest({ restart: 'always', memory: '256m', cpus: 0.5, readOnly: true, user: '65532' }),
          files,
        );
        expect(await dryRun(script)).toMatch(
          / docker run -d --name agent --restart always --user 65532 --memory 256m --cpus 0\.5 --read-only r\.test\/acme\/agent@sha256:c{64}$/,
        );
        expect(
          await dryRun(script, '--restart', 'no', '--memory', '1g', '--user', '1000', '--no-read-only'),
        ).toMatch(/ docker run -d --name agent --restart no --user 1000 --memory 1g --cpus 0\.5 r\.test/);
        // Without a run block: the image's USER, unless-stopped, no limits.
        expect(await dryRun(renderInstaller(manifest(), files))).toMatch(
          / docker run -d --name agent --restart unless-stopped --user 1000 r\.test\/acme\/agent@sha256:c{64}$/,
        );
      },
    );
  });
});
