/**
 * Smoke test of the e2e harness: a TLS + htpasswd registry on loopback, a multi-arch busybox base
 * image pushed to it, and foreign-arch (QEMU) RUN steps building FROM that base; and the token-auth
 * registry (Bearer challenge, loopback token server) with skopeo, buildah and the project's client.
 *
 * Run: npx vitest run --project e2e test/e2e/harness.test.ts
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { describeFailure, execProcess } from '../../src/process/exec.js';
import { RegistryClient } from '../../src/registry/client.js';
import { resolverFromInputs } from '../../src/registry/credentials.js';
import {
  BUILDAH_BUILD_ARGS,
  createBuildahStore,
  publishBaseImage,
  registryArgs,
  type BuildahStore,
} from './harness/base-images.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import {
  accessLogAfter,
  basicAuth,
  httpsGet,
  markAccessLog,
  probeV2,
  startRegistry,
  type HttpsResponse,
  type TestRegistry,
} from './harness/registry.js';

const TIMEOUT_MS = 5 * 60_000;

async function skopeo(args: string[]): Promise<string> {
  const result = await execProcess('skopeo', args, { timeoutMs: TIMEOUT_MS });
  if (result.exitCode !== 0 || result.failure) throw new Error(describeFailure('skopeo', result));
  return result.stdout;
}

/** POSTs an empty body to an https URL trusting only `ca`; any HTTP status resolves (bounded: 10 s). */
function httpsPost(url: string, ca: string, headers: Record<string, string>): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      { method: 'POST', ca, headers: { ...headers, 'content-length': '0' }, timeout: 10_000, agent: false },
      (response) => {
        response.resume();
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: '' }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`POST ${url} timed out`)));
    request.on('error', reject);
    request.end();
  });
}

/** The decoded header and claims of a JWT (no verification: the registry does that). */
function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [header, claims] = token
    .split('.')
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  return { header: header as Record<string, unknown>, claims: claims as Record<string, unknown> };
}

const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

interface IndexJson {
  mediaType?: string;
  manifests?: { digest: string; platform?: { os?: string; architecture?: string } }[];
}

describe('e2e harness', () => {
  let reg: TestRegistry | undefined;
  let baseRef = '';
  let store: BuildahStore | undefined;
  let work = '';

  const registry = (): TestRegistry => {
    if (!reg) throw new Error('registry not started');
    return reg;
  };

  beforeAll(async () => {
    await ensureHostTools();
    await ensureBinfmt();
    reg = await startRegistry();
    work = await mkdtemp(path.join(os.tmpdir(), 'edgeship-harness-test-'));
  });

  afterAll(async () => {
    await store?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
    await reg?.stop();
  });

  it('serves /v2/ over TLS only to authenticated clients', async () => {
    const anonymous = await probeV2(registry(), false);
    expect(anonymous.status).toBe(401);
    expect(String(anonymous.headers['www-authenticate'])).toMatch(/^Basic /);
    const authenticated = await probeV2(registry(), true);
    expect(authenticated.status).toBe(200);
    expect(registry().host).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('lists in its access log every request after a marker (what the bench counts), 401s included', async () => {
    const marker = await markAccessLog(registry());
    await probeV2(registry(), false);
    await probeV2(registry(), true);
    let logged = accessLogAfter(registry().logs(), marker);
    for (let i = 0; i < 20 && logged.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      logged = accessLogAfter(registry().logs(), marker);
    }
    expect(logged).toEqual([
      { method: 'GET', uri: '/v2/', status: 401 },
      { method: 'GET', uri: '/v2/', status: 200 },
    ]);
    expect(() => accessLogAfter(registry().logs(), '/v2/never-requested/tags/list')).toThrow(/no line/);
  });

  it('publishes a multi-arch busybox base image as an index', async () => {
    const started = Date.now();
    baseRef = await publishBaseImage(registry());
    console.log(`publishBaseImage: ${Date.now() - started} ms`);
    expect(baseRef).toBe(`${registry().host}/base/busybox:1`);

    const raw = JSON.parse(
      await skopeo(['inspect', '--raw', ...registryArgs(registry()), `docker://${baseRef}`]),
    ) as IndexJson;
    expect([
      'application/vnd.oci.image.index.v1+json',
      'application/vnd.docker.distribution.manifest.list.v2+json',
    ]).toContain(raw.mediaType);
    const platforms = (raw.manifests ?? []).map((m) => `${m.platform?.os}/${m.platform?.architecture}`);
    expect(platforms.sort()).toEqual(['linux/amd64', 'linux/arm64']);

    const arm64 = JSON.parse(
      await skopeo([
        'inspect',
        '--override-os',
        'linux',
        '--override-arch',
        'arm64',
        ...registryArgs(registry()),
        `docker://${baseRef}`,
      ]),
    ) as { Architecture?: string; Os?: string };
    expect(arm64.Architecture).toBe('arm64');
    expect(arm64.Os).toBe('linux');
  });

  it.each(['arm64', 'amd64'])('runs a linux/%s RUN step FROM the pushed base', async (arch) => {
    expect(baseRef, 'base image must be published first').not.toBe('');
    store ??= await createBuildahStore();
    const context = path.join(work, `ctx-${arch}`);
    const out = path.join(work, `out-${arch}`);
    await rm(context, { recursive: true, force: true });
    await mkdir(context, { recursive: true });
    await writeFile(path.join(context, 'Containerfile'), `FROM ${baseRef}\nRUN uname -m > /arch\n`);
    const started = Date.now();
    const result = await execProcess(
      'buildah',
      [
        ...store.args,
        'build',
        ...BUILDAH_BUILD_ARGS,
        '--platform',
        `linux/${arch}`,
        ...registryArgs(registry()),
        '--output',
        `type=local,dest=${out}`,
        '--file',
        path.join(context, 'Containerfile'),
        context,
      ],
      { timeoutMs: TIMEOUT_MS },
    );
    console.log(`buildah build linux/${arch}: ${Date.now() - started} ms`);
    expect(result.exitCode, describeFailure('buildah', result)).toBe(0);
    expect((await readFile(path.join(out, 'arch'), 'utf8')).trim()).toBe(
      arch === 'arm64' ? 'aarch64' : 'x86_64',
    );
  });
});

describe('e2e harness: token-auth registry', () => {
  let reg: TestRegistry | undefined;
  let work = '';
  let ca = '';
  let baseDigest = '';

  const registry = (): TestRegistry => {
    if (!reg) throw new Error('registry not started');
    return reg;
  };
  const realm = () => registry().tokenRealm ?? '';
  /** A token from the token server for `scopes`, with the registry's credentials unless `authorization` is given. */
  const askToken = (scopes: string[], authorization?: string) => {
    const url = new URL(realm());
    url.searchParams.set('service', 'edgeship-test-registry');
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> =
      authorization === undefined
        ? { Authorization: basicAuth(registry().username, registry().password) }
        : authorization === ''
          ? {}
          : { Authorization: authorization };
    return httpsGet(url.toString(), { ca, headers });
  };
  /** skopeo copy takes the certificate directory per side; the auth file serves both. */
  const copyArgs = () => [
    '--authfile',
    registry().authFile,
    '--src-cert-dir',
    registry().certDir,
    '--dest-cert-dir',
    registry().certDir,
  ];
  const tokenOf = (response: HttpsResponse) => (JSON.parse(response.body) as { token: string }).token;

  beforeAll(async () => {
    await ensureHostTools();
    const started = Date.now();
    reg = await startRegistry({ auth: 'token' });
    console.log(`startRegistry({ auth: 'token' }): ${Date.now() - started} ms`);
    ca = await readFile(reg.caFile, 'utf8');
    work = await mkdtemp(path.join(os.tmpdir(), 'edgeship-harness-token-test-'));
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    await reg?.stop();
  });

  it('answers /v2/ with a Bearer challenge naming its token server, and takes no Basic credentials', async () => {
    expect(registry().auth).toBe('token');
    // A host name: go-containerregistry (Syft) refuses a loopback IP literal as the realm.
    expect(realm()).toMatch(/^https:\/\/localhost:\d+\/token$/);
    const anonymous = await probeV2(registry(), false);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe(
      `Bearer realm="${realm()}",service="edgeship-test-registry"`,
    );
    expect((await probeV2(registry(), true)).status).toBe(401);

    // An anonymous token opens /v2/ and nothing else.
    const anonymousToken = await askToken(['repository:base/busybox:pull'], '');
    expect(anonymousToken.status).toBe(200);
    expect(decodeJwt(tokenOf(anonymousToken)).claims.access).toEqual([]);
    const bearer = { Authorization: `Bearer ${tokenOf(anonymousToken)}` };
    expect((await httpsGet(`https://${registry().host}/v2/`, { ca, headers: bearer })).status).toBe(200);
  });

  it('issues ES256 tokens with the x5c, issuer, audience and exactly the access asked for', async () => {
    const before = registry().tokenRequests();
    const answer = await askToken(['repository:a/b:pull,push', 'repository:c:pull repository:a/b:delete']);
    expect(answer.status).toBe(200);
    expect(registry().tokenRequests()).toBe(before + 1);
    const body = JSON.parse(answer.body) as Record<string, unknown>;
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(300);
    expect(Number.isNaN(Date.parse(String(body.issued_at)))).toBe(false);
    const { header, claims } = decodeJwt(String(body.token));
    expect(header).toMatchObject({ typ: 'JWT', alg: 'ES256' });
    expect(header.x5c).toHaveLength(1);
    expect(claims).toMatchObject({
      iss: 'edgeship-test-token-issuer',
      aud: 'edgeship-test-registry',
      sub: registry().username,
      access: [
        { type: 'repository', name: 'a/b', actions: ['delete', 'pull', 'push'] },
        { type: 'repository', name: 'c', actions: ['pull'] },
      ],
    });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(300);

    const wrong = await askToken(['repository:a/b:pull'], basicAuth(registry().username, 'not-the-password'));
    expect(wrong.status).toBe(401);
  });

  it('lets buildah and skopeo do the token flow: an image in, out to a layout, and back in', async () => {
    const tokensBefore = registry().tokenRequests();
    const marker = await markAccessLog(registry());
    const baseRef = await publishBaseImage(registry(), 'base/busybox', '1');
    const raw = await skopeo(['inspect', '--raw', ...registryArgs(registry()), `docker://${baseRef}`]);
    baseDigest = sha256(raw);

    // Out to an OCI layout (pull scope) and in again under another name (push scope).
    const layout = path.join(work, 'layout');
    await skopeo(['copy', '--all', ...copyArgs(), `docker://${baseRef}`, `oci:${layout}:1`]);
    const layoutIndex = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as IndexJson;
    const copied = `${registry().host}/token/copied:1`;
    await skopeo(['copy', '--all', ...copyArgs(), `oci:${layout}:1`, `docker://${copied}`]);
    const copiedRaw = await skopeo(['inspect', '--raw', ...registryArgs(registry()), `docker://${copied}`]);
    expect(sha256(copiedRaw)).toBe(layoutIndex.manifests?.[0]?.digest);
    const platforms = ((JSON.parse(copiedRaw) as IndexJson).manifests ?? []).map(
      (m) => m.platform?.architecture,
    );
    expect(platforms.sort()).toEqual(['amd64', 'arm64']);

    // Registry to registry: one token for two repositories (pull on the source, push on the destination).
    const again = `${registry().host}/token/again:1`;
    await skopeo(['copy', '--all', ...copyArgs(), `docker://${copied}`, `docker://${again}`]);
    expect(sha256(await skopeo(['inspect', '--raw', ...registryArgs(registry()), `docker://${again}`]))).toBe(
      sha256(copiedRaw),
    );

    expect(registry().tokenRequests()).toBeGreaterThan(tokensBefore);
    const logged = accessLogAfter(registry().logs(), marker);
    console.log(
      `buildah push + 3 skopeo copies: ${registry().tokenRequests() - tokensBefore} token requests, ${logged.length} registry requests`,
    );
    expect(
      logged.some((r) => r.method === 'PUT' && r.uri === '/v2/token/again/manifests/1' && r.status === 201),
    ).toBe(true);
    expect(registry().logs()).not.toMatch(/invalid token|untrusted issuer|another audience|unable to verify/);
  });

  it("reads a manifest with the project's registry client through the Bearer flow, and names a refused login", async () => {
    expect(baseDigest, 'the base image must be published first').not.toBe('');
    const client = new RegistryClient({
      registry: registry().host,
      credentials: resolverFromInputs(registry().host, registry().username, registry().password),
      ca,
    });
    try {
      const before = registry().tokenRequests();
      const manifest = await client.getManifest('base/busybox', '1');
      expect(manifest.digest).toBe(baseDigest);
      expect(registry().tokenRequests()).toBeGreaterThan(before);
    } finally {
      await client.close();
    }

    const refused = new RegistryClient({
      registry: registry().host,
      credentials: resolverFromInputs(registry().host, registry().username, 'not-the-password'),
      ca,
      retry: { attempts: 1 },
    });
    try {
      const failure = await refused.getManifest('base/busybox', '1').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).name).toBe('RegistryAuthError');
      expect((failure as Error).message).toMatch(/token request/);
      expect((failure as Error).message).toMatch(/authentication required/);
    } finally {
      await refused.close();
    }
  });

  it('refuses a blob upload to a pull-only token, and takes one from a push token', async () => {
    const uploads = `https://${registry().host}/v2/base/busybox/blobs/uploads/`;
    const pullOnly = await askToken(['repository:base/busybox:pull']);
    expect(pullOnly.status).toBe(200);
    const pull = { Authorization: `Bearer ${tokenOf(pullOnly)}` };
    // The token is valid: it reads the repository.
    expect(
      (await httpsGet(`https://${registry().host}/v2/base/busybox/tags/list`, { ca, headers: pull })).status,
    ).toBe(200);
    const refused = await httpsPost(uploads, ca, pull);
    expect([401, 403]).toContain(refused.status);
    expect(String(refused.headers['www-authenticate'])).toMatch(/error="insufficient_scope"/);

    const push = {
      Authorization: `Bearer ${tokenOf(await askToken(['repository:base/busybox:pull,push']))}`,
    };
    const accepted = await httpsPost(uploads, ca, push);
    expect(accepted.status).toBe(202);
  });
});
