/**
 * A loopback stand-in of the GitHub Actions cache service, protocol v1 (`ACTIONS_CACHE_URL`, the REST API that
 * `@actions/cache` speaks when `ACTIONS_CACHE_SERVICE_V2` is not set): look up by key list and version (exact key
 * first, then the newest entry whose key starts with a restore key), reserve, upload in `Content-Range` chunks,
 * commit, and download the archive. Entries live in memory for the life of the server, as a repository's cache
 * lives across jobs. Give the action `actionsCacheEnv(server)`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

interface Entry {
  id: number;
  key: string;
  version: string;
  chunks: Array<{ start: number; data: Buffer }>;
  archive?: Buffer;
}

export interface ActionsCacheServer {
  url: string;
  /** Committed entries' keys, in the order they were saved. */
  savedKeys(): string[];
  /** `METHOD /path` of every request. */
  requests: string[];
  stop(): Promise<void>;
}

async function body(req: http.IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

export async function startActionsCache(): Promise<ActionsCacheServer> {
  const entries: Entry[] = [];
  const requests: string[] = [];
  let base = '';
  const json = (res: http.ServerResponse, status: number, doc?: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(doc === undefined ? undefined : JSON.stringify(doc));
  };
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push(`${req.method} ${url.pathname}`);
      const api = url.pathname.replace(/^\/_apis\/artifactcache\//, '');
      const committed = entries.filter((e) => e.archive);
      if (req.method === 'GET' && api === 'cache') {
        const version = url.searchParams.get('version') ?? '';
        const keys = (url.searchParams.get('keys') ?? '').split(',');
        const hit =
          committed.find((e) => e.key === keys[0] && e.version === version) ??
          keys
            .map((k) => committed.filter((e) => e.key.startsWith(k) && e.version === version).at(-1))
            .find(Boolean);
        if (!hit) return json(res, 204);
        return json(res, 200, {
          cacheKey: hit.key,
          cacheVersion: hit.version,
          scope: 'refs/heads/main',
          archiveLocation: `${base}/archive/${hit.id}`,
        });
      }
      if (req.method === 'POST' && api === 'caches') {
        const { key, version } = JSON.parse((await body(req)).toString()) as { key: string; version: string };
        if (entries.some((e) => e.key === key && e.version === version))
          return json(res, 409, { message: `Cache already exists. Key: ${key}` });
        const entry: Entry = { id: entries.length + 1, key, version, chunks: [] };
        entries.push(entry);
        return json(res, 201, { cacheId: entry.id });
      }
      const id = /^caches\/(\d+)$/.exec(api)?.[1];
      const entry = id ? entries.find((e) => e.id === Number(id) && !e.archive) : undefined;
      if (entry && req.method === 'PATCH') {
        const start = Number(/bytes (\d+)-/.exec(req.headers['content-range'] ?? '')?.[1] ?? NaN);
        if (!Number.isInteger(start)) return json(res, 400, { message: 'no Content-Range' });
        entry.chunks.push({ start, data: await body(req) });
        return json(res, 204);
      }
      if (entry && req.method === 'POST') {
        const { size } = JSON.parse((await body(req)).toString()) as { size: number };
        const archive = Buffer.alloc(size);
        for (const chunk of entry.chunks) chunk.data.copy(archive, chunk.start);
        entry.archive = archive;
        return json(res, 204);
      }
      const download = /^\/archive\/(\d+)$/.exec(url.pathname)?.[1];
      const stored = download ? committed.find((e) => e.id === Number(download)) : undefined;
      if (req.method === 'GET' && stored?.archive) {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': String(stored.archive.length),
        });
        return res.end(stored.archive);
      }
      return json(res, 404, { message: `no route ${req.method} ${url.pathname}` });
    })().catch((error: unknown) => json(res, 500, { message: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/`,
    savedKeys: () => entries.filter((e) => e.archive).map((e) => e.key),
    requests,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The runner variables that make `@actions/cache` use this server (cache service v1). */
export function actionsCacheEnv(server: ActionsCacheServer): Record<string, string> {
  return { ACTIONS_CACHE_URL: server.url, ACTIONS_RUNTIME_TOKEN: 'edgeship-test-runtime-token' };
}
