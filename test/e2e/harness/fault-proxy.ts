/**
 * A fault-injecting proxy on loopback between Edgeship and the test registry (registry.ts).
 *
 * It terminates TLS with the registry's own certificate and key (so the client verifies it with the
 * same CA file, and the image host is simply the proxy's `127.0.0.1:PORT`), reads each HTTP request
 * and forwards it to the registry over TLS — or does what a rule says instead:
 *   - `status`: answer 503 / 429 (with `Retry-After`) without forwarding;
 *   - `reset-before`: reset the client connection without forwarding (the registry saw nothing);
 *   - `reset-after`: forward, wait for the registry's whole answer (the write happened), then reset the
 *     client connection instead of answering;
 *   - `stall`: wait N ms, then forward;
 *   - `hook`: run a callback (e.g. SIGKILL the registry), then forward.
 * When the registry cannot be reached the client connection is reset, as a TCP proxy would do.
 *
 * Rules apply only once the proxy is armed (`armWhen`: e.g. the first index PUT, so the build's pushes
 * pass untouched and the faults hit the publish phase). Which requests a rule hits is deterministic:
 * a share is drawn from a seeded PRNG in request order, `occurrences` counts matching requests (per
 * `key` when given, e.g. once per tag), and `limit` bounds every rule. Everything is counted.
 */
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import type { TestRegistry } from './registry.js';

/** What the proxy knows of a request when it decides. */
export interface ProxiedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  kind: RequestKind;
  /** Repository, for `/v2/<repo>/…` paths. */
  repository?: string;
  /** Tag or digest, for manifest paths. */
  reference?: string;
}

export type RequestKind =
  | 'tag-put'
  | 'referrers-tag-put'
  | 'manifest-put-by-digest'
  | 'manifest-read'
  | 'manifest-delete'
  | 'blob-upload-start'
  | 'blob-upload-chunk'
  | 'blob-upload-put'
  | 'blob-read'
  | 'tags-list'
  | 'referrers'
  | 'other';

export type FaultAction =
  | { type: 'status'; status: 503 | 429 | 500 | 502; retryAfterSeconds?: number }
  | { type: 'reset-before' }
  | { type: 'reset-after' }
  | { type: 'stall'; ms: number }
  | { type: 'hook'; run: (request: ProxiedRequest) => Promise<void> | void };

export interface FaultRule {
  /** Used in the counts. */
  name: string;
  match: (request: ProxiedRequest) => boolean;
  action: FaultAction;
  /** A share (0..1) of the matching requests, drawn from the seeded PRNG. */
  share?: number;
  /** 1-based occurrences of matching requests (counted per key when `key` is given). */
  occurrences?: number[];
  /** Counts occurrences per key (e.g. the tag) instead of over all matching requests. */
  key?: (request: ProxiedRequest) => string;
  /** At most this many faults from this rule (default 50). */
  limit?: number;
  /** At most this many faults in a row on the same method + path (default 2), so a retrying client gets through. */
  maxInARow?: number;
}

export interface FaultProxyOptions {
  seed?: number;
  rules?: FaultRule[];
  /** The first request for which this is true arms the rules (that request included). Default: armed. */
  armWhen?: (request: ProxiedRequest) => boolean;
  /** Upstream request timeout (default 180 s: longer than any stall or stop the tests make). */
  upstreamTimeoutMs?: number;
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`: use as the registry host in image references. */
  host: string;
  /** Replaces the schedule (rules, seed, arming); counts start again. */
  configure(options: FaultProxyOptions): void;
  armed(): boolean;
  /** Requests seen (by kind), faults injected (by rule name), upstream failures. */
  counts(): {
    requests: number;
    byKind: Record<string, number>;
    faults: Record<string, number>;
    upstreamErrors: number;
  };
  /** A line per request: `METHOD path → what happened`, for failure messages. */
  journal(): string[];
  stop(): Promise<void>;
}

const MAX_JOURNAL = 2_000;
const DEFAULT_LIMIT = 50;
const DEFAULT_MAX_IN_A_ROW = 2;

/** mulberry32: a small seeded PRNG, enough for a reproducible schedule. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Classifies a registry API request (distribution spec paths). */
export function classify(
  method: string,
  url: string,
  headers: IncomingMessage['headers'] = {},
): ProxiedRequest {
  const parsed = new URL(url, 'https://proxy.invalid');
  const p = parsed.pathname;
  const base = { method, path: p, query: parsed.searchParams, headers };
  const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(p);
  if (manifest) {
    const [, repository, reference] = manifest as unknown as [string, string, string];
    const byDigest = reference.includes(':');
    // `sha256-<hex>`: the referrers fallback tag (distribution 2.8 has no referrers API), and cosign's
    // classic `sha256-<hex>.sig` / `.att` signature tags (signature-format both/classic): not release tags.
    const fallback = /^sha256-[a-f0-9]{64}(\.(sig|att))?$/.test(reference);
    const kind: RequestKind =
      method === 'PUT'
        ? byDigest
          ? 'manifest-put-by-digest'
          : fallback
            ? 'referrers-tag-put'
            : 'tag-put'
        : method === 'DELETE'
          ? 'manifest-delete'
          : 'manifest-read';
    return { ...base, kind, repository, reference };
  }
  const upload = /^\/v2\/(.+)\/blobs\/uploads\/?(.*)$/.exec(p);
  if (upload) {
    const kind: RequestKind =
      method === 'POST' ? 'blob-upload-start' : method === 'PUT' ? 'blob-upload-put' : 'blob-upload-chunk';
    return { ...base, kind, repository: upload[1]! };
  }
  const blob = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(p);
  if (blob) return { ...base, kind: 'blob-read', repository: blob[1]!, reference: blob[2]! };
  const tags = /^\/v2\/(.+)\/tags\/list$/.exec(p);
  if (tags) return { ...base, kind: 'tags-list', repository: tags[1]! };
  const referrers = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(p);
  if (referrers) return { ...base, kind: 'referrers', repository: referrers[1]!, reference: referrers[2]! };
  return { ...base, kind: 'other' };
}

/** Is this manifest PUT an image index (the first write of the publish phase)? */
export function isIndexPut(request: ProxiedRequest): boolean {
  const type = String(request.headers['content-type'] ?? '');
  return (
    request.kind === 'manifest-put-by-digest' &&
    (type.includes('image.index') || type.includes('manifest.list'))
  );
}

/** Resets (RST) a client connection; falls back to destroy() where a reset is not possible. */
function resetSocket(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

interface Schedule {
  rules: FaultRule[];
  random: () => number;
  armWhen?: (request: ProxiedRequest) => boolean;
  armed: boolean;
  occurrences: Map<string, number>;
  fired: Map<string, number>;
  inARow: Map<string, number>;
}

function makeSchedule(options: FaultProxyOptions): Schedule {
  return {
    rules: options.rules ?? [],
    random: seededRandom(options.seed ?? 1),
    ...(options.armWhen ? { armWhen: options.armWhen } : {}),
    armed: !options.armWhen,
    occurrences: new Map(),
    fired: new Map(),
    inARow: new Map(),
  };
}

/** Picks the fault for a request (or none), updating the schedule's counters. */
function decide(schedule: Schedule, request: ProxiedRequest): FaultRule | undefined {
  if (!schedule.armed && schedule.armWhen?.(request)) schedule.armed = true;
  if (!schedule.armed) return undefined;
  const rowKey = `${request.method} ${request.path}`;
  for (const rule of schedule.rules) {
    if (!rule.match(request)) continue;
    const countKey = `${rule.name}\u0000${rule.key ? rule.key(request) : ''}`;
    const occurrence = (schedule.occurrences.get(countKey) ?? 0) + 1;
    schedule.occurrences.set(countKey, occurrence);
    // The draw happens for every matching request, so the schedule depends only on the request order.
    const draw = schedule.random();
    if ((schedule.fired.get(rule.name) ?? 0) >= (rule.limit ?? DEFAULT_LIMIT)) continue;
    if ((schedule.inARow.get(rowKey) ?? 0) >= (rule.maxInARow ?? DEFAULT_MAX_IN_A_ROW)) continue;
    const hit =
      (rule.occurrences ? rule.occurrences.includes(occurrence) : true) &&
      (rule.share === undefined || draw < rule.share);
    if (!hit) continue;
    schedule.fired.set(rule.name, (schedule.fired.get(rule.name) ?? 0) + 1);
    schedule.inARow.set(rowKey, (schedule.inARow.get(rowKey) ?? 0) + 1);
    return rule;
  }
  schedule.inARow.delete(rowKey);
  return undefined;
}

/** Starts the proxy on a random 127.0.0.1 port in front of `reg`. */
export async function startFaultProxy(
  reg: TestRegistry,
  options: FaultProxyOptions = {},
): Promise<FaultProxy> {
  const [key, cert] = await Promise.all([readFile(reg.keyFile, 'utf8'), readFile(reg.caFile, 'utf8')]);
  const upstreamAgent = new https.Agent({ keepAlive: true, ca: cert, maxSockets: 32 });
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 180_000;
  let schedule = makeSchedule(options);
  const byKind: Record<string, number> = {};
  let requests = 0;
  let upstreamErrors = 0;
  const journal: string[] = [];
  const note = (line: string) => {
    journal.push(line);
    if (journal.length > MAX_JOURNAL) journal.shift();
  };

  /** Forwards one request; resolves with the upstream answer fully read (or rejects on a network error). */
  const forward = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>((resolve, reject) => {
      const upstream = https.request(
        {
          host: '127.0.0.1',
          port: reg.port,
          method: req.method,
          path: req.url,
          // The Host header stays the proxy's: the registry builds Location URLs from it.
          headers: { ...req.headers, 'content-length': String(body.length) },
          agent: upstreamAgent,
          timeout: upstreamTimeoutMs,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (c: Buffer) => chunks.push(c));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 502,
              headers: response.headers,
              body: Buffer.concat(chunks),
            }),
          );
          response.on('error', reject);
        },
      );
      upstream.on('timeout', () => upstream.destroy(new Error('upstream timed out')));
      upstream.on('error', reject);
      upstream.end(body);
    });

  const readBody = (req: IncomingMessage) =>
    new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const request = classify(method, req.url ?? '/', req.headers);
    requests += 1;
    byKind[request.kind] = (byKind[request.kind] ?? 0) + 1;
    const rule = decide(schedule, request);
    const label = `${method} ${request.path}${request.query.get('digest') ? `?digest=${request.query.get('digest')}` : ''}`;
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      note(`${label} → client went away`);
      return;
    }
    const action = rule?.action;
    if (action?.type === 'status') {
      note(`${label} → ${action.status} (${rule!.name})`);
      const headers: Record<string, string> = { 'content-type': 'application/json', connection: 'close' };
      if (action.retryAfterSeconds !== undefined) headers['retry-after'] = String(action.retryAfterSeconds);
      res.writeHead(action.status, headers);
      res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: `injected by ${rule!.name}` }] }));
      return;
    }
    if (action?.type === 'reset-before') {
      note(`${label} → reset before forwarding (${rule!.name})`);
      resetSocket(req.socket);
      return;
    }
    if (action?.type === 'stall') {
      note(`${label} → stalled ${action.ms} ms (${rule!.name})`);
      await sleep(action.ms);
    }
    if (action?.type === 'hook') {
      note(`${label} → hook (${rule!.name})`);
      await action.run(request);
    }
    let answer: Awaited<ReturnType<typeof forward>>;
    try {
      answer = await forward(req, body);
    } catch (error) {
      upstreamErrors += 1;
      note(`${label} → upstream failed (${error instanceof Error ? error.message : String(error)}): reset`);
      resetSocket(req.socket);
      return;
    }
    if (action?.type === 'reset-after') {
      note(`${label} → registry answered ${answer.status}, reply reset (${rule!.name})`);
      resetSocket(req.socket);
      return;
    }
    note(`${label} → ${answer.status}`);
    const headers = { ...answer.headers };
    delete headers['transfer-encoding'];
    delete headers.connection;
    delete headers['keep-alive'];
    if (method !== 'HEAD') headers['content-length'] = String(answer.body.length);
    res.writeHead(answer.status, headers);
    res.end(method === 'HEAD' ? undefined : answer.body);
  };

  const sockets = new Set<Socket>();
  const server = https.createServer({ key, cert, keepAliveTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      note(`${req.method} ${req.url} → proxy error ${String(error)}`);
      resetSocket(req.socket);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('fault proxy: no listening address');

  return {
    host: `127.0.0.1:${address.port}`,
    configure: (next) => {
      schedule = makeSchedule(next);
      requests = 0;
      upstreamErrors = 0;
      for (const k of Object.keys(byKind)) delete byKind[k];
      journal.length = 0;
    },
    armed: () => schedule.armed,
    counts: () => ({
      requests,
      byKind: { ...byKind },
      faults: Object.fromEntries(schedule.fired),
      upstreamErrors,
    }),
    journal: () => [...journal],
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      upstreamAgent.destroy();
    },
  };
}
