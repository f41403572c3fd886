/**
 * Issue 11: registry operations ride out outages within their time budget (registry restarts, lost replies,
 * 503/429), on a real loopback fake registry with a fake clock: a 20 s outage takes milliseconds here.
 */
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetch as undiciFetch } from 'undici';
import { RegistryClient, type RegistryClientOptions } from '../../../src/registry/client.js';
import { RegistryError } from '../../../src/registry/errors.js';
import type { FetchLike } from '../../../src/registry/http-transport.js';
import { OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import { errorBody, FakeRegistry, sha256, type RecordedRequest } from './fake-registry.js';

const running: FakeRegistry[] = [];
const clients: RegistryClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(running.splice(0).map((server) => server.stop()));
});

const manifestBody = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_IMAGE_MANIFEST,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(Buffer.from('{}')),
      size: 2,
    },
    layers: [],
  }),
);
const blob = Buffer.from('layer bytes');

/** A fake clock: sleeping advances it at once. */
class FakeClock {
  nowMs = 1_000_000;
  readonly sleeps: number[] = [];
  now = () => this.nowMs;
  sleep = async (ms: number) => {
    this.sleeps.push(ms);
    this.nowMs += ms;
  };
}

async function startRegistry(): Promise<FakeRegistry> {
  const registry = await new FakeRegistry().start();
  running.push(registry);
  return registry;
}

function clientFor(registry: string, clock: FakeClock, options: Partial<RegistryClientOptions> = {}) {
  const client = new RegistryClient({
    registry,
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
    ...options,
  });
  clients.push(client);
  return client;
}

async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * fetch that finds the registry stopped (connection refused, from a real closed port) until the fake clock
 * reaches `until`: a registry restart.
 */
async function restartingFetch(registry: FakeRegistry, clock: FakeClock, until: number): Promise<FetchLike> {
  const refused = `127.0.0.1:${await closedPort()}`;
  return (url, init) =>
    undiciFetch(
      clock.nowMs < until ? url.replace(registry.host, refused) : url,
      init,
    ) as ReturnType<FetchLike>;
}

async function failure(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

const isBlobPut = (r: RecordedRequest) => r.method === 'PUT' && r.url.includes('/blobs/uploads/');

describe('registry outages within the time budget', () => {
  it('survives a 20 s registry restart (connection refused) in the middle of an upload and a manifest PUT', async () => {
    const registry = await startRegistry();
    const clock = new FakeClock();
    const fetchImpl = await restartingFetch(registry, clock, clock.nowMs + 20_000);
    const client = clientFor(`http://${registry.host}`, clock, { fetchImpl });

    const uploaded = await client.uploadBlob('acme/agent', blob);
    const digest = await client.putManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);

    expect(uploaded).toEqual({ digest: sha256(blob), uploaded: true });
    expect(registry.blobs.get(`acme/agent@${sha256(blob)}`)).toEqual(blob);
    expect(registry.tags.get('acme/agent')?.get('v1')).toBe(digest);
    const waited = clock.sleeps.reduce((a, b) => a + b, 0);
    expect(waited).toBeGreaterThanOrEqual(20_000);
    expect(waited).toBeLessThan(30_000);
  });

  it('survives 20 s of connections reset by the registry', async () => {
    const registry = await startRegistry();
    registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    const clock = new FakeClock();
    const until = clock.nowMs + 20_000;
    registry.interceptors.push((_r, _res, req) => {
      if (clock.nowMs >= until) return false;
      req.socket.destroy();
      return true;
    });
    const client = clientFor(`http://${registry.host}`, clock);

    expect((await client.getManifest('acme/agent', 'v1')).size).toBe(manifestBody.length);
    expect(clock.nowMs).toBeGreaterThanOrEqual(until);
  });

  it('fails a 70 s outage after the budget, naming the URL, the cause, how long it tried and what to check', async () => {
    const registry = await startRegistry();
    const clock = new FakeClock();
    const start = clock.nowMs;
    const fetchImpl = await restartingFetch(registry, clock, clock.nowMs + 70_000);
    const client = clientFor(`http://${registry.host}`, clock, {
      fetchImpl,
      unreachableHint: 'Check the image input',
    });

    const error = await failure(client.listTags('acme/agent'));

    expect(error.code).toBe('CONNECTION_FAILED');
    expect(error.message).toMatch(
      /^list tags 127\.0\.0\.1:\d+\/acme\/agent failed: GET http:\/\/127\.0\.0\.1:\d+\/v2\/acme\/agent\/tags\/list: connection refused/,
    );
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).toMatch(/\(gave up after \d+ attempts over 60 s\)\. Check the image input$/);
    expect(clock.nowMs - start).toBe(60_000);
  });

  it('takes its budget from the option: 2 minutes ride out a 70 s outage', async () => {
    const registry = await startRegistry();
    const clock = new FakeClock();
    const fetchImpl = await restartingFetch(registry, clock, clock.nowMs + 70_000);
    const client = clientFor(`http://${registry.host}`, clock, { fetchImpl, retryBudgetMs: 120_000 });

    expect(await client.listTags('acme/agent')).toEqual([]);
  });

  it('honours Retry-After, capped by what remains of the budget', async () => {
    const registry = await startRegistry();
    registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    registry.failNext(
      1,
      () => true,
      (res) => {
        res.setHeader('retry-after', '7');
        errorBody(res, 429, 'TOOMANYREQUESTS', 'slow down');
      },
    );
    registry.failNext(
      1,
      () => true,
      (res) => {
        res.setHeader('retry-after', '3600');
        errorBody(res, 503, 'UNAVAILABLE', 'maintenance');
      },
    );
    const clock = new FakeClock();
    const client = clientFor(`http://${registry.host}`, clock);

    expect((await client.getManifest('acme/agent', 'v1')).size).toBe(manifestBody.length);
    expect(clock.sleeps).toEqual([7000, 53_000]);
  });

  it.each([400, 401, 403, 404])('never retries a %i', async (status) => {
    const registry = await startRegistry();
    registry.failNext(
      5,
      () => true,
      (res) => errorBody(res, status, 'NOPE', 'refused'),
    );
    const clock = new FakeClock();
    const client = clientFor(`http://${registry.host}`, clock);

    const error = await failure(client.getManifest('acme/agent', 'v1'));

    expect(error.status).toBe(status);
    expect(registry.requests).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
  });
});

describe('lost replies', () => {
  it('a blob upload whose PUT reply was lost after the registry stored it: looked up, done, one blob, no 404', async () => {
    const registry = await startRegistry();
    registry.loseReplyNext(1, isBlobPut);
    const clock = new FakeClock();
    const client = clientFor(`http://${registry.host}`, clock);

    const result = await client.uploadBlob('acme/agent', blob, undefined, { knownMissing: true });

    expect(result).toEqual({ digest: sha256(blob), uploaded: true });
    expect([...registry.blobs.keys()]).toEqual([`acme/agent@${sha256(blob)}`]);
    expect(registry.registryRequests().map((r) => r.replace(/uploads\/.+/, 'uploads/…'))).toEqual([
      'POST /v2/acme/agent/blobs/uploads/',
      'PUT /v2/acme/agent/blobs/uploads/…',
      `HEAD /v2/acme/agent/blobs/${sha256(blob)}`,
    ]);
    expect(clock.sleeps).toHaveLength(1);
  });

  it('a blob upload PUT answered 503 (nothing stored): looked up, sent again in a new session', async () => {
    const registry = await startRegistry();
    registry.failNext(1, isBlobPut, (res) => errorBody(res, 503, 'UNAVAILABLE', 'busy'));
    const client = clientFor(`http://${registry.host}`, new FakeClock());

    await client.uploadBlob('acme/agent', blob, undefined, { knownMissing: true });

    expect(registry.blobs.get(`acme/agent@${sha256(blob)}`)).toEqual(blob);
    const puts = registry.requests.filter(isBlobPut).map((r) => r.url);
    expect(puts).toHaveLength(2);
    expect(puts[0]).not.toBe(puts[1]);
    expect(registry.registryRequests().filter((r) => r.startsWith('POST'))).toHaveLength(2);
  });

  it('a blob upload session the registry forgot (404 BLOB_UPLOAD_UNKNOWN, e.g. after a restart) is opened again', async () => {
    const registry = await startRegistry();
    registry.failNext(1, isBlobPut, (res) =>
      errorBody(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown'),
    );
    const client = clientFor(`http://${registry.host}`, new FakeClock());

    await client.uploadBlob('acme/agent', blob);

    expect(registry.blobs.get(`acme/agent@${sha256(blob)}`)).toEqual(blob);
    expect(registry.requests.filter(isBlobPut)).toHaveLength(2);
  });

  it('a blob upload whose every PUT is lost fails after the budget, saying so', async () => {
    const registry = await startRegistry();
    registry.failNext(1000, isBlobPut, (_res, req) => req.socket.destroy());
    const clock = new FakeClock();
    const client = clientFor(`http://${registry.host}`, clock, { retryBudgetMs: 10_000 });

    const error = await failure(client.uploadBlob('acme/agent', blob));

    expect(error.code).toBe('CONNECTION_FAILED');
    expect(error.message).toMatch(
      /^upload blob .* failed: PUT http:\/\/127\.0\.0\.1:\d+\/v2\/acme\/agent\/blobs\/uploads\//,
    );
    expect(error.message).toMatch(/gave up after \d+ attempts over 10 s/);
    expect(registry.blobs.size).toBe(0);
  });

  it('a manifest PUT by digest whose reply was lost is sent again', async () => {
    const registry = await startRegistry();
    const digest = sha256(manifestBody);
    registry.loseReplyNext(1, (r) => r.method === 'PUT' && r.url.includes('/manifests/'));
    const client = clientFor(`http://${registry.host}`, new FakeClock());

    expect(await client.putManifest('acme/agent', digest, manifestBody, OCI_IMAGE_MANIFEST)).toBe(digest);

    expect(registry.manifests.has(`acme/agent@${digest}`)).toBe(true);
    expect(registry.registryRequests()).toEqual([
      `PUT /v2/acme/agent/manifests/${digest}`,
      `PUT /v2/acme/agent/manifests/${digest}`,
    ]);
  });
});
