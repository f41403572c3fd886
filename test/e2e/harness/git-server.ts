/**
 * A real git server on loopback for the GitOps hand-off: `git http-backend` (git's own smart-HTTP server) run as a
 * CGI program by a small node:http server, over bare repositories in a temporary directory. Every request must carry
 * `Authorization: Basic base64(x-access-token:<token>)`, the header the action sends through git's environment;
 * without it the answer is 401. Pushes are enabled (`http.receivepack`).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execProcess } from '../../../src/process/exec.js';

export interface GitServer {
  /** `http://127.0.0.1:PORT/<owner>/<name>.git` */
  url(repository: string): string;
  token: string;
  /** Requests received, `METHOD path?query status`. */
  requests(): string[];
  /** `git` in a bare repository of the server (e.g. `['show', 'branch:file']`); stdout. */
  git(repository: string, args: string[]): Promise<string>;
  /** Every ref of a repository, `sha ref` lines (sorted). */
  refs(repository: string): Promise<string>;
  stop(): Promise<void>;
}

async function git(args: string[], cwd?: string): Promise<string> {
  const result = await execProcess('git', args, {
    ...(cwd ? { cwd } : {}),
    env: {
      GIT_AUTHOR_NAME: 'fleet',
      GIT_AUTHOR_EMAIL: 'fleet@example.com',
      GIT_COMMITTER_NAME: 'fleet',
      GIT_COMMITTER_EMAIL: 'fleet@example.com',
    },
  });
  if (result.exitCode !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** Starts the server with one bare repository per entry of `repositories`, seeded with `files` on `main`. */
export async function startGitServer(
  repositories: Record<string, Record<string, string>>,
): Promise<GitServer> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'edgeship-git-server-'));
  const token = `ghs_fleet${Math.random().toString(36).slice(2)}`;
  const expected = `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
  for (const [name, files] of Object.entries(repositories)) {
    const bare = path.join(root, `${name}.git`);
    const seed = path.join(root, 'seed', name);
    await mkdir(seed, { recursive: true });
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(seed, file)), { recursive: true });
      await writeFile(path.join(seed, file), content);
    }
    await git(['init', '-q', '-b', 'main', seed]);
    await git(['-C', seed, 'add', '-A']);
    await git(['-C', seed, 'commit', '-q', '-m', 'fleet: initial']);
    await git(['clone', '-q', '--bare', seed, bare]);
    await git(['-C', bare, 'config', 'http.receivepack', 'true']);
  }
  const log: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://git');
    const authorized = req.headers.authorization?.toLowerCase() === expected.toLowerCase();
    if (!authorized) {
      log.push(`${req.method} ${url.pathname}${url.search} 401`);
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fleet"' }).end();
      return;
    }
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: 'x-access-token',
        REMOTE_ADDR: '127.0.0.1',
        ...(req.headers['content-encoding']
          ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] }
          : {}),
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      },
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    cgi.on('close', () => {
      const out = Buffer.concat(chunks);
      const split = out.indexOf('\r\n\r\n');
      const end = split >= 0 ? split : out.indexOf('\n\n');
      const headerText = out.subarray(0, end).toString('utf8');
      const body = out.subarray(end + (split >= 0 ? 4 : 2));
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of headerText.split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
        else headers[name] = value;
      }
      log.push(`${req.method} ${url.pathname}${url.search} ${status}`);
      res.writeHead(status, headers).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (repository) => `http://127.0.0.1:${port}/${repository}.git`,
    token,
    requests: () => [...log],
    git: (repository, args) => git(['-C', path.join(root, `${repository}.git`), ...args]),
    refs: async (repository) =>
      (await git(['-C', path.join(root, `${repository}.git`), 'show-ref'])).split('\n').sort().join('\n'),
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await rm(root, { recursive: true, force: true });
    },
  };
}
