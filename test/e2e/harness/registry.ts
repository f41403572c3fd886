/**
 * A throw-away OCI registry for the end-to-end suite: Debian's `docker-registry` (distribution 2.8)
 * on a random loopback port, with TLS (a self-signed certificate that is its own CA) and htpasswd
 * basic auth, storing blobs in a temporary directory that stop() removes.
 *
 * `auth: 'token'` swaps htpasswd (bcrypt on every request) for distribution's token auth, as real
 * registries do it: a Bearer challenge, JWTs from a loopback token server (./token-server.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { execa, type ResultPromise } from 'execa';

import { describeFailure, execProcess } from '../../../src/process/exec.js';
import { outputTail } from './output-tail.js';
import {
  selfSignedEcCertificateArgs,
  makeTokenSigningMaterial,
  startTokenServer,
  TOKEN_ISSUER,
  TOKEN_SERVICE,
  type TokenServer,
} from './token-server.js';

/** How the registry authenticates clients. */
export type RegistryAuthMode = 'htpasswd' | 'token';

/** A running test registry. */
export interface TestRegistry {
  /** `127.0.0.1:PORT` — the registry host as it appears in image references. */
  host: string;
  username: string;
  password: string;
  /** PEM of the self-signed certificate (also its own CA): pass as `ca` / NODE_EXTRA_CA_CERTS. */
  caFile: string;
  /** Directory holding `ca.crt`, for `buildah/skopeo --cert-dir` (and `--tls-verify` stays on). */
  certDir: string;
  /** containers-auth.json (`{"auths": {host: {"auth": base64(user:pass)}}}`) for `--authfile`. */
  authFile: string;
  /** The registry's temporary directory (config, certificate, htpasswd, storage). */
  dir: string;
  /** Stops the registry (SIGTERM, then SIGKILL after 5 s) and removes `dir`. Idempotent. */
  stop(): Promise<void>;
  /** The registry's stdout+stderr so far (the last ~1 MiB). */
  logs(): string;
  /** The registry's TLS key (PEM file), for a test proxy that terminates TLS with the registry's certificate. */
  keyFile: string;
  /** The registry's port on 127.0.0.1. */
  port: number;
  /** SIGKILLs the registry process and waits until it is gone (storage and port stay). */
  kill(): Promise<void>;
  /** Starts the registry again on the same port with the same storage; resolves once `/v2/` answers. */
  restart(): Promise<void>;
  /** SIGSTOPs the registry process (it keeps its socket but answers nothing). */
  pause(): void;
  /** SIGCONTs a paused registry. */
  resume(): void;
  /** How the registry authenticates clients (startRegistry's `auth`). */
  auth: RegistryAuthMode;
  /** Token mode: the token server's URL (the challenge's realm). */
  tokenRealm?: string;
  /** Token mode: requests the token server received so far (they never reach the registry's access log); else 0. */
  tokenRequests(): number;
}

/** Options of startRegistry(). */
export interface StartRegistryOptions {
  /** Defaults to `edgeship`. */
  username?: string;
  /** Defaults to a random hex string. */
  password?: string;
  /**
   * `htpasswd` (default): Basic auth checked with bcrypt on every request. `token`: distribution's token auth
   * with a loopback token server that accepts `username`/`password` as Basic credentials.
   */
  auth?: RegistryAuthMode;
}

const READY_TRIES = 100;
const READY_INTERVAL_MS = 100;
const PROBE_TIMEOUT_MS = 2_000;
const STOP_GRACE_MS = 5_000;
const TOOL_TIMEOUT_MS = 60_000;
const MAX_LOG_CHARS = 1024 * 1024;
const START_ATTEMPTS = 3;

/** Picks a currently free TCP port on 127.0.0.1 (listens on port 0, reads the port, closes). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => (port ? resolve(port) : reject(new Error('could not read the listening port'))));
    });
  });
}

/** Result of httpsGet(). */
export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * GETs an https URL trusting only `ca` (PEM), with optional headers. Bounded by `timeoutMs`
 * (default 2 s). Rejects on network/TLS errors; any HTTP status resolves.
 */
export function httpsGet(
  url: string,
  options: { ca: string; headers?: Record<string, string>; timeoutMs?: number },
): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      url,
      {
        ca: options.ca,
        headers: options.headers ?? {},
        timeout: options.timeoutMs ?? PROBE_TIMEOUT_MS,
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}

/** The `Authorization` header value for HTTP basic auth. */
export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** GETs `https://<host>/v2/` of a test registry, with the registry's credentials when `withAuth`. */
export async function probeV2(reg: TestRegistry, withAuth: boolean): Promise<HttpsResponse> {
  const ca = await readFile(reg.caFile, 'utf8');
  return httpsGet(`https://${reg.host}/v2/`, {
    ca,
    headers: withAuth ? { Authorization: basicAuth(reg.username, reg.password) } : {},
  });
}

async function run(file: string, args: readonly string[], cwd?: string): Promise<string> {
  const result = await execProcess(file, args, { timeoutMs: TOOL_TIMEOUT_MS, ...(cwd ? { cwd } : {}) });
  if (result.exitCode !== 0 || result.failure) throw new Error(describeFailure(file, result));
  return result.stdout;
}

/** YAML double-quoted scalar (JSON strings are valid YAML). */
const q = (value: string) => JSON.stringify(value);

/** The `auth.token` section of the registry configuration. */
export interface TokenAuthConfig {
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate(s) the tokens' x5c chains must lead to. */
  rootCertBundle: string;
}

/** The distribution 2.8 configuration of the test registry: htpasswd auth, or token auth when `token` is given. */
export function registryConfigYaml(
  o: {
    port: number;
    storageDir: string;
    certFile: string;
    keyFile: string;
  } & ({ htpasswdFile: string; token?: undefined } | { token: TokenAuthConfig; htpasswdFile?: undefined }),
): string {
  const auth = o.token
    ? [
        'auth:',
        '  token:',
        `    realm: ${q(o.token.realm)}`,
        `    service: ${q(o.token.service)}`,
        `    issuer: ${q(o.token.issuer)}`,
        `    rootcertbundle: ${q(o.token.rootCertBundle)}`,
      ]
    : ['auth:', '  htpasswd:', '    realm: edgeship-test-registry', `    path: ${q(o.htpasswdFile)}`];
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    '  fields:',
    '    service: edgeship-test-registry',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${q(o.storageDir)}`,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    'http:',
    `  addr: ${q(`127.0.0.1:${o.port}`)}`,
    `  secret: ${q(randomBytes(16).toString('hex'))}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    '  tls:',
    `    certificate: ${q(o.certFile)}`,
    `    key: ${q(o.keyFile)}`,
    ...auth,
    '',
  ].join('\n');
}

/** OpenSSL config for a self-signed certificate that is both the server certificate and its CA. */
const OPENSSL_CONFIG = `[req]
distinguished_name = dn
prompt = no
x509_extensions = v3
[dn]
CN = edgeship-test-registry
[v3]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyEncipherment, keyCertSign
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
`;

/** Writes the certificate material; returns paths. */
async function makeCertificate(dir: string): Promise<{ certFile: string; keyFile: string; certDir: string }> {
  const configFile = path.join(dir, 'openssl.cnf');
  const certFile = path.join(dir, 'registry.crt');
  const keyFile = path.join(dir, 'registry.key');
  await writeFile(configFile, OPENSSL_CONFIG);
  await run('openssl', selfSignedEcCertificateArgs(configFile, keyFile, certFile));
  // containers/image --cert-dir: *.crt are CA certificates (a *.cert/*.key pair would be a client cert).
  const certDir = path.join(dir, 'certs.d');
  await mkdir(certDir);
  await writeFile(path.join(certDir, 'ca.crt'), await readFile(certFile));
  return { certFile, keyFile, certDir };
}

interface Running {
  child: ResultPromise;
  exited: () => boolean;
  logs: () => string;
}

function spawnRegistry(configFile: string): Running {
  const log = outputTail(MAX_LOG_CHARS);
  let done = false;
  const append = (chunk: Buffer) => log.append(chunk);
  // A long-running child: execProcess() only returns once a process ends, so execa is used directly.
  const child = execa('docker-registry', ['serve', configFile], {
    reject: false,
    buffer: false,
    stdin: 'ignore',
    cleanup: true, // killed if the test process exits without stop()
    forceKillAfterDelay: STOP_GRACE_MS,
  });
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  void child.then(
    (result) => {
      done = true;
      const how = result.signal
        ? `signal ${result.signal}`
        : result.exitCode === undefined
          ? `no exit code: ${result.shortMessage ?? 'could not start'}`
          : `code ${result.exitCode}`;
      log.append(`\n[harness] docker-registry exited with ${how}\n`);
    },
    () => {
      done = true;
    },
  );
  return { child, exited: () => done, logs: log.text };
}

async function killChild(running: Running): Promise<void> {
  if (running.exited()) return;
  running.child.kill('SIGTERM');
  const ended = await Promise.race([
    running.child.then(
      () => true,
      () => true,
    ),
    sleep(STOP_GRACE_MS + 2_000).then(() => false),
  ]);
  if (!ended) {
    running.child.kill('SIGKILL');
    await Promise.race([running.child.catch(() => undefined), sleep(2_000)]);
  }
}

/**
 * Polls `/v2/` until it answers 401, the Basic or the Bearer challenge (bounded: 100 tries, 100 ms apart).
 * Throws with the logs otherwise.
 */
async function waitUntilReady(host: string, ca: string, running: Running): Promise<void> {
  let last = 'no answer';
  for (let attempt = 0; attempt < READY_TRIES; attempt++) {
    if (running.exited()) throw new Error(`docker-registry exited during startup:\n${running.logs()}`);
    try {
      const response = await httpsGet(`https://${host}/v2/`, { ca, timeoutMs: 1_000 });
      if (response.status === 401) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(READY_INTERVAL_MS);
  }
  throw new Error(`docker-registry at https://${host}/v2/ not ready (last: ${last}):\n${running.logs()}`);
}

/**
 * Starts a TLS + htpasswd-protected (or token-auth, `auth: 'token'`) docker-registry on a random 127.0.0.1 port
 * and waits until `/v2/` answers 401. On any failure, kills the registry (and the token server) and removes its
 * directory before throwing. Call `stop()` when done (e.g. in afterAll).
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const username = options.username ?? 'edgeship';
  const password = options.password ?? randomBytes(12).toString('hex');
  const authMode = options.auth ?? 'htpasswd';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edgeship-registry-'));
  let running: Running | undefined;
  let tokenServer: TokenServer | undefined;
  try {
    const { certFile, keyFile, certDir } = await makeCertificate(dir);
    const ca = await readFile(certFile, 'utf8');

    let authConfig: { htpasswdFile: string } | { token: TokenAuthConfig };
    if (authMode === 'token') {
      // The token server needs no registry, so it starts first: the registry's config names its port.
      const signing = await makeTokenSigningMaterial(dir);
      tokenServer = await startTokenServer({
        tlsCertFile: certFile,
        tlsKeyFile: keyFile,
        signing,
        username,
        password,
      });
      authConfig = {
        token: {
          realm: tokenServer.realm,
          service: TOKEN_SERVICE,
          issuer: TOKEN_ISSUER,
          rootCertBundle: signing.certFile,
        },
      };
    } else {
      const htpasswdFile = path.join(dir, 'htpasswd');
      await writeFile(htpasswdFile, `${(await run('htpasswd', ['-Bbn', username, password])).trim()}\n`);
      authConfig = { htpasswdFile };
    }

    const storageDir = path.join(dir, 'storage');
    await mkdir(storageDir);
    const configFile = path.join(dir, 'config.yml');

    // The port is free when picked but could be taken before the registry binds it: retry then.
    let host = '';
    for (let attempt = 1; ; attempt++) {
      const port = await freeLoopbackPort();
      host = `127.0.0.1:${port}`;
      await writeFile(configFile, registryConfigYaml({ port, storageDir, certFile, keyFile, ...authConfig }));
      running = spawnRegistry(configFile);
      try {
        await waitUntilReady(host, ca, running);
        break;
      } catch (error) {
        const inUse = running.logs().includes('address already in use');
        await killChild(running);
        running = undefined;
        if (!inUse || attempt >= START_ATTEMPTS) throw error;
      }
    }

    const authFile = path.join(dir, 'auth.json');
    await writeFile(
      authFile,
      `${JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } } }, null, 2)}\n`,
      { mode: 0o600 },
    );

    let current = running;
    const tokens = tokenServer;
    let earlierLogs = '';
    let paused = false;
    let stopping: Promise<void> | undefined;
    const signal = (name: NodeJS.Signals) => {
      if (!current.exited()) current.child.kill(name);
    };
    return {
      host,
      username,
      password,
      caFile: certFile,
      certDir,
      authFile,
      dir,
      keyFile,
      port: Number(host.split(':')[1]),
      logs: () => (earlierLogs + current.logs()).slice(-MAX_LOG_CHARS),
      stop: () =>
        (stopping ??= (async () => {
          if (paused) signal('SIGCONT');
          await killChild(current);
          await tokens?.stop();
          await rm(dir, { recursive: true, force: true });
        })()),
      kill: async () => {
        if (paused) signal('SIGCONT');
        paused = false;
        signal('SIGKILL');
        await Promise.race([current.child.catch(() => undefined), sleep(STOP_GRACE_MS)]);
      },
      restart: async () => {
        if (!current.exited()) throw new Error('restart(): the registry is still running; kill() it first');
        earlierLogs = (earlierLogs + current.logs()).slice(-MAX_LOG_CHARS);
        current = spawnRegistry(configFile);
        await waitUntilReady(host, ca, current);
      },
      pause: () => {
        paused = true;
        signal('SIGSTOP');
      },
      resume: () => {
        paused = false;
        signal('SIGCONT');
      },
      auth: authMode,
      ...(tokens ? { tokenRealm: tokens.realm } : {}),
      tokenRequests: () => tokens?.requests() ?? 0,
    };
  } catch (error) {
    if (running) await killChild(running);
    await tokenServer?.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** One request as the registry's access log lists it. */
export interface LoggedRequest {
  method: string;
  uri: string;
  status: number;
}

/**
 * Writes a line no other request writes into the registry's access log: an unauthenticated GET of a repository no
 * one uses (answered 401). Returns its path, for accessLogAfter.
 */
export async function markAccessLog(registry: Pick<TestRegistry, 'port' | 'caFile'>): Promise<string> {
  const marker = `/v2/edgeship-log-marker-${randomBytes(8).toString('hex')}/tags/list`;
  const ca = await readFile(registry.caFile);
  await new Promise<void>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: registry.port, path: marker, ca, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('timeout', function (this: { destroy(error: Error): void }) {
        this.destroy(new Error('the registry did not answer the log marker request'));
      })
      .on('error', reject);
  });
  return marker;
}

/**
 * The requests the registry's access log lists after the `marker` request (see markAccessLog), every one it
 * answered (401 challenges and unknown routes included). Counting from the registry's own log puts no proxy (and no
 * second TLS hop) between the client and the registry it measures.
 */
export function accessLogAfter(logs: string, marker: string): LoggedRequest[] {
  const lines = logs.split('\n');
  const at = lines.findIndex((line) => line.includes(`"GET ${marker} HTTP/`));
  if (at < 0) throw new Error(`the registry log has no line for the marker ${marker}`);
  const out: LoggedRequest[] = [];
  for (const line of lines.slice(at + 1)) {
    const m = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) /.exec(line);
    if (m) out.push({ method: m[1]!, uri: m[2]!, status: Number(m[3]) });
  }
  return out;
}
