import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { RegistryClient } from '../../../src/registry/client.js';
import { digestOf } from '../../../src/registry/digest.js';
import { OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import {
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  fallbackTag,
  referrerManifest,
  type SubjectDescriptor,
} from '../../../src/registry/referrer-manifest.js';
import { listReferrers, ReferrerWriter } from '../../../src/registry/referrers.js';
import { FakeRegistry } from './fake-registry.js';

const PATH = 'acme/agent';

let registry: FakeRegistry;
let client: RegistryClient;

beforeEach(async () => {
  registry = await new FakeRegistry().start();
  client = new RegistryClient({ registry: `http://${registry.host}`, retry: { attempts: 1 } });
});

afterEach(async () => {
  await client.close();
  await registry.stop();
});

function addImage(tag: string): SubjectDescriptor {
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_IMAGE_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: 2, digest: EMPTY_JSON_DIGEST },
      layers: [],
    }),
  );
  return {
    mediaType: OCI_IMAGE_MANIFEST,
    digest: registry.addManifest(PATH, tag, body, OCI_IMAGE_MANIFEST),
    size: body.length,
  };
}

/** An artifact referring to `subject`, its blobs uploaded. */
async function artifact(subject: SubjectDescriptor, n: number): Promise<Buffer> {
  const layer = Buffer.from(`{"n":${n}}`);
  await client.uploadBlob(PATH, EMPTY_JSON, EMPTY_JSON_DIGEST);
  await client.uploadBlob(PATH, layer, digestOf(layer));
  return referrerManifest({
    artifactType: 'application/example.sbom',
    layers: [{ mediaType: 'application/json', size: layer.length, digest: digestOf(layer) }],
    annotations: {},
    subject,
  });
}

/** GETs of the fallback index of `subject` so far. */
const fallbackReads = (subject: SubjectDescriptor) =>
  registry.requests.filter(
    (r) => r.method === 'GET' && r.url.endsWith(`/manifests/${fallbackTag(subject.digest)}`),
  ).length;

describe('ReferrerWriter', () => {
  it('lists an artifact in the fallback index of its subject', async () => {
    const image = addImage('v1');
    const manifest = await artifact(image, 1);
    const result = await new ReferrerWriter(client).attach(PATH, image, manifest);
    expect(result).toMatchObject({
      via: 'fallback-tag',
      fallbackTag: fallbackTag(image.digest),
      fallbackUpdated: true,
    });
    expect(result.referrer).toEqual({
      mediaType: OCI_IMAGE_MANIFEST,
      digest: digestOf(manifest),
      size: manifest.length,
      artifactType: 'application/example.sbom',
    });
    expect(registry.manifests.get(`${PATH}@${digestOf(manifest)}`)?.body.equals(manifest)).toBe(true);
    const indexDigest = registry.tags.get(PATH)?.get(fallbackTag(image.digest)) ?? '';
    expect(registry.manifests.get(`${PATH}@${indexDigest}`)?.mediaType).toBe(OCI_IMAGE_INDEX);
    expect(await listReferrers(client, PATH, image.digest)).toEqual([result.referrer]);
  });

  it('keeps what it wrote per writer: a second writer on the same client reads the index itself', async () => {
    const image = addImage('v1');
    const one = new ReferrerWriter(client);
    const first = await one.attach(PATH, image, await artifact(image, 1));
    await one.attach(PATH, image, await artifact(image, 2));
    expect(fallbackReads(image)).toBe(1);
    const third = await new ReferrerWriter(client).attach(PATH, image, await artifact(image, 3));
    expect(fallbackReads(image)).toBe(2);
    const listed = (await listReferrers(client, PATH, image.digest)).map((d) => d.digest);
    expect(listed).toHaveLength(3);
    expect(listed[0]).toBe(first.referrer.digest);
    expect(listed[2]).toBe(third.referrer.digest);
  });
});
