/**
 * The requests attachBundle() and listReferrers() make: the fresh bundle blob is uploaded without a HEAD,
 * the empty config once, the referrers API is probed once per registry, and the fallback index a writer
 * wrote is built on without reading it again; and what is attached stays listed and complete.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { RegistryClient } from '../../../src/registry/client.js';
import { OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import { digestOf } from '../../../src/registry/digest.js';
import {
  EMPTY_JSON_DIGEST,
  fallbackTag,
  parseReferrersIndex,
  type SubjectDescriptor,
} from '../../../src/registry/referrer-manifest.js';
import { listReferrers, ReferrerWriter } from '../../../src/registry/referrers.js';
import { attachBundle } from '../../../src/sign/bundle-referrers.js';
import { COSIGN_SIGN_PREDICATE_TYPE, SPDX_PREDICATE_TYPE } from '../../../src/sign/predicates.js';
import { errorBody, FakeRegistry, type FakeRegistryOptions } from '../registry/fake-registry.js';

const PATH = 'acme/agent';
const CREATED = '2026-01-02T03:04:05Z';

let registries: FakeRegistry[];
let clients: RegistryClient[];

beforeEach(() => {
  registries = [];
  clients = [];
});

afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await Promise.all(registries.map((registry) => registry.stop()));
});

async function startRegistry(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const registry = await new FakeRegistry(options).start();
  registries.push(registry);
  return registry;
}

/** A new client and the referrer writer of a publish through it. */
function writerFor(registry: FakeRegistry): ReferrerWriter {
  const client = new RegistryClient({ registry: `http://${registry.host}`, retry: { attempts: 1 } });
  clients.push(client);
  return new ReferrerWriter(client);
}

function addImage(registry: FakeRegistry, tag: string, seed: string): SubjectDescriptor {
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_IMAGE_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: 2, digest: EMPTY_JSON_DIGEST },
      layers: [],
      annotations: { seed },
    }),
  );
  const digest = registry.addManifest(PATH, tag, body, OCI_IMAGE_MANIFEST);
  return { mediaType: OCI_IMAGE_MANIFEST, digest, size: body.length };
}

/** Requests since `from`, as `METHOD kind` (blob upload, blob, referrers, fallback index, manifest). */
function since(registry: FakeRegistry, from: number): string[] {
  return registry.requests.slice(from).map((r) => {
    const path = r.url.split('?')[0] ?? '';
    const kind = path.includes('/blobs/uploads/')
      ? 'upload'
      : path.includes('/blobs/')
        ? `blob ${path.endsWith(EMPTY_JSON_DIGEST) ? '{}' : 'bundle'}`
        : path.includes('/referrers/')
          ? 'referrers'
          : /\/manifests\/sha256-[0-9a-f]{64}$/.test(path)
            ? 'fallback'
            : 'manifest';
    return `${r.method} ${kind}`;
  });
}

function fallbackEntries(registry: FakeRegistry, subject: SubjectDescriptor): string[] {
  const digest = registry.tags.get(PATH)?.get(fallbackTag(subject.digest)) ?? '';
  const index = registry.manifests.get(`${PATH}@${digest}`);
  expect(index?.mediaType).toBe(OCI_IMAGE_INDEX);
  return parseReferrersIndex(index?.body ?? '').map((d) => d.digest);
}

const bundle = (n: number) =>
  Buffer.from(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","n":${n}}`);

describe('attachBundle requests without a referrers API (fallback tag)', () => {
  it('asks only what it cannot know: the {} config and the API once, each fallback index once', async () => {
    const registry = await startRegistry();
    const writer = writerFor(registry);
    const image = addImage(registry, 'v1', 'a');
    const index = addImage(registry, 'v2', 'b');

    const first = await attachBundle(writer, PATH, image, bundle(1), COSIGN_SIGN_PREDICATE_TYPE, CREATED);
    expect(since(registry, 0)).toEqual([
      'HEAD blob {}',
      'POST upload',
      'PUT upload',
      // The bundle was signed just now: no HEAD for it.
      'POST upload',
      'PUT upload',
      'PUT manifest',
      'GET referrers',
      'GET fallback',
      'PUT fallback',
    ]);

    let mark = registry.requests.length;
    const second = await attachBundle(writer, PATH, image, bundle(2), SPDX_PREDICATE_TYPE, CREATED);
    expect(since(registry, mark)).toEqual(['POST upload', 'PUT upload', 'PUT manifest', 'PUT fallback']);

    mark = registry.requests.length;
    const other = await attachBundle(writer, PATH, index, bundle(3), COSIGN_SIGN_PREDICATE_TYPE, CREATED);
    expect(since(registry, mark)).toEqual([
      'POST upload',
      'PUT upload',
      'PUT manifest',
      'GET fallback',
      'PUT fallback',
    ]);

    // Everything is in the registry, and listing reads the fallback index without probing the API again.
    expect(registry.blobs.get(`${PATH}@${EMPTY_JSON_DIGEST}`)?.toString()).toBe('{}');
    for (const n of [1, 2, 3]) expect(registry.blobs.get(`${PATH}@${digestOf(bundle(n))}`)).toBeDefined();
    expect(fallbackEntries(registry, image)).toEqual([first.referrer.digest, second.referrer.digest]);
    expect(fallbackEntries(registry, index)).toEqual([other.referrer.digest]);
    mark = registry.requests.length;
    expect((await listReferrers(writer.client, PATH, image.digest)).map((d) => d.digest)).toEqual([
      first.referrer.digest,
      second.referrer.digest,
    ]);
    expect(since(registry, mark)).toEqual(['GET fallback']);
  });

  it('does not rewrite a fallback index that already lists the referrer, from what it wrote', async () => {
    const registry = await startRegistry();
    const writer = writerFor(registry);
    const image = addImage(registry, 'v1', 'a');
    await attachBundle(writer, PATH, image, bundle(1), COSIGN_SIGN_PREDICATE_TYPE, CREATED);
    const mark = registry.requests.length;
    const again = await attachBundle(writer, PATH, image, bundle(1), COSIGN_SIGN_PREDICATE_TYPE, CREATED);
    expect(again.fallbackUpdated).toBe(false);
    // The bundle and the config are known to be there, the referrer manifest is PUT again (idempotent).
    expect(since(registry, mark)).toEqual(['PUT manifest']);
  });

  it('reads the fallback index again after a failed write, so nothing written before is lost', async () => {
    const registry = await startRegistry();
    const writer = writerFor(registry);
    const image = addImage(registry, 'v1', 'a');
    const first = await attachBundle(writer, PATH, image, bundle(1), COSIGN_SIGN_PREDICATE_TYPE, CREATED);
    registry.failNext(
      1,
      (r) => r.method === 'PUT' && r.url.includes(fallbackTag(image.digest)),
      (res) => errorBody(res, 400, 'MANIFEST_INVALID', 'refused'),
    );
    await expect(attachBundle(writer, PATH, image, bundle(2), SPDX_PREDICATE_TYPE, CREATED)).rejects.toThrow(
      /refused/,
    );

    const mark = registry.requests.length;
    const third = await attachBundle(writer, PATH, image, bundle(3), SPDX_PREDICATE_TYPE, CREATED);
    expect(since(registry, mark)).toEqual([
      'POST upload',
      'PUT upload',
      'PUT manifest',
      'GET fallback',
      'PUT fallback',
    ]);
    expect(fallbackEntries(registry, image)).toEqual([first.referrer.digest, third.referrer.digest]);
  });

  it("another client reads the fallback index itself and keeps the first client's referrers", async () => {
    const registry = await startRegistry();
    const image = addImage(registry, 'v1', 'a');
    const one = writerFor(registry);
    const two = writerFor(registry);
    const first = await attachBundle(one, PATH, image, bundle(1), COSIGN_SIGN_PREDICATE_TYPE, CREATED);
    const mark = registry.requests.length;
    const second = await attachBundle(two, PATH, image, bundle(2), SPDX_PREDICATE_TYPE, CREATED);
    expect(since(registry, mark)).toEqual([
      'HEAD blob {}',
      'POST upload',
      'PUT upload',
      'PUT manifest',
      'GET referrers',
      'GET fallback',
      'PUT fallback',
    ]);
    expect(fallbackEntries(registry, image)).toEqual([first.referrer.digest, second.referrer.digest]);
  });

  it('serialised concurrent attaches to one subject build on each other and none is lost', async () => {
    const registry = await startRegistry();
    const writer = writerFor(registry);
    const image = addImage(registry, 'v1', 'a');
    const results = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        attachBundle(writer, PATH, image, bundle(n), COSIGN_SIGN_PREDICATE_TYPE, CREATED),
      ),
    );
    expect(new Set(fallbackEntries(registry, image))).toEqual(new Set(results.map((r) => r.referrer.digest)));
    expect(since(registry, 0).filter((line) => line === 'GET fallback')).toHaveLength(1);
    expect(since(registry, 0).filter((line) => line === 'PUT fallback')).toHaveLength(4);
  });
});

describe('attachBundle requests with a referrers API', () => {
  it('needs no probe once the registry said OCI-Subject, and writes no fallback tag', async () => {
    const registry = await startRegistry({ referrers: {} });
    const writer = writerFor(registry);
    const image = addImage(registry, 'v1', 'a');

    const first = await attachBundle(writer, PATH, image, bundle(1), COSIGN_SIGN_PREDICATE_TYPE, CREATED);
    const second = await attachBundle(writer, PATH, image, bundle(2), SPDX_PREDICATE_TYPE, CREATED);
    expect(first.via).toBe('referrers-api');
    expect(second.via).toBe('referrers-api');
    expect(
      since(registry, 0).filter((line) => line.includes('referrers') || line.includes('fallback')),
    ).toEqual([]);
    expect(registry.tags.get(PATH)?.has(fallbackTag(image.digest))).toBe(false);
    expect((await listReferrers(writer.client, PATH, image.digest)).map((d) => d.digest).sort()).toEqual(
      [first.referrer.digest, second.referrer.digest].sort(),
    );
  });
});
