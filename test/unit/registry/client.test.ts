import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { fetch as undiciFetch } from 'undici';
import { RegistryClient, type RegistryClientOptions } from '../../../src/registry/client.js';
import type { CredentialResolver } from '../../../src/registry/credentials.js';
import { RegistryAuthError, RegistryError } from '../../../src/registry/errors.js';
import type { FetchLike } from '../../../src/registry/http-transport.js';
import { OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import { errorBody, FakeRegistry, json, sha256, type FakeRegistryOptions } from './fake-registry.js';

const running: { stop(): Promise<void> }[] = [];
const clients: RegistryClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(running.splice(0).map((server) => server.stop()));
});

async function startRegistry(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const registry = await new FakeRegistry(options).start();
  running.push(registry);
  return registry;
}

interface TestClient {
  client: RegistryClient;
  sleeps: number[];
}

function clientFor(registry: string, options: Partial<RegistryClientOptions> = {}): TestClient {
  const sleeps: number[] = [];
  const client = new RegistryClient({
    registry,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 1,
    ...options,
  });
  clients.push(client);
  return { client, sleeps };
}

const credentialsFor =
  (username: string, password: string): CredentialResolver =>
  async () => ({ username, password });

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

async function expectRegistryError(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}

describe('RegistryClient manifests', () => {
  it('gets a manifest by tag anonymously with its digest, media type and parsed JSON', async () => {
    const registry = await startRegistry();
    const digest = registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(`http://${registry.host}`);

    const manifest = await client.getManifest('acme/agent', 'v1');

    expect(manifest.digest).toBe(digest);
    expect(manifest.mediaType).toBe(OCI_IMAGE_MANIFEST);
    expect(manifest.size).toBe(manifestBody.length);
    expect(manifest.body.equals(manifestBody)).toBe(true);
    expect((manifest.json as { schemaVersion: number }).schemaVersion).toBe(2);
    expect(client.requestCount).toBe(1);
    expect(registry.requests[0]?.headers.accept).toContain(OCI_IMAGE_INDEX);
  });

  it('gets a manifest by digest and heads it; head of a missing manifest is undefined', async () => {
    const registry = await startRegistry();
    const digest = registry.addManifest('acme/agent', undefined, manifestBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(`http://${registry.host}`);

    expect((await client.getManifest('acme/agent', digest)).digest).toBe(digest);
    expect(await client.headManifest('acme/agent', digest)).toEqual({
      digest,
      mediaType: OCI_IMAGE_MANIFEST,
      size: manifestBody.length,
    });
    expect(await client.headManifest('acme/agent', 'missing')).toBeUndefined();
    expect(registry.registryRequests()).toEqual([
      `GET /v2/acme/agent/manifests/${digest}`,
      `HEAD /v2/acme/agent/manifests/${digest}`,
      'HEAD /v2/acme/agent/manifests/missing',
    ]);
  });

  it('falls back to GET when a HEAD answer lacks Docker-Content-Digest', async () => {
    const registry = await startRegistry();
    const digest = registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    registry.failNext(
      1,
      (r) => r.method === 'HEAD',
      (res) => {
        res.writeHead(200, { 'content-type': OCI_IMAGE_MANIFEST });
        res.end();
      },
    );
    const { client } = clientFor(`http://${registry.host}`);

    expect(await client.headManifest('acme/agent', 'v1')).toEqual({
      digest,
      mediaType: OCI_IMAGE_MANIFEST,
      size: manifestBody.length,
    });
    expect(registry.registryRequests()).toEqual([
      'HEAD /v2/acme/agent/manifests/v1',
      'GET /v2/acme/agent/manifests/v1',
    ]);
  });

  it('detects a manifest whose content does not match the requested digest', async () => {
    const registry = await startRegistry();
    const digest = registry.addManifest('acme/agent', undefined, manifestBody, OCI_IMAGE_MANIFEST);
    registry.manifests.set(`acme/agent@${digest}`, {
      body: Buffer.from('{"tampered":true}'),
      mediaType: OCI_IMAGE_MANIFEST,
    });
    const { client } = clientFor(`http://${registry.host}`);

    const error = await expectRegistryError(client.getManifest('acme/agent', digest));

    expect(error.code).toBe('DIGEST_MISMATCH');
    expect(error.message).toContain(
      `get manifest ${registry.host}/acme/agent@${digest} failed: digest mismatch`,
    );
  });

  it('detects a tag whose content does not match the Docker-Content-Digest header', async () => {
    const registry = await startRegistry();
    registry.failNext(
      1,
      () => true,
      (res) => {
        res.writeHead(200, {
          'content-type': OCI_IMAGE_MANIFEST,
          'docker-content-digest': sha256(Buffer.from('other')),
        });
        res.end(manifestBody);
      },
    );
    const { client } = clientFor(`http://${registry.host}`);

    const error = await expectRegistryError(client.getManifest('acme/agent', 'v1'));

    expect(error.code).toBe('DIGEST_MISMATCH');
    expect(error.reference).toBe(`${registry.host}/acme/agent:v1`);
  });

  it('puts a manifest and returns its digest', async () => {
    const registry = await startRegistry();
    const { client } = clientFor(`http://${registry.host}`);

    const digest = await client.putManifest('acme/agent', 'v2', manifestBody, OCI_IMAGE_MANIFEST);

    expect(digest).toBe(sha256(manifestBody));
    expect(registry.tags.get('acme/agent')?.get('v2')).toBe(digest);
    expect(registry.requests[0]?.headers['content-type']).toBe(OCI_IMAGE_MANIFEST);
  });

  it('puts an image index by tag that references manifests the repository has', async () => {
    const registry = await startRegistry({ checkIndexReferences: true });
    const { client } = clientFor(`http://${registry.host}`);
    const children = ['amd64', 'arm64'].map((architecture) =>
      Buffer.from(
        JSON.stringify({ ...JSON.parse(manifestBody.toString('utf8')), annotations: { architecture } }),
      ),
    );
    const descriptors = [];
    for (const child of children) {
      const digest = await client.putManifest('acme/agent', sha256(child), child, OCI_IMAGE_MANIFEST);
      descriptors.push({ mediaType: OCI_IMAGE_MANIFEST, digest, size: child.length });
    }
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_IMAGE_INDEX, manifests: descriptors }),
    );

    expect(await client.putManifest('acme/agent', 'v1', index, OCI_IMAGE_INDEX)).toBe(sha256(index));

    const fetched = await client.getManifest('acme/agent', 'v1');
    expect(fetched.mediaType).toBe(OCI_IMAGE_INDEX);
    expect(fetched.digest).toBe(sha256(index));
    expect(client.requestCount).toBe(4);

    const dangling = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_IMAGE_INDEX,
        manifests: [{ ...descriptors[0], digest: sha256(Buffer.from('gone')) }],
      }),
    );
    const error = await expectRegistryError(
      client.putManifest('acme/agent', 'v2', dangling, OCI_IMAGE_INDEX),
    );
    expect(error.code).toBe('MANIFEST_BLOB_UNKNOWN');
  });

  it('refuses to put a manifest under a digest it does not hash to, without a request', async () => {
    const registry = await startRegistry();
    const { client } = clientFor(`http://${registry.host}`);

    const error = await expectRegistryError(
      client.putManifest('acme/agent', sha256(Buffer.from('x')), manifestBody, OCI_IMAGE_MANIFEST),
    );

    expect(error.code).toBe('DIGEST_MISMATCH');
    expect(registry.requests).toHaveLength(0);
  });

  it('names the reference and the registry message when a manifest is unknown, without retrying', async () => {
    const registry = await startRegistry();
    const { client } = clientFor(`http://${registry.host}`);

    const error = await expectRegistryError(client.getManifest('acme/agent', 'nope'));

    expect(error.status).toBe(404);
    expect(error.code).toBe('MANIFEST_UNKNOWN');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      `get manifest ${registry.host}/acme/agent:nope failed: HTTP 404 Not Found, MANIFEST_UNKNOWN: manifest unknown`,
    );
    expect(registry.requests).toHaveLength(1);
  });

  it('rejects an invalid tag before making a request', async () => {
    const registry = await startRegistry();
    const { client } = clientFor(`http://${registry.host}`);

    await expect(client.getManifest('acme/agent', 'bad tag')).rejects.toThrow(
      /invalid tag or digest "bad tag"/,
    );
    await expect(client.getManifest('Acme/agent', 'v1')).rejects.toThrow(
      /invalid repository path "Acme\/agent"/,
    );
    expect(registry.requests).toHaveLength(0);
  });
});

describe('RegistryClient blobs', () => {
  it('gets a blob and a JSON blob, verified against the digest', async () => {
    const registry = await startRegistry();
    const config = Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux' }));
    const digest = registry.addBlob('acme/agent', config);
    const { client } = clientFor(`http://${registry.host}`);

    expect((await client.getBlob('acme/agent', digest)).equals(config)).toBe(true);
    expect(await client.getJsonBlob<{ architecture: string }>('acme/agent', digest)).toEqual({
      architecture: 'arm64',
      os: 'linux',
    });
    expect(await client.blobExists('acme/agent', digest)).toBe(true);
    expect(await client.blobExists('acme/agent', sha256(Buffer.from('absent')))).toBe(false);
  });

  it('detects a blob whose content does not match its digest', async () => {
    const registry = await startRegistry();
    const digest = registry.addBlob('acme/agent', Buffer.from('real'));
    registry.blobs.set(`acme/agent@${digest}`, Buffer.from('fake'));
    const { client } = clientFor(`http://${registry.host}`);

    const error = await expectRegistryError(client.getBlob('acme/agent', digest));

    expect(error.code).toBe('DIGEST_MISMATCH');
    expect(error.message).toContain(`hash to ${sha256(Buffer.from('fake'))}`);
  });

  it('skips uploading a blob the registry already has', async () => {
    const registry = await startRegistry();
    const body = Buffer.from('layer-bytes');
    const digest = registry.addBlob('acme/agent', body);
    const { client } = clientFor(`http://${registry.host}`);

    expect(await client.uploadBlob('acme/agent', body)).toEqual({ digest, uploaded: false });
    expect(registry.registryRequests()).toEqual([`HEAD /v2/acme/agent/blobs/${digest}`]);
    expect(registry.requests.some((r) => r.method === 'POST')).toBe(false);
  });

  it('uploads a blob through a relative Location that carries a query string', async () => {
    const registry = await startRegistry();
    const body = Buffer.from('new-layer');
    const { client } = clientFor(`http://${registry.host}`);

    const result = await client.uploadBlob('acme/agent', body);

    expect(result).toEqual({ digest: sha256(body), uploaded: true });
    expect(registry.blobs.get(`acme/agent@${sha256(body)}`)?.equals(body)).toBe(true);
    const put = registry.requests.find((r) => r.method === 'PUT');
    const putUrl = new URL(put?.url ?? '', registry.origin);
    expect(putUrl.searchParams.get('_state')).toBe('s=1/x+y');
    expect(putUrl.searchParams.get('digest')).toBe(sha256(body));
    expect(put?.headers['content-type']).toBe('application/octet-stream');
  });

  it('uploads a blob through an absolute Location', async () => {
    const registry = await startRegistry({
      uploadLocation: (path, id, origin) => `${origin}/v2/${path}/blobs/uploads/${id}`,
    });
    const body = Buffer.from('another-layer');
    const { client } = clientFor(`http://${registry.host}`);

    expect(await client.uploadBlob('acme/agent', body, sha256(body))).toEqual({
      digest: sha256(body),
      uploaded: true,
    });
    expect(registry.registryRequests().map((line) => line.split(' ')[0])).toEqual(['HEAD', 'POST', 'PUT']);
  });

  it('refuses to upload content that does not match the given digest, without a request', async () => {
    const registry = await startRegistry();
    const { client } = clientFor(`http://${registry.host}`);

    const error = await expectRegistryError(
      client.uploadBlob('acme/agent', Buffer.from('a'), sha256(Buffer.from('b'))),
    );

    expect(error.code).toBe('DIGEST_MISMATCH');
    expect(registry.requests).toHaveLength(0);
  });

  it('follows a blob redirect to another origin without sending the Authorization header there', async () => {
    const cdnRequests: { url: string; authorization: string | undefined }[] = [];
    const blob = Buffer.from('from-the-cdn');
    const cdn = createServer((req, res) => {
      cdnRequests.push({ url: req.url ?? '', authorization: req.headers.authorization });
      res.end(blob);
    });
    await new Promise<void>((resolve) => cdn.listen(0, '127.0.0.1', resolve));
    running.push({
      stop: () => {
        cdn.closeAllConnections();
        return new Promise<void>((resolve) => cdn.close(() => resolve()));
      },
    });
    const cdnPort = (cdn.address() as AddressInfo).port;
    const registry = await startRegistry({ auth: { kind: 'basic', username: 'u', password: 'p' } });
    const digest = sha256(blob);
    registry.interceptors.push((recorded, res) => {
      if (!recorded.url.includes('/blobs/') || !recorded.headers.authorization) return false;
      res.writeHead(307, { location: `http://127.0.0.1:${cdnPort}/blob?sig=abc` });
      res.end();
      return true;
    });
    const { client } = clientFor(`http://${registry.host}`, { credentials: credentialsFor('u', 'p') });

    expect((await client.getBlob('acme/agent', digest)).equals(blob)).toBe(true);
    expect(cdnRequests).toEqual([{ url: '/blob?sig=abc', authorization: undefined }]);
    expect(client.requestCount).toBe(3);
  });
});

describe('RegistryClient blob mounts', () => {
  it('mounts a missing blob from another repository without sending it', async () => {
    const registry = await startRegistry();
    const body = Buffer.from('shared-base-layer');
    const digest = registry.addBlob('acme/base', body);
    const { client } = clientFor(`http://${registry.host}`);

    const result = await client.uploadBlob('acme/agent', body, digest, {
      mountFrom: ['acme/agent', 'acme/base', 'acme/base'],
    });

    expect(result).toEqual({ digest, uploaded: false, mounted: true });
    expect(registry.blobs.get(`acme/agent@${digest}`)?.equals(body)).toBe(true);
    const requests = registry.registryRequests();
    expect(requests).toHaveLength(2);
    expect(requests[0]).toBe(`HEAD /v2/acme/agent/blobs/${digest}`);
    const mount = new URL(registry.requests[1]?.url ?? '', registry.origin);
    expect(registry.requests[1]?.method).toBe('POST');
    expect(mount.pathname).toBe('/v2/acme/agent/blobs/uploads/');
    expect(mount.searchParams.get('mount')).toBe(digest);
    expect(mount.searchParams.get('from')).toBe('acme/base');
    expect(registry.requests.some((r) => r.method === 'PUT')).toBe(false);
    expect(client.requestCount).toBe(2);
  });

  it('uploads through the session a refused mount opened (202), without opening another', async () => {
    const registry = await startRegistry();
    const body = Buffer.from('not-in-the-base');
    const { client } = clientFor(`http://${registry.host}`);

    const result = await client.uploadBlob('acme/agent', body, undefined, {
      mountFrom: ['acme/base', 'acme/other'],
    });

    expect(result).toEqual({ digest: sha256(body), uploaded: true, mounted: false });
    expect(registry.blobs.get(`acme/agent@${sha256(body)}`)?.equals(body)).toBe(true);
    expect(registry.registryRequests().map((line) => line.split(' ')[0])).toEqual(['HEAD', 'POST', 'PUT']);
    const post = new URL(registry.requests[1]?.url ?? '', registry.origin);
    expect(post.searchParams.get('from')).toBe('acme/base');
    const put = new URL(registry.requests[2]?.url ?? '', registry.origin);
    expect(put.searchParams.get('digest')).toBe(sha256(body));
    expect(client.requestCount).toBe(3);
  });

  it('mounts with Basic credentials', async () => {
    const registry = await startRegistry({ auth: { kind: 'basic', username: 'ci', password: 'pw' } });
    const body = Buffer.from('basic-layer');
    const digest = registry.addBlob('acme/base', body);
    const { client } = clientFor(`http://${registry.host}`, { credentials: credentialsFor('ci', 'pw') });

    expect(await client.uploadBlob('acme/agent', body, digest, { mountFrom: ['acme/base'] })).toEqual({
      digest,
      uploaded: false,
      mounted: true,
    });

    const basic = `Basic ${Buffer.from('ci:pw').toString('base64')}`;
    expect(registry.requests.map((r) => [r.method, r.headers.authorization])).toEqual([
      ['HEAD', undefined],
      ['HEAD', basic],
      ['POST', basic],
    ]);
    expect(registry.blobs.has(`acme/agent@${digest}`)).toBe(true);
    expect(client.requestCount).toBe(3);
  });

  it('asks for a Bearer token with pull on the source repository as well as push on the target', async () => {
    const registry = await startRegistry({ auth: { kind: 'bearer', username: 'ci', password: 'pw' } });
    const body = Buffer.from('bearer-layer');
    const digest = registry.addBlob('acme/base', body);
    const { client } = clientFor(`http://${registry.host}`, { credentials: credentialsFor('ci', 'pw') });

    expect(await client.uploadBlob('acme/agent', body, digest, { mountFrom: ['acme/base'] })).toEqual({
      digest,
      uploaded: false,
      mounted: true,
    });

    const scopes = registry
      .tokenRequests()
      .map((r) => new URL(r.url, registry.origin).searchParams.getAll('scope'));
    expect(scopes).toEqual([
      ['repository:acme/agent:pull,push'],
      ['repository:acme/agent:pull,push', 'repository:acme/base:pull'],
    ]);
    // HEAD 401, token, HEAD 404, token for the mount, POST 201.
    expect(client.requestCount).toBe(5);
  });

  it('skips a source the credentials may not pull from and tries the next, else uploads', async () => {
    const registry = await startRegistry({
      auth: { kind: 'bearer', username: 'ci', password: 'pw', pullDenied: ['acme/secret'] },
    });
    const { client } = clientFor(`http://${registry.host}`, { credentials: credentialsFor('ci', 'pw') });

    const first = Buffer.from('only-in-secret');
    registry.addBlob('acme/secret', first);
    expect(await client.uploadBlob('acme/agent', first, undefined, { mountFrom: ['acme/secret'] })).toEqual({
      digest: sha256(first),
      uploaded: true,
      mounted: false,
    });
    expect(registry.registryRequests().map((line) => line.split(/[ ?]/).slice(0, 2).join(' '))).toEqual([
      `HEAD /v2/acme/agent/blobs/${sha256(first)}`,
      `HEAD /v2/acme/agent/blobs/${sha256(first)}`,
      'POST /v2/acme/agent/blobs/uploads/', // mount refused with 401
      'POST /v2/acme/agent/blobs/uploads/', // a plain upload
      expect.stringMatching(/^PUT \/v2\/acme\/agent\/blobs\/uploads\/[0-9a-f-]+$/),
    ]);

    const second = Buffer.from('in-base-too');
    registry.addBlob('acme/secret', second);
    registry.addBlob('acme/base', second);
    expect(
      await client.uploadBlob('acme/agent', second, undefined, { mountFrom: ['acme/secret', 'acme/base'] }),
    ).toEqual({ digest: sha256(second), uploaded: false, mounted: true });
  });

  it('rejects an invalid mount source before making a request', async () => {
    const registry = await startRegistry();
    const { client } = clientFor(`http://${registry.host}`);

    await expect(
      client.uploadBlob('acme/agent', Buffer.from('x'), undefined, { mountFrom: ['Acme/Base'] }),
    ).rejects.toThrow(/invalid repository path "Acme\/Base"/);
    expect(registry.requests).toHaveLength(0);
  });
});

describe('RegistryClient referrers', () => {
  const subjectBody = manifestBody;
  const subjectDigest = sha256(subjectBody);

  function referrer(n: number, artifactType: string): Buffer {
    return Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_IMAGE_MANIFEST,
        artifactType,
        config: {
          mediaType: 'application/vnd.oci.empty.v1+json',
          digest: sha256(Buffer.from('{}')),
          size: 2,
        },
        layers: [],
        subject: { mediaType: OCI_IMAGE_MANIFEST, digest: subjectDigest, size: subjectBody.length },
        annotations: { n: String(n) },
      }),
    );
  }

  function addReferrers(registry: FakeRegistry): string[] {
    registry.addManifest('acme/agent', 'v1', subjectBody, OCI_IMAGE_MANIFEST);
    const types = ['application/vnd.dev.sigstore.bundle.v0.3+json', 'application/spdx+json'];
    return [0, 1, 2].map((n) =>
      registry.addManifest('acme/agent', undefined, referrer(n, types[n % 2] ?? ''), OCI_IMAGE_MANIFEST),
    );
  }

  function readIndex(body: Buffer | undefined): { mediaType?: string; manifests: { digest: string }[] } {
    expect(body).toBeDefined();
    return JSON.parse(body?.toString('utf8') ?? '') as {
      mediaType?: string;
      manifests: { digest: string }[];
    };
  }

  it('merges the manifests of every Link page, with a pull token and the image index Accept header', async () => {
    const registry = await startRegistry({
      auth: { kind: 'bearer', username: 'ci', password: 'pw' },
      referrers: { pageSize: 2 },
    });
    const digests = addReferrers(registry);
    const { client } = clientFor(`http://${registry.host}`, { credentials: credentialsFor('ci', 'pw') });

    const index = readIndex(await client.getReferrers('acme/agent', subjectDigest));

    expect(index.mediaType).toBe(OCI_IMAGE_INDEX);
    expect(index.manifests.map((m) => m.digest).sort()).toEqual([...digests].sort());
    expect(registry.registryRequests()).toEqual([
      `GET /v2/acme/agent/referrers/${subjectDigest}`,
      `GET /v2/acme/agent/referrers/${subjectDigest}`,
      `GET /v2/acme/agent/referrers/${subjectDigest}?page=1`,
    ]);
    const pages = registry.requests.filter((r) => r.url.includes('/referrers/'));
    expect(pages.every((r) => r.headers.accept === OCI_IMAGE_INDEX)).toBe(true);
    const scopes = registry
      .tokenRequests()
      .map((r) => new URL(r.url, registry.origin).searchParams.getAll('scope'));
    expect(scopes).toEqual([['repository:acme/agent:pull']]);
    expect(client.requestCount).toBe(4);
  });

  it('returns the registry answer as it is when it fits one page', async () => {
    const registry = await startRegistry({ referrers: {} });
    addReferrers(registry);
    const { client } = clientFor(`http://${registry.host}`);

    const body = await client.getReferrers('acme/agent', subjectDigest);

    const direct = await fetch(`${registry.origin}/v2/acme/agent/referrers/${subjectDigest}`);
    expect(body?.equals(Buffer.from(await direct.arrayBuffer()))).toBe(true);
    expect(client.requestCount).toBe(1);
  });

  it('asks for an artifactType and filters itself when the registry did not', async () => {
    const type = 'application/spdx+json';
    for (const filter of [true, false]) {
      const registry = await startRegistry({ referrers: { filter } });
      const digests = addReferrers(registry);
      const { client } = clientFor(`http://${registry.host}`);

      const index = readIndex(await client.getReferrers('acme/agent', subjectDigest, type));

      expect(index.manifests.map((m) => m.digest)).toEqual([digests[1]]);
      const url = new URL(registry.requests[0]?.url ?? '', registry.origin);
      expect(url.searchParams.get('artifactType')).toBe(type);
    }
  });

  it('is undefined when the registry has no referrers API (404 with an error body or text)', async () => {
    const registry = await startRegistry();
    registry.addManifest('acme/agent', 'v1', subjectBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(`http://${registry.host}`);

    expect(client.referrersApi).toBeUndefined();
    expect(await client.getReferrers('acme/agent', subjectDigest)).toBeUndefined();
    expect(client.referrersApi).toBe(false);

    registry.failNext(
      1,
      (r) => r.url.includes('/referrers/'),
      (res) => {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('404 page not found\n');
      },
    );
    const { client: other } = clientFor(`http://${registry.host}`);
    expect(await other.getReferrers('acme/agent', subjectDigest)).toBeUndefined();
    expect(other.referrersApi).toBe(false);
    expect(client.requestCount + other.requestCount).toBe(2);
  });

  it('takes a 404 whose body is an image index as the answer', async () => {
    const registry = await startRegistry();
    const empty = { schemaVersion: 2, mediaType: OCI_IMAGE_INDEX, manifests: [] };
    registry.failNext(
      1,
      () => true,
      (res) => json(res, 404, empty, { 'content-type': OCI_IMAGE_INDEX }),
    );
    const { client } = clientFor(`http://${registry.host}`);

    expect(readIndex(await client.getReferrers('acme/agent', subjectDigest))).toEqual(empty);
  });

  it('retries a 5xx answer', async () => {
    const registry = await startRegistry({ referrers: {} });
    const digests = addReferrers(registry);
    registry.failNext(
      2,
      () => true,
      (res) => errorBody(res, 503, 'UNAVAILABLE', 'try later'),
    );
    const { client, sleeps } = clientFor(`http://${registry.host}`);

    const index = readIndex(await client.getReferrers('acme/agent', subjectDigest));

    expect(index.manifests).toHaveLength(digests.length);
    expect(sleeps).toHaveLength(2);
    expect(client.requestCount).toBe(3);
  });

  it('fails on an answer that is not an image index, and on a 5xx after the retries', async () => {
    const registry = await startRegistry();
    registry.failNext(
      1,
      () => true,
      (res) => json(res, 200, { mediaType: OCI_IMAGE_MANIFEST, layers: [] }),
    );
    const { client } = clientFor(`http://${registry.host}`, { retry: { attempts: 2 } });

    const invalid = await expectRegistryError(client.getReferrers('acme/agent', subjectDigest));
    expect(invalid.code).toBe('MANIFEST_INVALID');
    expect(invalid.message).toContain(`get referrers ${registry.host}/acme/agent@${subjectDigest} failed`);

    registry.failNext(
      2,
      () => true,
      (res) => errorBody(res, 500, 'UNKNOWN', 'boom'),
    );
    const failed = await expectRegistryError(client.getReferrers('acme/agent', subjectDigest));
    expect(failed.status).toBe(500);
    expect(failed.attempts).toBe(2);
  });
});

describe('RegistryClient manifest deletion', () => {
  it('deletes a manifest by digest (untagging it), and reports a missing one as false', async () => {
    const registry = await startRegistry();
    const digest = registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(`http://${registry.host}`);

    expect(await client.deleteManifest('acme/agent', digest)).toBe(true);
    expect(registry.manifests.has(`acme/agent@${digest}`)).toBe(false);
    expect(registry.tags.get('acme/agent')?.has('v1')).toBe(false);
    expect(await client.deleteManifest('acme/agent', digest)).toBe(false);
    expect(registry.registryRequests()).toEqual([
      `DELETE /v2/acme/agent/manifests/${digest}`,
      `DELETE /v2/acme/agent/manifests/${digest}`,
    ]);
    expect(client.requestCount).toBe(2);
  });

  it('says deletion is disabled when the registry answers 405 UNSUPPORTED', async () => {
    const registry = await startRegistry({ deleteEnabled: false });
    const digest = registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(`http://${registry.host}`);

    const error = await expectRegistryError(client.deleteManifest('acme/agent', digest));

    expect(error.status).toBe(405);
    expect(error.code).toBe('UNSUPPORTED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(
      `delete manifest ${registry.host}/acme/agent@${digest} failed: deletion is disabled on the registry`,
    );
    expect(error.message).toContain('REGISTRY_STORAGE_DELETE_ENABLED');
    expect(registry.manifests.has(`acme/agent@${digest}`)).toBe(true);
  });

  it('asks for a delete-scoped Bearer token, and refuses a malformed reference without a request', async () => {
    const registry = await startRegistry({ auth: { kind: 'bearer', username: 'ci', password: 'pw' } });
    const digest = registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(`http://${registry.host}`, { credentials: credentialsFor('ci', 'pw') });

    await expect(client.deleteManifest('acme/agent', 'not a tag')).rejects.toThrow(/not a tag/);
    expect(registry.requests).toHaveLength(0);

    expect(await client.deleteManifest('acme/agent', digest)).toBe(true);
    const scopes = registry
      .tokenRequests()
      .map((r) => new URL(r.url, registry.origin).searchParams.getAll('scope'));
    expect(scopes).toEqual([['repository:acme/agent:delete']]);
    expect(client.requestCount).toBe(3);
  });
});

describe('RegistryClient tags', () => {
  it('lists tags across pages by following Link headers', async () => {
    const registry = await startRegistry({ tagPageSize: 2 });
    for (const tag of ['v1', 'v2', 'v3', 'v4', 'v5'])
      registry.addManifest('acme/agent', tag, manifestBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(`http://${registry.host}`);

    expect(await client.listTags('acme/agent')).toEqual(['v1', 'v2', 'v3', 'v4', 'v5']);
    expect(registry.registryRequests()).toEqual([
      'GET /v2/acme/agent/tags/list',
      'GET /v2/acme/agent/tags/list?n=2&last=v2',
      'GET /v2/acme/agent/tags/list?n=2&last=v4',
    ]);
  });

  it('lists no tags for a repository the registry does not know', async () => {
    const registry = await startRegistry();
    const { client } = clientFor(`http://${registry.host}`);

    expect(await client.listTags('acme/unknown')).toEqual([]);
  });
});

describe('RegistryClient authentication', () => {
  it('answers a Basic challenge and then sends Basic credentials up front', async () => {
    const registry = await startRegistry({ auth: { kind: 'basic', username: 'ci', password: 's3cret' } });
    registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(`http://${registry.host}`, { credentials: credentialsFor('ci', 's3cret') });

    await client.getManifest('acme/agent', 'v1');
    await client.listTags('acme/agent');

    const expected = `Basic ${Buffer.from('ci:s3cret').toString('base64')}`;
    expect(registry.requests.map((r) => r.headers.authorization)).toEqual([undefined, expected, expected]);
    expect(client.requestCount).toBe(3);
  });

  it('fails with a RegistryAuthError that suggests the inputs when no credentials are found', async () => {
    const registry = await startRegistry({ auth: { kind: 'basic', username: 'ci', password: 's3cret' } });
    const { client } = clientFor(`http://${registry.host}`);

    const error = await expectRegistryError(client.getManifest('acme/agent', 'v1'));

    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.status).toBe(401);
    expect(error.message).toContain('registry-username/registry-password');
    expect(error.message).toContain(`docker login ${registry.host}`);
  });

  it('fails with a RegistryAuthError after the registry refuses the Basic credentials', async () => {
    const registry = await startRegistry({ auth: { kind: 'basic', username: 'ci', password: 's3cret' } });
    const { client } = clientFor(`http://${registry.host}`, { credentials: credentialsFor('ci', 'wrong') });

    const error = await expectRegistryError(client.getManifest('acme/agent', 'v1'));

    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toContain('UNAUTHORIZED: authentication required');
    expect(error.message).not.toContain('wrong');
    expect(registry.requests).toHaveLength(2);
  });

  it('gets a Bearer token with Basic credentials for the pull scope and reuses it', async () => {
    const registry = await startRegistry({ auth: { kind: 'bearer', username: 'ci', password: 'pw' } });
    registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(`http://${registry.host}`, { credentials: credentialsFor('ci', 'pw') });

    await client.getManifest('acme/agent', 'v1');
    await client.headManifest('acme/agent', 'v1');

    const [tokenRequest] = registry.tokenRequests();
    const tokenUrl = new URL(tokenRequest?.url ?? '', registry.origin);
    expect(tokenUrl.searchParams.get('service')).toBe('fake-registry');
    expect(tokenUrl.searchParams.getAll('scope')).toEqual(['repository:acme/agent:pull']);
    expect(tokenRequest?.headers.authorization).toBe(`Basic ${Buffer.from('ci:pw').toString('base64')}`);
    expect(registry.tokenRequests()).toHaveLength(1);
    // 401, token, retry, then the HEAD with the cached token.
    expect(client.requestCount).toBe(4);
  });

  it('asks for pull,push when writing, and for a new token per repository', async () => {
    const registry = await startRegistry({ auth: { kind: 'bearer', username: 'ci', password: 'pw' } });
    const { client } = clientFor(`http://${registry.host}`, { credentials: credentialsFor('ci', 'pw') });

    await client.putManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    await client.getManifest('acme/agent', 'v1');
    await client.putManifest('acme/other', 'v1', manifestBody, OCI_IMAGE_MANIFEST);

    const scopes = registry
      .tokenRequests()
      .map((r) => new URL(r.url, registry.origin).searchParams.getAll('scope'));
    expect(scopes).toEqual([['repository:acme/agent:pull,push'], ['repository:acme/other:pull,push']]);
    // The second repository's token comes from the known realm without another 401.
    expect(registry.registryRequests()).toEqual([
      'PUT /v2/acme/agent/manifests/v1',
      'PUT /v2/acme/agent/manifests/v1',
      'GET /v2/acme/agent/manifests/v1',
      'PUT /v2/acme/other/manifests/v1',
    ]);
  });

  it('exchanges an identity token for an access token with a refresh_token POST', async () => {
    const registry = await startRegistry({ auth: { kind: 'bearer', identityToken: 'refresh-me' } });
    registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(`http://${registry.host}`, {
      credentials: async () => ({ identityToken: 'refresh-me' }),
    });

    await client.getManifest('acme/agent', 'v1');

    const [tokenRequest] = registry.tokenRequests();
    expect(tokenRequest?.method).toBe('POST');
    const form = new URLSearchParams(tokenRequest?.body.toString('utf8'));
    expect(form.get('grant_type')).toBe('refresh_token');
    expect(form.get('refresh_token')).toBe('refresh-me');
    expect(form.get('scope')).toBe('repository:acme/agent:pull');
  });

  it('gets anonymous tokens without credentials, and a push refused with them is an auth error', async () => {
    const registry = await startRegistry({ auth: { kind: 'bearer', username: 'ci', password: 'pw' } });
    registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(`http://${registry.host}`);

    expect((await client.getManifest('acme/agent', 'v1')).size).toBe(manifestBody.length);
    expect(registry.tokenRequests()[0]?.headers.authorization).toBeUndefined();

    const error = await expectRegistryError(
      client.putManifest('acme/agent', 'v2', manifestBody, OCI_IMAGE_MANIFEST),
    );
    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.operation).toBe('put manifest');
    expect(error.message).toContain('No credentials were found');
  });

  it('reports a token server that rejects the credentials, with its message', async () => {
    const registry = await startRegistry({ auth: { kind: 'bearer', username: 'ci', password: 'pw' } });
    const { client } = clientFor(`http://${registry.host}`, { credentials: credentialsFor('ci', 'nope') });

    const error = await expectRegistryError(client.getManifest('acme/agent', 'v1'));

    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.operation).toBe('get manifest (token request)');
    expect(error.message).toContain('incorrect username or password');
    expect(error.message).toContain('registry-username/registry-password');
  });

  it('fetches a new token when a cached one is rejected', async () => {
    let now = 1_000_000;
    const registry = await startRegistry({ auth: { kind: 'bearer', username: 'ci', password: 'pw' } });
    registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(`http://${registry.host}`, {
      credentials: credentialsFor('ci', 'pw'),
      now: () => now,
    });
    await client.getManifest('acme/agent', 'v1');
    registry.tokens.clear(); // the registry forgets every token it issued
    now += 1000;

    await client.getManifest('acme/agent', 'v1');

    expect(registry.tokenRequests()).toHaveLength(2);
    expect(client.requestCount).toBe(6);
  });

  it('does not retry a 403 and reports it as an auth error', async () => {
    const registry = await startRegistry();
    registry.failNext(
      5,
      () => true,
      (res) => errorBody(res, 403, 'DENIED', 'requested access to the resource is denied'),
    );
    const { client } = clientFor(`http://${registry.host}`);

    const error = await expectRegistryError(
      client.putManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST),
    );

    expect(error).toBeInstanceOf(RegistryAuthError);
    expect(error.status).toBe(403);
    expect(error.message).toContain('DENIED: requested access to the resource is denied');
    expect(registry.requests).toHaveLength(1);
  });

  it('refuses a plain-http token realm on a non-loopback host before sending credentials', async () => {
    const registry = await startRegistry({
      auth: { kind: 'bearer', username: 'ci', password: 'pw', realm: 'http://auth.example.com/token' },
    });
    const seen: string[] = [];
    const countingFetch: FetchLike = (url, init) => {
      seen.push(url);
      return undiciFetch(url, init);
    };
    const { client } = clientFor(`http://${registry.host}`, {
      credentials: credentialsFor('ci', 'pw'),
      fetchImpl: countingFetch,
    });

    const error = await expectRegistryError(client.getManifest('acme/agent', 'v1'));

    expect(error.code).toBe('PLAIN_HTTP_REFUSED');
    expect(error.message).toContain('refusing to send credentials over plain http to auth.example.com');
    expect(seen).toEqual([`http://${registry.host}/v2/acme/agent/manifests/v1`]);
  });
});

describe('RegistryClient retries', () => {
  it('honours Retry-After on 429 and then succeeds', async () => {
    const registry = await startRegistry();
    registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    registry.failNext(
      1,
      () => true,
      (res) => {
        res.setHeader('retry-after', '2');
        errorBody(res, 429, 'TOOMANYREQUESTS', 'slow down');
      },
    );
    const { client, sleeps } = clientFor(`http://${registry.host}`);

    expect((await client.getManifest('acme/agent', 'v1')).size).toBe(manifestBody.length);
    expect(sleeps).toEqual([2000]);
    expect(client.requestCount).toBe(2);
  });

  it('retries 503 with exponential backoff and then succeeds', async () => {
    const registry = await startRegistry();
    registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    registry.failNext(
      3,
      () => true,
      (res) => errorBody(res, 503, 'UNAVAILABLE', 'try later'),
    );
    const { client, sleeps } = clientFor(`http://${registry.host}`, {
      retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 30 },
    });

    await client.getManifest('acme/agent', 'v1');

    expect(sleeps).toEqual([10, 20, 30]);
    expect(registry.requests).toHaveLength(4);
  });

  // Issue 11: retries last the operation's time budget (60 s by default), not four attempts.
  it('gives up on a registry that answers 503 forever once the time budget is spent, saying how long it tried', async () => {
    const registry = await startRegistry();
    registry.failNext(
      100,
      () => true,
      (res) => errorBody(res, 503, 'UNAVAILABLE', 'maintenance'),
    );
    const { client, sleeps } = clientFor(`http://${registry.host}`);

    const error = await expectRegistryError(client.getManifest('acme/agent', 'v1'));

    expect(error.status).toBe(503);
    expect(error.retryable).toBe(true);
    expect(error.attempts).toBe(12);
    expect(error.elapsedMs).toBeGreaterThanOrEqual(60_000);
    expect(error.message).toContain(
      'HTTP 503 Service Unavailable, UNAVAILABLE: maintenance (gave up after 12 attempts over 60 s)',
    );
    expect(registry.requests).toHaveLength(12);
    // Backoff doubling up to 8 s; the last wait is what remains of the budget (less the requests' own time).
    expect(sleeps.slice(0, 10)).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000, 8000]);
    expect(sleeps[10]).toBeGreaterThan(4000);
    expect(sleeps[10]).toBeLessThanOrEqual(4500);
  });

  it('does not retry a 400 and reports the registry message', async () => {
    const registry = await startRegistry();
    registry.failNext(
      5,
      () => true,
      (res) => errorBody(res, 400, 'MANIFEST_INVALID', 'manifest invalid: missing config'),
    );
    const { client, sleeps } = clientFor(`http://${registry.host}`);

    const error = await expectRegistryError(
      client.putManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST),
    );

    expect(error.code).toBe('MANIFEST_INVALID');
    expect(error.message).toContain('manifest invalid: missing config');
    expect(registry.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('does not retry a 404 blob', async () => {
    const registry = await startRegistry();
    const { client } = clientFor(`http://${registry.host}`);

    const error = await expectRegistryError(client.getBlob('acme/agent', sha256(Buffer.from('none'))));

    expect(error.code).toBe('BLOB_UNKNOWN');
    expect(registry.requests).toHaveLength(1);
  });

  it('retries when the server resets the connection', async () => {
    const registry = await startRegistry();
    registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    registry.failNext(
      1,
      () => true,
      (_res, req) => req.socket.destroy(),
    );
    const { client, sleeps } = clientFor(`http://${registry.host}`);

    expect((await client.getManifest('acme/agent', 'v1')).size).toBe(manifestBody.length);
    expect(client.requestCount).toBe(2);
    expect(sleeps).toHaveLength(1);
  });

  it('retries a request that times out', async () => {
    const registry = await startRegistry();
    registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    registry.failNext(
      1,
      () => true,
      () => undefined, // never answers
    );
    const { client } = clientFor(`http://${registry.host}`, { timeoutMs: 300 });

    expect((await client.getManifest('acme/agent', 'v1')).size).toBe(manifestBody.length);
    expect(client.requestCount).toBe(2);
  });

  it("ends an attempt whose TLS connection never completes after the request timeout, not undici's 10 s", async () => {
    // Accepts TCP and never answers the TLS ClientHello.
    const silent = createNetServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const { client } = clientFor(`https://127.0.0.1:${port}`, { timeoutMs: 300, retry: { attempts: 1 } });
      const started = Date.now();
      const error = await expectRegistryError(client.listTags('acme/agent'));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/timed out|TIMEOUT|no complete answer/i);
    } finally {
      silent.close();
    }
  });

  it('gives up on a refused connection after the configured attempts', async () => {
    const port = await closedPort();
    const { client, sleeps } = clientFor(`http://127.0.0.1:${port}`, {
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    });

    const error = await expectRegistryError(client.listTags('acme/agent'));

    expect(error.code).toBe('CONNECTION_FAILED');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain('(gave up after 3 attempts)');
    expect(sleeps).toHaveLength(2);
    expect(client.requestCount).toBe(3);
  });
});

describe('RegistryClient transport security', () => {
  it('refuses plain http to a non-loopback registry without making a request', () => {
    const seen: string[] = [];
    const fetchImpl: FetchLike = async (url) => {
      seen.push(url);
      throw new Error('no request expected');
    };

    expect(() => new RegistryClient({ registry: 'http://registry.example.com', fetchImpl })).toThrow(
      /plain http, which is only allowed for loopback registries .* or registries marked insecure/,
    );
    expect(seen).toEqual([]);
  });

  it('allows plain http to a registry marked insecure but will not send it Basic credentials', async () => {
    const seen: string[] = [];
    const fetchImpl: FetchLike = async (url) => {
      seen.push(url);
      return new Response(null, {
        status: 401,
        headers: { 'www-authenticate': 'Basic realm="x"' },
      });
    };
    const { client } = clientFor('http://registry.example.com:5000', {
      insecure: true,
      fetchImpl,
      credentials: credentialsFor('u', 'p'),
    });

    const error = await expectRegistryError(client.listTags('acme/agent'));

    expect(error.code).toBe('PLAIN_HTTP_REFUSED');
    expect(seen).toEqual(['http://registry.example.com:5000/v2/acme/agent/tags/list']);
  });

  it('uses https first for a loopback registry without a scheme and falls back to plain http', async () => {
    const registry = await startRegistry();
    registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(registry.host);

    await client.getManifest('acme/agent', 'v1');
    await client.getManifest('acme/agent', 'v1');

    // One failed TLS handshake, then plain http for good.
    expect(client.requestCount).toBe(3);
    expect(registry.registryRequests()).toHaveLength(2);
  });

  it('probes https once for concurrent first requests to a plain-http registry without a scheme', async () => {
    const registry = await startRegistry();
    registry.addManifest('acme/agent', 'v1', manifestBody, OCI_IMAGE_MANIFEST);
    const { client } = clientFor(registry.host);

    const manifests = await Promise.all(
      Array.from({ length: 10 }, () => client.getManifest('acme/agent', 'v1')),
    );

    expect(manifests.every((manifest) => manifest.body.equals(manifestBody))).toBe(true);
    // One failed TLS handshake shared by all ten, then ten plain-http requests.
    expect(client.requestCount).toBe(11);
    expect(registry.registryRequests()).toHaveLength(10);
  });

  it('lets the next waiting request probe again when the probe fails without an answer', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const seen: string[] = [];
    const fetchImpl: FetchLike = async (url) => {
      seen.push(url);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5000'), {
        code: 'ECONNREFUSED',
      });
      throw new TypeError('fetch failed', { cause: refused });
    };
    const { client } = clientFor('127.0.0.1:5000', { fetchImpl, retry: { attempts: 1 } });

    const errors = await Promise.all(
      [client.listTags('acme/agent'), client.listTags('acme/other')].map((p) => expectRegistryError(p)),
    );

    expect(errors.map((error) => error.code)).toEqual(['CONNECTION_FAILED', 'CONNECTION_FAILED']);
    // Each request made its own https attempt, one after the other.
    expect(maxInFlight).toBe(1);
    expect(seen).toEqual([
      'https://127.0.0.1:5000/v2/acme/agent/tags/list',
      'https://127.0.0.1:5000/v2/acme/other/tags/list',
    ]);
    expect(client.requestCount).toBe(2);
  });

  it('does not fall back to plain http when https was asked for explicitly', async () => {
    const registry = await startRegistry();
    const { client } = clientFor(`https://${registry.host}`);

    const error = await expectRegistryError(client.listTags('acme/agent'));

    expect(error.code).toBe('PLAIN_HTTP_SERVER');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(`${registry.host} answered in plain http`);
    expect(client.requestCount).toBe(1);
    expect(registry.requests).toHaveLength(0);
  });

  it('answers with the JSON body of a non-registry error page excerpt', async () => {
    const registry = await startRegistry();
    registry.failNext(
      1,
      () => true,
      (res) => json(res, 400, { message: 'bad request from proxy' }),
    );
    const { client } = clientFor(`http://${registry.host}`);

    await expect(client.listTags('acme/agent')).rejects.toThrow(
      `list tags ${registry.host}/acme/agent failed: HTTP 400 Bad Request, bad request from proxy`,
    );
  });
});

async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
