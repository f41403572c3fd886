/**
 * Real device-side tools for the offline bundle tests: Debian 13's cosign 2.5 set up for a local Sigstore
 * (its trusted root as PEM files, a private TUF_ROOT), a private containerd 1.7 (own root, state and socket,
 * Debian 13's, with Debian 12's runc) for `ctr images import`, and Debian 12's shellcheck. Packages come
 * through debian-packages.ts (cached, never installed).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';

import { describeFailure, execProcess } from '../../../src/process/exec.js';
import { debianRoot, exists } from './debian-packages.js';
import { ENGINE_PACKAGES } from './docker-engine.js';
import { outputTail } from './output-tail.js';

const TIMEOUT_MS = 2 * 60_000;

/** Runs a tool; throws with its output unless it exits 0. */
export async function tool(
  file: string,
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string; input?: string } = {},
): Promise<string> {
  const result = await execProcess(file, [...args], { timeoutMs: TIMEOUT_MS, ...options });
  if (result.exitCode !== 0 || result.failure) throw new Error(describeFailure(path.basename(file), result));
  return result.stdout;
}

/** Runs a tool and returns its exit code and output, whatever they are. */
export async function attempt(
  file: string,
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ exitCode: number; output: string }> {
  const result = await execProcess(file, [...args], { timeoutMs: TIMEOUT_MS, ...options });
  return { exitCode: result.exitCode ?? -1, output: `${result.stdout}\n${result.stderr}` };
}

const pem = (label: string, base64: string) =>
  `-----BEGIN ${label}-----\n${base64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;

interface TrustedRootJson {
  tlogs: Array<{ publicKey: { rawBytes: string } }>;
  ctlogs: Array<{ publicKey: { rawBytes: string } }>;
  certificateAuthorities: Array<{ certChain: { certificates: Array<{ rawBytes: string }> } }>;
}

/** cosign 2.5 from Debian 13 and the environment that makes it use the given trusted root (never TUF). */
export async function cosignFor(
  trustedRoot: unknown,
  dir: string,
): Promise<{ cosign: string; env: Record<string, string> }> {
  const root = await debianRoot([{ suite: 'trixie', packages: ['cosign', 'oras'] }], path.join(dir, 'root'));
  const t = trustedRoot as TrustedRootJson;
  const files = {
    SIGSTORE_REKOR_PUBLIC_KEY: path.join(dir, 'rekor.pub'),
    SIGSTORE_CT_LOG_PUBLIC_KEY_FILE: path.join(dir, 'ctlog.pub'),
    SIGSTORE_ROOT_FILE: path.join(dir, 'fulcio.pem'),
  };
  await writeFile(files.SIGSTORE_REKOR_PUBLIC_KEY, pem('PUBLIC KEY', t.tlogs[0]!.publicKey.rawBytes));
  await writeFile(files.SIGSTORE_CT_LOG_PUBLIC_KEY_FILE, pem('PUBLIC KEY', t.ctlogs[0]!.publicKey.rawBytes));
  await writeFile(
    files.SIGSTORE_ROOT_FILE,
    t.certificateAuthorities[0]!.certChain.certificates.map((c) => pem('CERTIFICATE', c.rawBytes)).join(''),
  );
  await mkdir(path.join(dir, 'tuf'), { recursive: true });
  return {
    cosign: path.join(root, 'usr', 'bin', 'cosign'),
    env: { ...files, TUF_ROOT: path.join(dir, 'tuf'), HOME: dir },
  };
}

/** shellcheck from Debian 12 (a static Haskell binary). */
export async function shellcheckBinary(dir: string): Promise<string> {
  const root = await debianRoot(
    [{ suite: 'bookworm', packages: ['shellcheck'] }],
    path.join(dir, 'shellcheck'),
  );
  return path.join(root, 'usr', 'bin', 'shellcheck');
}

export interface PrivateContainerd {
  ctr: (args: readonly string[], input?: string) => Promise<string>;
  ctrAttempt: (args: readonly string[]) => Promise<{ exitCode: number; output: string }>;
  stop: () => Promise<void>;
}

/** Debian 13's containerd 1.7 with its own root, state and socket under `dir` (no CRI plugin). */
export async function startContainerd(dir: string): Promise<PrivateContainerd> {
  const root = await debianRoot(ENGINE_PACKAGES, path.join(dir, 'pkg'));
  const bin = path.join(root, 'usr', 'bin');
  const sock = path.join(dir, 'c.sock');
  const config = path.join(dir, 'config.toml');
  await writeFile(
    config,
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${sock}"`,
      '[ttrpc]',
      `  address = "${sock}.ttrpc"`,
      '',
    ].join('\n'),
  );
  const env = { PATH: `${bin}:${path.join(root, 'usr', 'sbin')}:${process.env.PATH ?? ''}` };
  const child: ResultPromise = execa(path.join(bin, 'containerd'), ['--config', config], {
    env,
    reject: false,
    buffer: false,
    stdin: 'ignore',
    cleanup: true,
  });
  const log = outputTail(20_000);
  child.stderr?.on('data', (c: Buffer) => log.append(c));
  const ctrArgs = (args: readonly string[]) => ['--address', sock, '--namespace', 'edgeship', ...args];
  const ctr = path.join(bin, 'ctr');
  for (let i = 0; !(await exists(sock)); i++) {
    if (i > 100) throw new Error(`containerd did not start:\n${log.text()}`);
    await sleep(100);
  }
  return {
    ctr: (args, input) => tool(ctr, ctrArgs(args), { env, ...(input ? { input } : {}) }),
    ctrAttempt: (args) => attempt(ctr, ctrArgs(args), { env }),
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([child, sleep(10_000)]);
    },
  };
}
