import type { RegistryClient } from '../registry/client.js';
import { isIndexMediaType } from '../registry/media-types.js';
import type { Platform } from './platform.js';
import { formatPlatform, samePlatform } from './platform.js';

export interface ImageDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** What later stages need from an image's config blob. */
export interface ImageConfigSummary {
  os: string;
  architecture: string;
  variant?: string;
  /** `User` from the config; '' when unset (which means root). */
  user: string;
  healthcheck: boolean;
  labels: Record<string, string>;
}

/** One platform's image as it exists in the registry, verified after the push. */
export interface PlatformImage {
  platform: string;
  digest: string;
  mediaType: string;
  /** Bytes of the manifest document itself (the index descriptor's size). */
  manifestSize: number;
  /** Compressed bytes of config + layers. */
  size: number;
  config: ImageConfigSummary;
  configDigest: string;
  layers: ImageDescriptor[];
}

export class PushedImageError extends Error {
  override name = 'PushedImageError';
}

export interface IndexEntry extends ImageDescriptor {
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

/** Attestation and builder entries BuildKit adds to an index: never a runnable platform. */
export function isAttestationEntry(entry: IndexEntry): boolean {
  const type = entry.annotations?.['vnd.docker.reference.type'];
  if (type === 'attestation-manifest' || type === 'builder') return true;
  return entry.platform?.os === 'unknown' || entry.platform?.architecture === 'unknown';
}

/** Picks the manifest for `platform` out of an index, ignoring attestation manifests. */
export function selectPlatformManifest(index: unknown, platform: Platform): ImageDescriptor {
  const manifests = (index as { manifests?: IndexEntry[] }).manifests;
  if (!Array.isArray(manifests)) throw new PushedImageError('the index has no manifests array');
  const candidates = manifests.filter((m) => !isAttestationEntry(m) && m.platform);
  const hit = candidates.find((m) =>
    samePlatform(
      {
        os: m.platform?.os ?? '',
        architecture: m.platform?.architecture ?? '',
        ...(m.platform?.variant ? { variant: m.platform.variant } : {}),
      },
      platform,
    ),
  );
  if (!hit) {
    const present = candidates.map((m) =>
      [m.platform?.os, m.platform?.architecture, m.platform?.variant].filter(Boolean).join('/'),
    );
    throw new PushedImageError(
      `the index has no manifest for ${formatPlatform(platform)} (it has: ${present.join(', ') || 'none'})`,
    );
  }
  return { mediaType: hit.mediaType, digest: hit.digest, size: hit.size };
}

/** Reads the fields later stages use from an OCI or Docker image config. */
export function summarizeImageConfig(doc: unknown): ImageConfigSummary {
  const c = (doc ?? {}) as {
    os?: unknown;
    architecture?: unknown;
    variant?: unknown;
    config?: { User?: unknown; Healthcheck?: { Test?: unknown }; Labels?: unknown } | null;
  };
  if (typeof c.os !== 'string' || typeof c.architecture !== 'string') {
    throw new PushedImageError('the image config has no os/architecture');
  }
  const test = c.config?.Healthcheck?.Test;
  const healthcheck = Array.isArray(test) && test.length > 0 && test[0] !== 'NONE';
  const labels: Record<string, string> = {};
  if (c.config?.Labels && typeof c.config.Labels === 'object') {
    for (const [k, v] of Object.entries(c.config.Labels as Record<string, unknown>)) {
      if (typeof v === 'string') labels[k] = v;
    }
  }
  return {
    os: c.os,
    architecture: c.architecture,
    ...(typeof c.variant === 'string' && c.variant ? { variant: c.variant } : {}),
    user: typeof c.config?.User === 'string' ? c.config.User : '',
    healthcheck,
    labels,
  };
}

/**
 * Reads back what a builder pushed for `platform` and checks it: when the digest is an index (BuildKit
 * attestations), the platform's manifest is picked out of it; the config must say the same platform.
 */
export async function resolvePlatformImage(
  client: RegistryClient,
  repository: string,
  digest: string,
  platform: Platform,
): Promise<PlatformImage> {
  let manifest = await client.getManifest(repository, digest);
  if (isIndexMediaType(manifest.mediaType)) {
    const entry = selectPlatformManifest(manifest.json, platform);
    manifest = await client.getManifest(repository, entry.digest);
  }
  const doc = manifest.json as { config?: ImageDescriptor; layers?: ImageDescriptor[] };
  if (!doc.config || !Array.isArray(doc.layers)) {
    throw new PushedImageError(`${repository}@${manifest.digest} is not an image manifest`);
  }
  const config = summarizeImageConfig(await client.getJsonBlob(repository, doc.config.digest));
  const actual: Platform = {
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  };
  if (!samePlatform(actual, platform)) {
    throw new PushedImageError(
      `the image pushed for ${formatPlatform(platform)} is ${formatPlatform(actual)} (${repository}@${manifest.digest}); ` +
        'check that the Dockerfile does not pin --platform in FROM',
    );
  }
  const layers = doc.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }));
  return {
    platform: formatPlatform(platform),
    digest: manifest.digest,
    mediaType: manifest.mediaType,
    manifestSize: manifest.body.length,
    size: doc.config.size + layers.reduce((sum, l) => sum + l.size, 0),
    config,
    configDigest: doc.config.digest,
    layers,
  };
}
