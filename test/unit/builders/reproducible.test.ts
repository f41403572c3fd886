import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clearBuildContainer, reproducibleLayoutImage } from '../../../src/builders/reproducible.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A docker-format config as buildah 1.28 writes it: the build container's hostname and id inside. */
function buildahConfig(host: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      created: '2023-11-14T22:13:20Z',
      container: `${host}0000`,
      container_config: { Hostname: host, Labels: { x: 'y' } },
      config: { Hostname: host, User: '65532', Healthcheck: { Test: ['CMD', '/bin/true'] } },
      architecture: 'arm64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: ['sha256:' + 'd'.repeat(64)] },
    }),
  );
}

let dir: string | undefined;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

function layout(config: Buffer): { dir: string; digest: string } {
  dir = mkdtempSync(path.join(os.tmpdir(), 'edgeship-repro-'));
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer) => {
    writeFileSync(path.join(dir!, 'blobs', 'sha256', sha(b).slice(7)), b);
    return sha(b);
  };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: {
        mediaType: 'application/vnd.docker.container.image.v1+json',
        digest: put(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
          digest: 'sha256:' + 'e'.repeat(64),
          size: 9,
        },
      ],
    }),
  );
  return { dir, digest: put(manifest) };
}

const files = {
  readBinary: async (f: string) => readFileSync(f),
  writeBinary: (f: string, b: Buffer) => writeFileSync(f, b),
};

describe('reproducible buildah images', () => {
  it('clears the build container and keeps everything that describes the image', () => {
    const cleared = JSON.parse(clearBuildContainer(buildahConfig('5cd8995fef3f'))!.toString()) as {
      container?: string;
      config: unknown;
      container_config: unknown;
      rootfs: { diff_ids: string[] };
    };
    expect(cleared.container).toBeUndefined();
    expect(cleared.config).toEqual({
      Hostname: '',
      User: '65532',
      Healthcheck: { Test: ['CMD', '/bin/true'] },
    });
    expect(cleared.container_config).toEqual({ Hostname: '', Labels: { x: 'y' } });
    expect(cleared.rootfs.diff_ids).toHaveLength(1);
    expect(clearBuildContainer(clearBuildContainer(buildahConfig('x'))!)).toBeUndefined();
  });

  it('gives two builds that differ only in their build container the same manifest digest', async () => {
    const first = layout(buildahConfig('5cd8995fef3f'));
    const a = await reproducibleLayoutImage(first.dir, first.digest, files);
    const second = layout(buildahConfig('0a1b2c3d4e5f'));
    const b = await reproducibleLayoutImage(second.dir, second.digest, files);
    expect(first.digest).not.toBe(second.digest);
    expect(a).toBe(b);
    const manifest = JSON.parse(readFileSync(path.join(second.dir, 'blobs', 'sha256', b.slice(7)), 'utf8'));
    const config = readFileSync(path.join(second.dir, 'blobs', 'sha256', manifest.config.digest.slice(7)));
    expect(manifest.config.size).toBe(config.length);
    expect(sha(config)).toBe(manifest.config.digest);
  });
});
