import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { BlobCheck, BlobCheckError } from '../../../src/registry/blob-check.js';
import { RegistryClient, type RegistryClientOptions } from '../../../src/registry/client.js';
import { RegistryError } from '../../../src/registry/errors.js';
import { FakeRegistry, sha256, type RecordedRequest } from './fake-registry.js';

const running: FakeRegistry[] = [];
const clients: RegistryClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(running.splice(0).map((server) => server.stop()));
});

async function setup(options: Partial<RegistryClientOptions> = {}) {
  const registry = await new FakeRegistry().start();
  running.push(registry);
  const sleeps: number[] = [];
  const client = new RegistryClient({
    registry: `http://${registry.host}`,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 1,
    ...options,
  });
  clients.push(client);
  const blob = randomBytes(3 * 1024 * 1024 + 123);
  const digest = registry.addBlob('acme/agent', blob);
  return { registry, client, sleeps, blob, digest };
}

const blobGets = (registry: FakeRegistry, digest: string) =>
  registry.registryRequests().filter((r) => r === `GET /v2/acme/agent/blobs/${digest}`).length;

const isBlobGet = (digest: string) => (r: RecordedRequest) =>
  r.method === 'GET' && r.url === `/v2/acme/agent/blobs/${digest}`;

/** Answers 200 with the full length announced, sends `body` (a part, or other bytes), then cuts the connection. */
function sendThenCut(length: number, body: Buffer) {
  return (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(length) });
    res.write(body, () => setTimeout(() => res.socket?.destroy(), 20));
  };
}

/** Reads a stream to its end, or to its error. */
async function drain(stream: Readable): Promise<{ data: Buffer; error?: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return { data: Buffer.concat(chunks) };
  } catch (error) {
    return { data: Buffer.concat(chunks), error };
  }
}

describe('RegistryClient.blobStream', () => {
  it('streams a blob in chunks, checked against its digest and size', async () => {
    const { registry, client, blob, digest } = await setup();
    const chunks: number[] = [];
    const stream = client.blobStream('acme/agent', digest, { size: blob.length });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.length));
    const { data, error } = await drain(stream);
    expect(error).toBeUndefined();
    expect(data.equals(blob)).toBe(true);
    expect(chunks.length).toBeGreaterThan(1);
    expect(blobGets(registry, digest)).toBe(1);
  });

  it('reads at most about readAhead bytes ahead of a reader that does not read', async () => {
    const { client, blob, digest } = await setup();
    const stream = client.blobStream('acme/agent', digest, { size: blob.length, readAhead: 256 * 1024 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The PassThrough's two buffers (readAhead each) plus the chunk in flight.
    expect(stream.readableLength + (stream as Duplex).writableLength).toBeLessThan(3 * 256 * 1024);
    const { data } = await drain(stream);
    expect(data.equals(blob)).toBe(true);
  });

  it('a connection cut midway: read again from the start, each byte passed on once, after the policy backoff', async () => {
    const { registry, client, sleeps, blob, digest } = await setup();
    registry.failNext(1, isBlobGet(digest), sendThenCut(blob.length, blob.subarray(0, 1024 * 1024)));
    const { data, error } = await drain(client.blobStream('acme/agent', digest, { size: blob.length }));
    expect(error).toBeUndefined();
    expect(data.length).toBe(blob.length);
    expect(data.equals(blob)).toBe(true);
    expect(blobGets(registry, digest)).toBe(2);
    expect(sleeps).toEqual([500]);
  });

  it('two cuts, the second before the first one was reached again: still each byte once', async () => {
    const { registry, client, blob, digest } = await setup();
    registry.failNext(1, isBlobGet(digest), sendThenCut(blob.length, blob.subarray(0, 2 * 1024 * 1024)));
    registry.failNext(1, isBlobGet(digest), sendThenCut(blob.length, blob.subarray(0, 100_000)));
    const { data, error } = await drain(client.blobStream('acme/agent', digest, { size: blob.length }));
    expect(error).toBeUndefined();
    expect(data.equals(blob)).toBe(true);
    expect(blobGets(registry, digest)).toBe(3);
  });

  it('a read again that differs from what was passed on fails as a digest mismatch', async () => {
    const { registry, client, blob, digest } = await setup();
    registry.failNext(1, isBlobGet(digest), sendThenCut(blob.length, blob.subarray(0, 1024 * 1024)));
    const changed = Buffer.from(blob);
    changed[10] = changed[10]! ^ 0xff;
    registry.failNext(1, isBlobGet(digest), (res) => {
      res.writeHead(200, { 'content-length': String(changed.length) });
      res.end(changed);
    });
    const { error } = await drain(client.blobStream('acme/agent', digest, { size: blob.length }));
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).code).toBe('DIGEST_MISMATCH');
    expect((error as RegistryError).message).toMatch(/first 1048576 bytes differ/);
  });

  it('a blob that does not hash to its digest fails before the stream ends, never ends cleanly', async () => {
    const { registry, client, blob, digest } = await setup();
    const wrong = Buffer.from(blob);
    wrong[wrong.length - 1] = wrong[wrong.length - 1]! ^ 0x01;
    registry.failNext(1, isBlobGet(digest), (res) => {
      res.writeHead(200, { 'content-length': String(wrong.length) });
      res.end(wrong);
    });
    const stream = client.blobStream('acme/agent', digest, { size: blob.length });
    let ended = false;
    stream.on('end', () => (ended = true));
    const { error } = await drain(stream);
    expect((error as RegistryError).code).toBe('DIGEST_MISMATCH');
    expect((error as RegistryError).message).toContain(`hash to ${sha256(wrong)}`);
    expect(ended).toBe(false);
    expect(blobGets(registry, digest)).toBe(1);
  });

  it('more bytes than the size fail at once', async () => {
    const { registry, client, blob, digest } = await setup();
    registry.failNext(1, isBlobGet(digest), (res) => {
      res.writeHead(200);
      res.end(Buffer.concat([blob, Buffer.from('extra')]));
    });
    const { error } = await drain(client.blobStream('acme/agent', digest, { size: blob.length }));
    expect((error as RegistryError).code).toBe('DIGEST_MISMATCH');
    expect((error as RegistryError).message).toMatch(/more than the \d+ bytes/);
  });

  it('cut every time: gives up within the retry budget, saying how far it got', async () => {
    const { registry, client, blob, digest } = await setup({ retryBudgetMs: 3000 });
    registry.failNext(1000, isBlobGet(digest), sendThenCut(blob.length, blob.subarray(0, 4096)));
    const { data, error } = await drain(client.blobStream('acme/agent', digest, { size: blob.length }));
    expect(data.length).toBe(4096);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).code).toBe('CONNECTION_FAILED');
    expect((error as RegistryError).message).toMatch(/broke off after 4096 bytes/);
    expect(blobGets(registry, digest)).toBeGreaterThan(2);
  });

  it('no data within the timeout midway counts as a broken read and is read again', async () => {
    const { registry, client, blob, digest } = await setup({ timeoutMs: 300 });
    registry.failNext(1, isBlobGet(digest), (res) => {
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.write(blob.subarray(0, 1000)); // then nothing
    });
    const { data, error } = await drain(client.blobStream('acme/agent', digest, { size: blob.length }));
    expect(error).toBeUndefined();
    expect(data.equals(blob)).toBe(true);
    expect(blobGets(registry, digest)).toBe(2);
  });

  it('a 404 fails with the registry error, not retried', async () => {
    const { registry, client } = await setup();
    const missing = sha256(Buffer.from('nothing'));
    const { error } = await drain(client.blobStream('acme/agent', missing));
    expect((error as RegistryError).status).toBe(404);
    expect(blobGets(registry, missing)).toBe(1);
  });

  it('a reader that destroys the stream stops the read', async () => {
    const { registry, client, blob, digest } = await setup();
    const stream = client.blobStream('acme/agent', digest, { size: blob.length, readAhead: 64 * 1024 });
    for await (const chunk of stream) {
      expect((chunk as Buffer).length).toBeGreaterThan(0);
      break; // destroys the stream
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stream.destroyed).toBe(true);
    expect(blobGets(registry, digest)).toBe(1);
  });
});

describe('BlobCheck', () => {
  const data = randomBytes(10_000);
  const digest = sha256(data);

  it('passes everything of one read and checks the digest at its end', () => {
    const check = new BlobCheck(digest, data.length);
    check.restart();
    expect(check.take(data.subarray(0, 4000)).length).toBe(4000);
    expect(check.take(data.subarray(4000)).length).toBe(6000);
    expect(() => check.finish()).not.toThrow();
  });

  it('after a restart, holds back what was passed on, checks it, and passes the rest', () => {
    const check = new BlobCheck(digest, data.length);
    check.restart();
    check.take(data.subarray(0, 3000));
    check.restart();
    expect(check.take(data.subarray(0, 2000)).length).toBe(0);
    const straddling = check.take(data.subarray(2000, 5000));
    expect(straddling.equals(data.subarray(3000, 5000))).toBe(true);
    expect(check.take(data.subarray(5000)).length).toBe(5000);
    expect(check.passed).toBe(data.length);
    expect(() => check.finish()).not.toThrow();
  });

  it('a read that ends short of the size or hashes otherwise fails', () => {
    const short = new BlobCheck(digest, data.length);
    short.restart();
    short.take(data.subarray(0, 100));
    expect(() => short.finish()).toThrow(BlobCheckError);
    const other = new BlobCheck(sha256(Buffer.from('x')));
    other.restart();
    other.take(data);
    expect(() => other.finish()).toThrow(/hash to/);
  });
});
