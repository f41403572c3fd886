/**
 * The bundle's left-out parts (build/left-out.js): the paths Edgeship runs still work when bundled with them, a
 * left-out path fails with a message naming the package, a new importer of a left-out package fails the build, and
 * the polyfills left out are ones their packages never pick on this Node.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN, leaveOut } from '../../../build/left-out.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

// Uses archiver, unzip-stream and undici the way @actions/artifact, @actions/http-client and the registry client do.
const PROBE = `
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import archiver from 'archiver';
import traverse from 'traverse';
import * as unzip from 'unzip-stream';
import { Agent, ProxyAgent, fetch, request } from 'undici';

const dir = process.argv[2];
const result = {};

// @actions/artifact's upload: a zip of files added one by one (and '' for an empty directory), then its download.
writeFileSync(path.join(dir, 'record.json'), '{"platform":"linux/arm64"}');
const zip = archiver.create('zip', { zlib: { level: 6 } });
const written = createWriteStream(path.join(dir, 'records.zip'));
zip.pipe(written);
zip.file(path.join(dir, 'record.json'), { name: 'linux-arm64/record.json' });
zip.append('', { name: 'empty/' });
await zip.finalize();
await once(written, 'close');
mkdirSync(path.join(dir, 'out'));
await new Promise((resolve, reject) =>
  createReadStream(path.join(dir, 'records.zip'))
    .pipe(unzip.Extract({ path: path.join(dir, 'out') }))
    .on('close', resolve)
    .on('error', reject),
);
result.unzipped = readFileSync(path.join(dir, 'out', 'linux-arm64', 'record.json'), 'utf8');

// traverse (unzip-stream's parser state) copies typed arrays with typedarray.prototype.slice.
const copy = traverse({ bytes: new Uint8Array([1, 2, 3]) }).clone().bytes;
result.copied = copy instanceof Uint8Array ? [...copy] : 'not a Uint8Array';

try {
  archiver.create('tar');
} catch (error) {
  result.tar = error.message;
}

// undici: request through an Agent and on the global dispatcher (the registry client), fetch through an Agent and
// through a ProxyAgent's CONNECT tunnel (Octokit, http-client).
const server = http.createServer((req, res) => res.end('hello ' + req.url));
server.listen(0, '127.0.0.1');
await once(server, 'listening');
let tunnels = 0;
const proxy = http.createServer();
proxy.on('connect', (req, socket, head) => {
  tunnels++;
  const [host, port] = req.url.split(':');
  const upstream = net.connect(Number(port), host, () => {
    socket.write('HTTP/1.1 200 Connection Established\\r\\n\\r\\n');
    upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
});
proxy.listen(0, '127.0.0.1');
await once(proxy, 'listening');
const base = 'http://127.0.0.1:' + server.address().port;
const agent = new Agent();
result.agent = await (await fetch(base + '/direct', { dispatcher: agent })).text();
const viaRequest = await request(base + '/request?x=1', { dispatcher: agent, method: 'POST', body: 'b' });
result.request = viaRequest.statusCode + ' ' + (await viaRequest.body.text());
result.requestGlobal = await (await request(base + '/global')).body.text();
const proxyAgent = new ProxyAgent('http://127.0.0.1:' + proxy.address().port);
result.proxied = await (await fetch(base + '/tunnelled', { dispatcher: proxyAgent })).text();
result.tunnels = tunnels;
await Promise.all([agent.close(), proxyAgent.close()]);
server.close();
proxy.close();
console.log(JSON.stringify(result));
`;

function bundle(contents: string, outfile: string) {
  return build({
    stdin: { contents, resolveDir: ROOT, sourcefile: 'probe.mjs' },
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    logLevel: 'silent',
    plugins: [leaveOut],
    mainFields: ['module', 'main'],
    banner: { js: "import{createRequire}from'node:module';const require=createRequire(import.meta.url);" },
  });
}

describe('the bundle leaves out what Edgeship never runs', () => {
  let dir: string;
  let result: {
    unzipped: string;
    copied: number[];
    tar: string;
    agent: string;
    proxied: string;
    tunnels: number;
    request: string;
    requestGlobal: string;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'edgeship-left-out-'));
    await bundle(PROBE, path.join(dir, 'probe.mjs'));
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(dir, 'probe.mjs'), dir]);
    result = JSON.parse(stdout);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps the artifact zip and unzip paths', () => {
    expect(result.unzipped).toBe('{"platform":"linux/arm64"}');
  });

  it('keeps typed array copies through the built-in TypedArray.prototype.slice', () => {
    expect(result.copied).toEqual([1, 2, 3]);
  });

  it("uses polyfills only where the package's own getPolyfill() picks Node's built-in", () => {
    const builtIns: Record<string, unknown> = {
      'TypedArray.prototype.slice': Object.getPrototypeOf(Uint8Array.prototype).slice,
    };
    const require = createRequire(import.meta.url);
    for (const [name, builtIn] of Object.entries(BUILT_IN)) {
      const getPolyfill = require(`${name}/polyfill`) as () => unknown;
      expect(getPolyfill(), name).toBe(builtIns[builtIn]);
    }
  });

  it('keeps undici request (an Agent, the global dispatcher) and fetch through an Agent and a ProxyAgent tunnel', () => {
    expect(result.request).toBe('200 hello /request?x=1');
    expect(result.requestGlobal).toBe('hello /global');
    expect(result.agent).toBe('hello /direct');
    expect(result.proxied).toBe('hello /tunnelled');
    expect(result.tunnels).toBe(1);
  });

  it('names the left-out package when a left-out path runs', () => {
    expect(result.tar).toBe(
      "tar-stream is not in Edgeship's bundle; it serves only archiver's tar format (@actions/artifact uploads zips)",
    );
  });

  it('fails the build when another module imports a left-out package', async () => {
    await expect(
      bundle("import { glob } from 'glob'; console.log(glob);", path.join(dir, 'new-importer.mjs')),
    ).rejects.toThrow('imports glob, which the bundle leaves out: see build/left-out.js');
  });

  it('fails the build when an ES import asks undici for a name the subset lacks', async () => {
    await expect(
      bundle("import { Pool } from 'undici'; console.log(Pool);", path.join(dir, 'pool.mjs')),
    ).rejects.toThrow('No matching export in "build/undici.js" for import "Pool"');
  });
});
