/**
 * What a RegistryClient remembers to save requests: blobs it saw the registry hold (per repository) and
 * whether the registry has the referrers API. Each saving is counted, and each is checked not to hide
 * anything the client did not see itself.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient, type RegistryClientOptions } from '../../../src/registry/client.js';
import { OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import { errorBody, FakeRegistry, sha256, type FakeRegistryOptions } from './fake-registry.js';

const PATH = 'acme/agent';
const running: FakeRegistry[] = [];
const clients: RegistryClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(running.splice(0).map((registry) => registry.stop()));
});

async function startRegistry(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const registry = await new FakeRegistry(options).start();
  running.push(registry);
  return registry;
}

function clientFor(registry: FakeRegistry, options: Partial<RegistryClientOptions> = {}): RegistryClient {
  const client = new RegistryClient({
    registry: `http://${registry.host}`,
    retry: { attempts: 1 },
    ...options,
  });
  clients.push(client);
  return client;
}

/** Requests made since `from` (an index into registry.requests), as `METHOD /path` without the query. */
function since(registry: FakeRegistry, from: number): string[] {
  return registry.requests.slice(from).map((r) => `${r.method} ${r.url.split('?')[0]}`);
}

const blob = Buffer.from('{"layer":1}');
const blobDigest = sha256(blob);

describe('RegistryClient: blobs it knows the registry has', () => {
  it('does not ask again about a blob it uploaded, per repository and per client', async () => {
    const registry = await startRegistry();
    const client = clientFor(registry);

    expect(await client.uploadBlob(PATH, blob)).toEqual({ digest: blobDigest, uploaded: true });
    expect(since(registry, 0).map((line) => line.split(' ')[0])).toEqual(['HEAD', 'POST', 'PUT']);

    let mark = registry.requests.length;
    expect(await client.uploadBlob(PATH, blob, blobDigest)).toEqual({ digest: blobDigest, uploaded: false });
    expect(since(registry, mark)).toEqual([]);

    // Another repository of the same registry is asked: blobs are per repository.
    mark = registry.requests.length;
    await client.uploadBlob('acme/other', blob);
    expect(since(registry, mark).map((line) => line.split(' ')[0])).toEqual(['HEAD', 'POST', 'PUT']);

    // Another client knows nothing of it and asks.
    const other = clientFor(registry);
    mark = registry.requests.length;
    expect(await other.uploadBlob(PATH, blob)).toEqual({ digest: blobDigest, uploaded: false });
    expect(since(registry, mark)).toEqual([`HEAD /v2/${PATH}/blobs/${blobDigest}`]);
    expect(registry.blobs.get(`${PATH}@${blobDigest}`)?.equals(blob)).toBe(true);
  });

  it('remembers a blob a HEAD or GET found, but not one that was missing', async () => {
    const registry = await startRegistry();
    const client = clientFor(registry);
    const missing = Buffer.from('missing');

    expect(await client.blobExists(PATH, sha256(missing))).toBe(false);
    let mark = registry.requests.length;
    await client.uploadBlob(PATH, missing);
    expect(since(registry, mark).map((line) => line.split(' ')[0])).toEqual(['HEAD', 'POST', 'PUT']);

    const headed = Buffer.from('headed');
    const fetched = Buffer.from('fetched');
    registry.addBlob(PATH, headed);
    registry.addBlob(PATH, fetched);
    expect(await client.blobExists(PATH, sha256(headed))).toBe(true);
    expect((await client.getBlob(PATH, sha256(fetched))).equals(fetched)).toBe(true);
    mark = registry.requests.length;
    expect((await client.uploadBlob(PATH, headed)).uploaded).toBe(false);
    expect((await client.uploadBlob(PATH, fetched)).uploaded).toBe(false);
    expect(since(registry, mark)).toEqual([]);

    // blobExists() is the registry's answer: it always asks.
    mark = registry.requests.length;
    expect(await client.blobExists(PATH, sha256(headed))).toBe(true);
    expect(since(registry, mark)).toEqual([`HEAD /v2/${PATH}/blobs/${sha256(headed)}`]);
  });

  it('remembers a mounted blob', async () => {
    const registry = await startRegistry();
    registry.addBlob('acme/base', blob);
    const client = clientFor(registry);

    expect(await client.uploadBlob(PATH, blob, blobDigest, { mountFrom: ['acme/base'] })).toEqual({
      digest: blobDigest,
      uploaded: false,
      mounted: true,
    });
    const mark = registry.requests.length;
    expect((await client.uploadBlob(PATH, blob, blobDigest, { mountFrom: ['acme/base'] })).uploaded).toBe(
      false,
    );
    expect(since(registry, mark)).toEqual([]);
  });

  it('uploads a blob asked for twice at once once: the second waits for the first and shares its outcome', async () => {
    const registry = await startRegistry();
    const client = clientFor(registry);
    const [first, second] = await Promise.all([client.uploadBlob(PATH, blob), client.uploadBlob(PATH, blob)]);
    expect([first, second]).toEqual([
      { digest: blobDigest, uploaded: true },
      { digest: blobDigest, uploaded: false },
    ]);
    expect(since(registry, 0).map((line) => line.split(' ')[0])).toEqual(['HEAD', 'POST', 'PUT']);

    // A failure is both callers' (neither is remembered), and the next upload starts afresh.
    const other = Buffer.from('{"layer":2}');
    registry.failNext(
      1,
      (r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/'),
      (res) => errorBody(res, 400, 'BLOB_UPLOAD_INVALID', 'refused'),
    );
    const both = await Promise.allSettled([client.uploadBlob(PATH, other), client.uploadBlob(PATH, other)]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    const mark = registry.requests.length;
    expect((await client.uploadBlob(PATH, other)).uploaded).toBe(true);
    expect(since(registry, mark).map((line) => line.split(' ')[0])).toEqual(['HEAD', 'POST', 'PUT']);
  });

  it('does not remember an upload that failed', async () => {
    const registry = await startRegistry();
    const client = clientFor(registry);
    registry.failNext(
      1,
      (r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/'),
      (res) => errorBody(res, 400, 'BLOB_UPLOAD_INVALID', 'refused'),
    );
    await expect(client.uploadBlob(PATH, blob)).rejects.toThrow(/refused/);
    const mark = registry.requests.length;
    expect(await client.uploadBlob(PATH, blob)).toEqual({ digest: blobDigest, uploaded: true });
    expect(since(registry, mark).map((line) => line.split(' ')[0])).toEqual(['HEAD', 'POST', 'PUT']);
  });

  it('uploads content known to be missing without a HEAD, and harmlessly when the registry had it', async () => {
    const registry = await startRegistry();
    const client = clientFor(registry);

    expect(await client.uploadBlob(PATH, blob, blobDigest, { knownMissing: true })).toEqual({
      digest: blobDigest,
      uploaded: true,
    });
    expect(since(registry, 0).map((line) => line.split(' ')[0])).toEqual(['POST', 'PUT']);

    // Once seen, it is not sent again even when said to be missing.
    let mark = registry.requests.length;
    expect((await client.uploadBlob(PATH, blob, blobDigest, { knownMissing: true })).uploaded).toBe(false);
    expect(since(registry, mark)).toEqual([]);

    // Wrongly said to be missing by another client: the registry takes the same bytes again.
    const other = clientFor(registry);
    mark = registry.requests.length;
    expect((await other.uploadBlob(PATH, blob, blobDigest, { knownMissing: true })).uploaded).toBe(true);
    expect(since(registry, mark).map((line) => line.split(' ')[0])).toEqual(['POST', 'PUT']);
    expect(registry.blobs.get(`${PATH}@${blobDigest}`)?.equals(blob)).toBe(true);
  });
});

describe('RegistryClient: whether the registry has the referrers API', () => {
  const subject = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_IMAGE_MANIFEST, layers: [] }),
  );
  const subjectDigest = sha256(subject);
  const referrer = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_IMAGE_MANIFEST,
      layers: [],
      subject: { mediaType: OCI_IMAGE_MANIFEST, digest: subjectDigest, size: subject.length },
    }),
  );

  it('asks a registry without the API once, then answers undefined for any subject or repository', async () => {
    const registry = await startRegistry();
    const client = clientFor(registry);

    expect(client.referrersApi).toBeUndefined();
    expect(await client.getReferrers(PATH, subjectDigest)).toBeUndefined();
    expect(client.referrersApi).toBe(false);
    const mark = registry.requests.length;
    expect(await client.getReferrers(PATH, sha256(Buffer.from('x')))).toBeUndefined();
    expect(await client.getReferrers('acme/other', subjectDigest)).toBeUndefined();
    expect(since(registry, mark)).toEqual([]);
    expect(client.requestCount).toBe(1);
  });

  it('keeps asking a registry with the API (the list is the answer), and learns it from OCI-Subject', async () => {
    const registry = await startRegistry({ referrers: {} });
    registry.addManifest(PATH, 'v1', subject, OCI_IMAGE_MANIFEST);
    const client = clientFor(registry);

    await client.putManifest(PATH, sha256(referrer), referrer, OCI_IMAGE_MANIFEST);
    expect(client.referrersApi).toBe(true);

    const asking = clientFor(registry);
    expect(asking.referrersApi).toBeUndefined();
    for (let i = 0; i < 2; i++) {
      const index = JSON.parse((await asking.getReferrers(PATH, subjectDigest))?.toString() ?? '{}') as {
        manifests: { digest: string }[];
      };
      expect(index.manifests.map((m) => m.digest)).toEqual([sha256(referrer)]);
    }
    expect(asking.referrersApi).toBe(true);
    expect(asking.requestCount).toBe(2);
  });

  it('learns nothing from a referrers request that failed', async () => {
    const registry = await startRegistry();
    const client = clientFor(registry);
    registry.failNext(
      1,
      (r) => r.url.includes('/referrers/'),
      (res) => errorBody(res, 500, 'UNKNOWN', 'boom'),
    );
    await expect(client.getReferrers(PATH, subjectDigest)).rejects.toThrow(/boom/);
    expect(client.referrersApi).toBeUndefined();
    expect(await client.getReferrers(PATH, subjectDigest)).toBeUndefined();
    expect(client.requestCount).toBe(2);
  });
});
