/**
 * A loopback listing server for Grype's vulnerability database: serves the database committed in
 * `test/fixtures/grype-db/db` the way grype.anchore.io serves its own (`<url>/v6/latest.json`, and the archive
 * it names beside it), so the real `grype db update` downloads, checksums and installs it. Give the action
 * `grype-db-url: <server.url>`.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import { PROJECT_ROOT } from './action-runner.js';

/** The committed database (see its README for what is in it and how it is rebuilt). */
export const GRYPE_DB_FIXTURE = path.join(PROJECT_ROOT, 'test', 'fixtures', 'grype-db', 'db');

/** Grype's `latest.json` for a schema-v6 database. */
export interface GrypeDbListing {
  status: string;
  schemaVersion: string;
  built: string;
  path: string;
  checksum: string;
}

export interface GrypeDbServer {
  /** What to give Grype (GRYPE_DB_UPDATE_URL / the `grype-db-url` input). */
  url: string;
  listing: GrypeDbListing;
  /** When the served database was built. */
  built: Date;
  /** `METHOD /path` of every request, in order. */
  requests: string[];
  stop(): Promise<void>;
}

export async function readGrypeDbListing(dir = GRYPE_DB_FIXTURE): Promise<GrypeDbListing> {
  return JSON.parse(await readFile(path.join(dir, 'latest.json'), 'utf8')) as GrypeDbListing;
}

export async function startGrypeDbServer(dir = GRYPE_DB_FIXTURE): Promise<GrypeDbServer> {
  const listing = await readGrypeDbListing(dir);
  const files = new Set(await readdir(dir));
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(`${req.method} ${pathname}`);
    const name = decodeURIComponent(pathname.replace(/^\/v6\//, ''));
    if (!pathname.startsWith('/v6/') || name.includes('/') || !files.has(name)) {
      res.writeHead(404).end();
      return;
    }
    const file = path.join(dir, name);
    void stat(file).then((info) => {
      res.writeHead(200, {
        'content-length': String(info.size),
        'content-type': name.endsWith('.json') ? 'application/json' : 'application/gzip',
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    listing,
    built: new Date(listing.built),
    requests,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A `max-db-age` the served database passes today: its age in whole days, plus one. */
export function maxDbAgeAccepting(built: Date, now = new Date()): string {
  return `${Math.ceil((now.getTime() - built.getTime()) / 86_400_000) + 1}d`;
}
