import { createHash, randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the fake registry received (token requests included). */
export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Runs before the registry logic; returns true when it answered the request itself (to inject failures).
 * `req` is the live request (its socket can be destroyed); `recorded` has the body already read.
 */
export type Interceptor = (recorded: RecordedRequest, res: ServerResponse, req: IncomingMessage) => boolean;

export type FakeAuth =
  | { kind: 'none' }
  | { kind: 'basic'; username: string; password: string }
  | {
      kind: 'bearer';
      /** Credentials the token server accepts; without them it issues tokens anonymously. */
      username?: string;
      password?: string;
      identityToken?: string;
      /** Whether anonymous tokens may pull. Default true. */
      anonymousPull?: boolean;
      /** Realm override (default: this server's /token). */
      realm?: string;
      /** Repositories the token server never grants pull on, even to authenticated users. */
      pullDenied?: string[];
    };

export interface FakeRegistryOptions {
  auth?: FakeAuth;
  /** Builds the server, e.g. node:https with a certificate. Default: node:http. */
  createServer?: (listener: (req: IncomingMessage, res: ServerResponse) => void) => Server;
  scheme?: 'http' | 'https';
  /** Tags per page of /tags/list (pagination through Link). Default: all in one page. */
  tagPageSize?: number;
  /** The Location of a new upload, given the repository path and upload id. Default: relative with a query. */
  uploadLocation?: (path: string, id: string, origin: string) => string;
  /**
   * Serve the referrers API (`GET /v2/<path>/referrers/<digest>`). Default: absent, answered like
   * distribution 2.8 with a 404 JSON error.
   */
  referrers?: {
    /** Referrers per page (pagination through Link). Default: all in one page. */
    pageSize?: number;
    /** Whether the `artifactType` filter is applied (and said so in OCI-Filters-Applied). Default true. */
    filter?: boolean;
  };
  /** Whether DELETE of manifests is allowed; when false, 405 UNSUPPORTED like distribution. Default true. */
  deleteEnabled?: boolean;
  /** Refuse image indexes that reference manifests the repository does not have (like distribution). */
  checkIndexReferences?: boolean;
  /** Whether cross-repository blob mounts are honoured. Default true. */
  mountEnabled?: boolean;
}

interface StoredManifest {
  body: Buffer;
  mediaType: string;
}

/**
 * A small in-memory OCI distribution registry on 127.0.0.1, with optional Basic or Bearer auth (its own
 * token server at /token) and hooks to inject failures. Only what the client tests need.
 */
export class FakeRegistry {
  readonly requests: RecordedRequest[] = [];
  readonly interceptors: Interceptor[] = [];
  readonly manifests = new Map<string, StoredManifest>();
  readonly tags = new Map<string, Map<string, string>>();
  readonly blobs = new Map<string, Buffer>();
  /** Tokens issued: token → granted scopes. */
  readonly tokens = new Map<string, Set<string>>();
  readonly #server: Server;
  readonly #options: FakeRegistryOptions;
  readonly #uploads = new Map<string, string>();
  #port = 0;

  constructor(options: FakeRegistryOptions = {}) {
    this.#options = options;
    const listener = (req: IncomingMessage, res: ServerResponse) => {
      void this.#handle(req, res);
    };
    this.#server = options.createServer ? options.createServer(listener) : createServer(listener);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** host:port, e.g. `127.0.0.1:43210`. */
  get host(): string {
    return `127.0.0.1:${this.#port}`;
  }

  get origin(): string {
    return `${this.#options.scheme ?? 'http'}://${this.host}`;
  }

  /** Requests other than token requests, as `METHOD /path`. */
  registryRequests(): string[] {
    return this.requests.filter((r) => !r.url.startsWith('/token')).map((r) => `${r.method} ${r.url}`);
  }

  tokenRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.url.startsWith('/token'));
  }

  addManifest(path: string, tag: string | undefined, body: Buffer, mediaType: string): string {
    const digest = sha256(body);
    this.manifests.set(`${path}@${digest}`, { body, mediaType });
    if (tag) this.#tagsOf(path).set(tag, digest);
    return digest;
  }

  addBlob(path: string, body: Buffer): string {
    const digest = sha256(body);
    this.blobs.set(`${path}@${digest}`, body);
    return digest;
  }

  /** Answers the next `times` requests matching `match` with `respond`. */
  failNext(
    times: number,
    match: (r: RecordedRequest) => boolean,
    respond: (res: ServerResponse, req: IncomingMessage) => void,
  ) {
    let remaining = times;
    this.interceptors.push((recorded, res, req) => {
      if (remaining <= 0 || !match(recorded)) return false;
      remaining--;
      respond(res, req);
      return true;
    });
  }

  /**
   * The next `times` requests matching `match` are handled as usual (the registry stores what they write)
   * but their reply is lost: the connection is destroyed instead of answered.
   */
  loseReplyNext(times: number, match: (r: RecordedRequest) => boolean) {
    let remaining = times;
    this.interceptors.push((recorded, res, req) => {
      if (remaining <= 0 || !match(recorded)) return false;
      remaining--;
      const lose = () => {
        req.socket.destroy();
        return res;
      };
      res.writeHead = lose as typeof res.writeHead;
      res.end = lose as typeof res.end;
      return false;
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    this.requests.push(recorded);
    for (const interceptor of this.interceptors) {
      if (interceptor(recorded, res, req)) return;
    }
    const url = new URL(recorded.url, this.origin);
    if (url.pathname === '/token') return this.#token(recorded, url, res);
    this.#route(recorded, url, res);
  }

  #route(recorded: RecordedRequest, url: URL, res: ServerResponse): void {
    const { method } = recorded;
    const pathname = url.pathname;
    if (pathname === '/v2/' || pathname === '/v2') {
      if (this.#authorize(recorded, undefined, 'pull', res)) json(res, 200, {});
      return;
    }
    let match = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(pathname);
    if (match) {
      const [, path = '', ref = ''] = match;
      const write = method === 'PUT';
      if (method === 'DELETE') {
        if (!this.#authorize(recorded, path, 'delete', res)) return;
        return this.#deleteManifest(path, ref, res);
      }
      if (!this.#authorize(recorded, path, write ? 'push' : 'pull', res)) return;
      if (write) return this.#putManifest(path, ref, recorded, res);
      return this.#getManifest(path, ref, method === 'HEAD', res);
    }
    match = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(pathname);
    if (match) {
      const [, path = '', id = ''] = match;
      const mount = method === 'POST' ? url.searchParams.get('mount') : null;
      const from = method === 'POST' ? url.searchParams.get('from') : null;
      // Like distribution, a mount needs pull on the source repository too.
      if (!this.#authorize(recorded, path, 'push', res, from ?? undefined)) return;
      if (method === 'POST') {
        const source = mount && from ? this.blobs.get(`${from}@${mount}`) : undefined;
        if (mount && source && this.#options.mountEnabled !== false) {
          this.blobs.set(`${path}@${mount}`, source);
          res.writeHead(201, {
            location: `/v2/${path}/blobs/${mount}`,
            'docker-content-digest': mount,
            'content-length': '0',
          });
          res.end();
          return;
        }
        const uploadId = randomUUID();
        this.#uploads.set(uploadId, path);
        const location = this.#options.uploadLocation
          ? this.#options.uploadLocation(path, uploadId, this.origin)
          : `/v2/${path}/blobs/uploads/${uploadId}?_state=${encodeURIComponent('s=1/x+y')}`;
        res.writeHead(202, { location, 'docker-upload-uuid': uploadId, 'content-length': '0' });
        res.end();
        return;
      }
      if (method === 'PUT') {
        if (this.#uploads.get(id) !== path)
          return errorBody(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown');
        const digest = url.searchParams.get('digest');
        if (!digest || sha256(recorded.body) !== digest) {
          return errorBody(res, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
        }
        this.#uploads.delete(id);
        this.blobs.set(`${path}@${digest}`, recorded.body);
        res.writeHead(201, { location: `/v2/${path}/blobs/${digest}`, 'docker-content-digest': digest });
        res.end();
        return;
      }
    }
    match = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(pathname);
    if (match) {
      const [, path = '', digest = ''] = match;
      if (!this.#authorize(recorded, path, 'pull', res)) return;
      const blob = this.blobs.get(`${path}@${digest}`);
      if (!blob) return errorBody(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry', method === 'HEAD');
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(blob.length),
        'docker-content-digest': digest,
      });
      res.end(method === 'HEAD' ? undefined : blob);
      return;
    }
    match = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(pathname);
    if (match && this.#options.referrers && method === 'GET') {
      const [, path = '', digest = ''] = match;
      if (!this.#authorize(recorded, path, 'pull', res)) return;
      return this.#listReferrers(path, digest, url, res);
    }
    match = /^\/v2\/(.+)\/tags\/list$/.exec(pathname);
    if (match) {
      const [, path = ''] = match;
      if (!this.#authorize(recorded, path, 'pull', res)) return;
      return this.#listTags(path, url, res);
    }
    errorBody(res, 404, 'NOT_FOUND', `no route for ${method} ${pathname}`);
  }

  #getManifest(path: string, ref: string, head: boolean, res: ServerResponse): void {
    const digest = ref.includes(':') ? ref : this.tags.get(path)?.get(ref);
    const manifest = digest ? this.manifests.get(`${path}@${digest}`) : undefined;
    if (!digest || !manifest) return errorBody(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown', head);
    res.writeHead(200, {
      'content-type': manifest.mediaType,
      'content-length': String(manifest.body.length),
      'docker-content-digest': digest,
    });
    res.end(head ? undefined : manifest.body);
  }

  #putManifest(path: string, ref: string, recorded: RecordedRequest, res: ServerResponse): void {
    const mediaType = String(recorded.headers['content-type'] ?? '');
    const digest = sha256(recorded.body);
    if (ref.includes(':') && ref !== digest) return errorBody(res, 400, 'DIGEST_INVALID', 'digest mismatch');
    if (this.#options.checkIndexReferences && mediaType === 'application/vnd.oci.image.index.v1+json') {
      const parsed = JSON.parse(recorded.body.toString('utf8')) as { manifests?: { digest?: string }[] };
      const missing = (parsed.manifests ?? []).find((m) => !this.manifests.has(`${path}@${m.digest}`));
      if (missing) {
        return errorBody(res, 400, 'MANIFEST_BLOB_UNKNOWN', `blob unknown to registry: ${missing.digest}`);
      }
    }
    this.addManifest(path, ref.includes(':') ? undefined : ref, recorded.body, mediaType);
    const headers: Record<string, string> = {
      location: `/v2/${path}/manifests/${digest}`,
      'docker-content-digest': digest,
    };
    // With the referrers API, a manifest with a subject is answered with OCI-Subject (distribution 1.1).
    if (this.#options.referrers) {
      const subject = parseSubject(recorded.body);
      if (subject) headers['oci-subject'] = subject;
    }
    res.writeHead(201, headers);
    res.end();
  }

  #deleteManifest(path: string, ref: string, res: ServerResponse): void {
    if (this.#options.deleteEnabled === false) {
      return errorBody(res, 405, 'UNSUPPORTED', 'The operation is unsupported.');
    }
    if (!ref.includes(':')) return errorBody(res, 400, 'DIGEST_INVALID', 'provided digest did not match');
    if (!this.manifests.delete(`${path}@${ref}`)) {
      return errorBody(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
    }
    for (const [tag, digest] of this.tags.get(path) ?? []) {
      if (digest === ref) this.tags.get(path)?.delete(tag);
    }
    res.writeHead(202, { 'content-length': '0' });
    res.end();
  }

  /** The manifests of `path` whose subject is `digest`, as the OCI referrers API lists them. */
  #listReferrers(path: string, digest: string, url: URL, res: ServerResponse): void {
    const artifactType = url.searchParams.get('artifactType');
    const filter = artifactType !== null && this.#options.referrers?.filter !== false;
    const all: Record<string, unknown>[] = [];
    for (const [key, manifest] of this.manifests) {
      if (!key.startsWith(`${path}@`)) continue;
      const parsed = JSON.parse(manifest.body.toString('utf8')) as {
        artifactType?: string;
        config?: { mediaType?: string };
        subject?: { digest?: string };
        annotations?: Record<string, string>;
      };
      if (parsed.subject?.digest !== digest) continue;
      const type = parsed.artifactType ?? parsed.config?.mediaType;
      if (filter && type !== artifactType) continue;
      all.push({
        mediaType: manifest.mediaType,
        digest: key.slice(path.length + 1),
        size: manifest.body.length,
        ...(type ? { artifactType: type } : {}),
        ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
      });
    }
    all.sort((a, b) => String(a.digest).localeCompare(String(b.digest)));
    const pageSize = this.#options.referrers?.pageSize ?? Math.max(1, all.length);
    const start = Number(url.searchParams.get('page') ?? '0') * pageSize;
    const page = all.slice(start, start + pageSize);
    const headers: Record<string, string> = { 'content-type': 'application/vnd.oci.image.index.v1+json' };
    if (filter) headers['oci-filters-applied'] = 'artifactType';
    if (start + pageSize < all.length) {
      const next = new URLSearchParams(url.searchParams);
      next.set('page', String(start / pageSize + 1));
      headers.link = `</v2/${path}/referrers/${digest}?${next.toString()}>; rel="next"`;
    }
    json(
      res,
      200,
      { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: page },
      headers,
    );
  }

  #listTags(path: string, url: URL, res: ServerResponse): void {
    const tags = this.tags.get(path);
    if (!tags) return errorBody(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    const all = [...tags.keys()].sort();
    const pageSize = Number(url.searchParams.get('n') ?? this.#options.tagPageSize ?? all.length);
    const last = url.searchParams.get('last');
    const start = last ? all.findIndex((tag) => tag > last) : 0;
    const page = start === -1 ? [] : all.slice(start, start + pageSize);
    const headers: Record<string, string> = {};
    const lastOfPage = page[page.length - 1];
    if (lastOfPage && start + pageSize < all.length) {
      headers.link = `</v2/${path}/tags/list?n=${pageSize}&last=${encodeURIComponent(lastOfPage)}>; rel="next"`;
    }
    json(res, 200, { name: path, tags: page }, headers);
  }

  #authorize(
    recorded: RecordedRequest,
    path: string | undefined,
    action: 'pull' | 'push' | 'delete',
    res: ServerResponse,
    pullFrom?: string,
  ) {
    const auth = this.#options.auth ?? { kind: 'none' };
    const header = recorded.headers.authorization;
    if (auth.kind === 'none') return true;
    if (auth.kind === 'basic') {
      const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
      if (header === expected) return true;
      res.setHeader('www-authenticate', 'Basic realm="fake registry"');
      errorBody(res, 401, 'UNAUTHORIZED', 'authentication required', recorded.method === 'HEAD');
      return false;
    }
    const actions = action === 'push' ? 'pull,push' : action;
    const scopes = path ? [`repository:${path}:${actions}`] : [];
    if (pullFrom) scopes.push(`repository:${pullFrom}:pull`);
    const scope = scopes.join(' ');
    const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    const granted = token ? this.tokens.get(token) : undefined;
    const allowed =
      granted &&
      (!path || granted.has(`repository:${path}:${action}`)) &&
      (!pullFrom || granted.has(`repository:${pullFrom}:pull`));
    if (allowed) return true;
    const realm = auth.realm ?? `${this.origin}/token`;
    res.setHeader(
      'www-authenticate',
      `Bearer realm="${realm}",service="fake-registry"${scope ? `,scope="${scope}"` : ''}${token ? `,error="${granted ? 'insufficient_scope' : 'invalid_token'}"` : ''}`,
    );
    errorBody(res, 401, 'UNAUTHORIZED', 'authentication required', recorded.method === 'HEAD');
    return false;
  }

  #token(recorded: RecordedRequest, url: URL, res: ServerResponse): void {
    const auth = this.#options.auth;
    if (auth?.kind !== 'bearer') return errorBody(res, 404, 'NOT_FOUND', 'no token server');
    let scopes: string[];
    let authenticated = false;
    if (recorded.method === 'POST') {
      const form = new URLSearchParams(recorded.body.toString('utf8'));
      if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== auth.identityToken) {
        return json(res, 401, { error: 'invalid_grant', error_description: 'refresh token rejected' });
      }
      authenticated = true;
      scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    } else {
      const header = recorded.headers.authorization;
      if (header) {
        const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
        if (header !== expected) return json(res, 401, { details: 'incorrect username or password' });
        authenticated = true;
      }
      scopes = url.searchParams.getAll('scope');
    }
    const granted = new Set<string>();
    for (const scope of scopes) {
      const [type, name, actions = ''] = scope.split(':');
      for (const action of actions.split(',')) {
        if (action === 'pull' && name !== undefined && auth.pullDenied?.includes(name)) continue;
        if (authenticated || (action === 'pull' && auth.anonymousPull !== false))
          granted.add(`${type}:${name}:${action}`);
      }
    }
    const token = `token-${randomUUID()}`;
    this.tokens.set(token, granted);
    const field = recorded.method === 'POST' ? 'access_token' : 'token';
    json(res, 200, { [field]: token, expires_in: 300 });
  }

  #tagsOf(path: string): Map<string, string> {
    let tags = this.tags.get(path);
    if (!tags) {
      tags = new Map();
      this.tags.set(path, tags);
    }
    return tags;
  }
}

/** The subject digest of a manifest body, if it has one. */
function parseSubject(body: Buffer): string | undefined {
  try {
    const digest = (JSON.parse(body.toString('utf8')) as { subject?: { digest?: unknown } }).subject?.digest;
    return typeof digest === 'string' ? digest : undefined;
  } catch {
    return undefined;
  }
}

export function sha256(body: Buffer): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

export function json(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
) {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(body.length),
    ...headers,
  });
  res.end(body);
}

export function errorBody(res: ServerResponse, status: number, code: string, message: string, head = false) {
  const body = Buffer.from(JSON.stringify({ errors: [{ code, message, detail: null }] }));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(body.length) });
  res.end(head ? undefined : body);
}
