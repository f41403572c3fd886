import { describe, expect, it } from 'vitest';
import { LayoutError, singleLayoutManifest } from '../../../src/registry/oci-layout.js';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const layout = (index: unknown) => async (file: string) => {
  if (file !== '/l/index.json') throw new Error(`ENOENT: ${file}`);
  return Buffer.from(typeof index === 'string' ? index : JSON.stringify(index));
};

describe('singleLayoutManifest (the OCI layout one buildx export writes)', () => {
  it('returns the digest of the one image manifest', async () => {
    const index = { schemaVersion: 2, manifests: [{ mediaType: MANIFEST, digest: digest('a'), size: 1 }] };
    expect(await singleLayoutManifest('/l', layout(index))).toBe(digest('a'));
  });

  it('refuses an index with attestations, several manifests, none, or no index.json', async () => {
    const nested = { manifests: [{ mediaType: INDEX, digest: digest('b'), size: 1 }] };
    const two = {
      manifests: [
        { mediaType: MANIFEST, digest: digest('a'), size: 1 },
        { mediaType: MANIFEST, digest: digest('c'), size: 1 },
      ],
    };
    for (const index of [nested, two, { manifests: [] }, 'not json']) {
      await expect(singleLayoutManifest('/l', layout(index))).rejects.toThrow(LayoutError);
    }
    await expect(singleLayoutManifest('/other', layout({}))).rejects.toThrow(
      /\/other has no readable index\.json/,
    );
  });
});
