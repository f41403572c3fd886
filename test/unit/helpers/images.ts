/** Small images for stage tests: PlatformImage values, images "pushed" into the fake registry, OCI layouts. */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parsePlatform } from '../../../src/image/platform.js';
import type { PlatformImage } from '../../../src/image/pushed-image.js';
import type { FakeRegistry } from '../registry/fake-registry.js';

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A PlatformImage as the build stage returns it: a non-root image with a HEALTHCHECK and one layer. */
export function platformImage(platform: string, overrides: Partial<PlatformImage> = {}): PlatformImage {
  const { os, architecture, variant } = parsePlatform(platform);
  return {
    platform,
    digest: sha256(Buffer.from(`manifest of ${platform}`)),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    manifestSize: 500,
    size: 1000,
    config: {
      os,
      architecture,
      ...(variant ? { variant } : {}),
      user: '65532',
      healthcheck: true,
      labels: {},
    },
    configDigest: sha256(Buffer.from(`config of ${platform}`)),
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: sha256(Buffer.from(platform)),
        size: 900,
      },
    ],
    ...overrides,
  };
}

/** Config, layer and manifest of a one-layer image for `platform` (docker or OCI media types). */
export function imageDocuments(platform: string, format: 'oci' | 'docker' = 'oci') {
  const { os, architecture, variant } = parsePlatform(platform);
  const layer = Buffer.from(`layer of ${platform}: ${'x'.repeat(64)}`);
  const config = Buffer.from(
    JSON.stringify({
      architecture,
      os,
      ...(variant ? { variant } : {}),
      config: { User: '65532', Healthcheck: { Test: ['CMD', '/agent', 'health'] } },
      rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
    }),
  );
  const types =
    format === 'oci'
      ? {
          manifest: 'application/vnd.oci.image.manifest.v1+json',
          config: 'application/vnd.oci.image.config.v1+json',
          layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
        }
      : {
          manifest: 'application/vnd.docker.distribution.manifest.v2+json',
          config: 'application/vnd.docker.container.image.v1+json',
          layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
        };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: types.manifest,
      config: { mediaType: types.config, digest: sha256(config), size: config.length },
      layers: [{ mediaType: types.layer, digest: sha256(layer), size: layer.length }],
    }),
  );
  return { config, layer, manifest, mediaType: types.manifest, digest: sha256(manifest) };
}

/** What BuildKit does on `push-by-digest`: the image lands in the registry under its digest, untagged. */
export function pushIntoRegistry(registry: FakeRegistry, repository: string, platform: string): string {
  const image = imageDocuments(platform);
  registry.addBlob(repository, image.config);
  registry.addBlob(repository, image.layer);
  return registry.addManifest(repository, undefined, image.manifest, image.mediaType);
}

/** What `buildah push … oci:<dir>:<tag>` writes: an OCI layout with a docker-format image; returns its digest. */
export function writeOciLayout(layoutDir: string, tag: string, platform: string): string {
  const image = imageDocuments(platform, 'docker');
  mkdirSync(path.join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  for (const blob of [image.config, image.layer, image.manifest]) {
    writeFileSync(path.join(layoutDir, 'blobs', 'sha256', sha256(blob).slice('sha256:'.length)), blob);
  }
  writeFileSync(path.join(layoutDir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    path.join(layoutDir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: image.mediaType,
          digest: image.digest,
          size: image.manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return image.digest;
}
