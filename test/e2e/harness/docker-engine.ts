/**
 * A private Docker Engine 26 (Debian 13's `docker.io`, its own containerd, the containerd image store)
 * with buildx 0.13 (`docker` driver) for end-to-end tests of the real `docker buildx build`.
 *
 * The Debian 13 packages and Debian 12's `runc` (Debian 13's needs glibc 2.38) are fetched with a
 * private apt configuration (`apt-get download`, never installed) into a cache folder that stays on
 * the machine, keyed by the package list, then unpacked with `dpkg-deb -x` into the test run's own
 * folder. Nothing in the system's apt or dpkg state changes. dockerd runs with a private
 * `daemon.json` (no iptables, no bridge, its socket, data and exec roots in a temp folder) and is
 * stopped, with every process started from the unpacked binaries, by stop().
 */
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { ResultPromise } from 'execa';

import { execProcess } from '../../../src/process/exec.js';
import { fetchDebianPackages, type PackageSet, SHORT_TIMEOUT_MS, unpackDebs } from './debian-packages.js';
import { outputTail } from './output-tail.js';

/** Debian 13 (trixie) packages: the engine, its containerd, the CLI, buildx and docker-init (tini). */
export const DEBIAN13_PACKAGES = ['docker.io', 'containerd', 'docker-cli', 'docker-buildx', 'tini'] as const;
/** Debian 12 (bookworm) packages: runc (Debian 13's runc needs glibc 2.38, this machine has 2.36). */
export const DEBIAN12_PACKAGES = ['runc'] as const;

/** The package sets of the engine. */
export const ENGINE_PACKAGES: readonly PackageSet[] = [
  { suite: 'trixie', packages: DEBIAN13_PACKAGES },
  { suite: 'bookworm', packages: DEBIAN12_PACKAGES },
];

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 15_000;
const MAX_LOG_CHARS = 64_000;

export interface DockerEngine {
  /** Environment for `docker` runs: PATH with the unpacked CLI, DOCKER_HOST, a private DOCKER_CONFIG. */
  env: Record<string, string>;
  /** Absolute path of the unpacked `docker` CLI. */
  docker: string;
  /** The temp folder holding the socket, data root, exec root and config. */
  dir: string;
  /** dockerd's output so far (for failure messages). */
  logs: () => string;
  /** Stops dockerd (SIGTERM, SIGKILL after a bounded wait), anything left of ours, and removes `dir`. */
  stop: () => Promise<void>;
}

/** GET /_ping on a unix socket; resolves to the HTTP status, or rejects. */
function ping(socketPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: '/_ping', method: 'GET', timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Pids of live processes whose executable lies under `root` (the binaries this harness unpacked). */
async function processesUnder(root: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const exe = await readlink(`/proc/${entry}/exe`);
      if (exe.startsWith(`${root}/`)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Mount points at or below `dir` (deepest first), from /proc/self/mountinfo. */
async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mount): mount is string => !!mount && (mount === dir || mount.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

/**
 * Fetches (cached) and unpacks the engine, writes a private daemon.json and starts dockerd, which
 * starts its own containerd. Waits (bounded) for its socket to answer /_ping. Throws with dockerd's
 * own output when it exits or does not answer in time; nothing is left running then.
 */
export async function startDockerEngine(): Promise<DockerEngine> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('the private Docker Engine needs root (dockerd, containerd and runc run as root)');
  }
  const debs = await fetchDebianPackages(ENGINE_PACKAGES);
  // Short prefix: the socket paths under it must stay below the 108-byte unix socket limit.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'es-dockerd-'));
  const root = path.join(dir, 'root');
  await unpackDebs(debs, root);
  const bin = [path.join(root, 'usr', 'bin'), path.join(root, 'usr', 'sbin')];
  const socket = path.join(dir, 'docker.sock');
  const configDir = path.join(dir, 'config');
  await mkdir(path.join(configDir, 'cli-plugins'), { recursive: true });
  await symlink(
    path.join(root, 'usr', 'libexec', 'docker', 'cli-plugins', 'docker-buildx'),
    path.join(configDir, 'cli-plugins', 'docker-buildx'),
  );
  const daemonJson = path.join(dir, 'daemon.json');
  await writeFile(
    daemonJson,
    JSON.stringify(
      {
        features: { 'containerd-snapshotter': true },
        iptables: false,
        ip6tables: false,
        bridge: 'none',
        'userland-proxy': false,
        hosts: [`unix://${socket}`],
        'data-root': path.join(dir, 'data'),
        'exec-root': path.join(dir, 'exec'),
        pidfile: path.join(dir, 'docker.pid'),
      },
      null,
      2,
    ),
  );
  const env = {
    PATH: [...bin, process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'].join(path.delimiter),
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_CONFIG: configDir,
  };

  const log = outputTail(MAX_LOG_CHARS);
  let exited: string | undefined;
  const append = (chunk: Buffer) => log.append(chunk);
  // A long-running child: execProcess() only returns once a process ends, so execa is used directly.
  const child: ResultPromise = execa(
    path.join(root, 'usr', 'sbin', 'dockerd'),
    ['--config-file', daemonJson],
    {
      env: { ...process.env, ...env },
      extendEnv: false,
      reject: false,
      buffer: false,
      stdin: 'ignore',
      cleanup: true, // killed if the test process exits without stop()
    },
  );
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const ended = child.then(
    (result) => {
      exited = result.signal
        ? `signal ${result.signal}`
        : result.exitCode === undefined
          ? `no exit code: ${result.shortMessage ?? 'could not start'}`
          : `code ${result.exitCode}`;
    },
    (error: unknown) => {
      exited = String(error);
    },
  );

  const stop = async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const done = await Promise.race([ended.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
      if (!done) {
        child.kill('SIGKILL');
        await Promise.race([ended, sleep(5_000)]);
      }
    }
    // containerd, shims or runc left behind (dockerd killed hard, or a build interrupted): all run
    // from the binaries unpacked under `root`, so their pids are ours.
    for (let round = 0; round < 10; round++) {
      const left = await processesUnder(root);
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          process.kill(pid, round === 0 ? 'SIGTERM' : 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await sleep(500);
    }
    for (const mount of await mountsUnder(dir)) {
      await execProcess('umount', ['-l', mount], { timeoutMs: SHORT_TIMEOUT_MS });
    }
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: string;
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`dockerd exited during startup (${exited}):\n${log.text()}`);
    }
    try {
      const status = await ping(socket);
      if (status === 200) break;
      last = `HTTP ${status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `dockerd did not answer on ${socket} within ${READY_TIMEOUT_MS} ms (last: ${last}):\n${log.text()}`,
      );
    }
    await sleep(200);
  }
  return { env, docker: path.join(root, 'usr', 'bin', 'docker'), dir, logs: log.text, stop };
}
