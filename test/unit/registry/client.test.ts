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

  it('gives up on a registry that answers 503 forever and says how many attempts were made', async () => {
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
    expect(error.attempts).toBe(4);
    expect(error.message).toContain(
      'HTTP 503 Service Unavailable, UNAVAILABLE: maintenance (gave up after 4 attempts)',
    );
    expect(registry.requests).toHaveLength(4);
    expect(sleeps).toEqual([500, 1000, 2000]);
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
