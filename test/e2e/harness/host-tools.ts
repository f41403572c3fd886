/**
 * Host prerequisites of the end-to-end suite: the Debian packages that provide a local registry,
 * buildah/skopeo, QEMU user emulation and a static busybox, plus the binfmt_misc registration that
 * lets the kernel run arm64 binaries (buildah `RUN` steps of linux/arm64 images) through QEMU.
 *
 * Everything here is idempotent: on a machine that already has the tools, it only reads files.
 */
import { constants as fsConstants } from 'node:fs';
import { access, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { describeFailure, execProcess } from '../../../src/process/exec.js';

/** One host prerequisite: how to find it and which Debian package provides it. */
export interface HostTool {
  /** Human name used in messages. */
  name: string;
  /** Debian package that provides it. */
  debianPackage: string;
  /** Resolves to true when the tool is present and usable. */
  present: () => Promise<boolean>;
}

/** Path of the static busybox the base images are built from (package busybox-static). */
export const HOST_BUSYBOX = '/bin/busybox';

const APT_UPDATE_TIMEOUT_MS = 5 * 60_000;
const APT_INSTALL_TIMEOUT_MS = 15 * 60_000;
const SHORT_TIMEOUT_MS = 60_000;
/** How long apt waits for the dpkg/apt lock (another apt run, unattended-upgrades on CI). */
const APT_LOCK_TIMEOUT_S = 300;

const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';
/** The ELF e_machine value of AArch64, as binfmt_misc prints it in the magic of an aarch64 entry. */
const AARCH64_MAGIC_SUFFIX = '0200b700';

/**
 * Finds an executable by name on PATH (plus the sbin directories, which are not always on a
 * non-login PATH). Returns the absolute path, or undefined.
 */
export async function findExecutable(name: string): Promise<string | undefined> {
  const dirs = [
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean),
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/sbin',
    '/usr/bin',
    '/sbin',
    '/bin',
  ];
  for (const dir of new Set(dirs)) {
    const candidate = path.join(dir, name);
    try {
      await access(candidate, fsConstants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Reads an ELF file's header and program headers. Returns undefined when the file is not a
 * 64-bit little-endian ELF. `isStatic` is true when it has no PT_INTERP (dynamic loader) entry.
 */
export async function readElfInfo(file: string): Promise<{ machine: number; isStatic: boolean } | undefined> {
  const handle = await open(file, 'r');
  try {
    const header = Buffer.alloc(64);
    const { bytesRead } = await handle.read(header, 0, 64, 0);
    if (bytesRead < 64 || header.readUInt32BE(0) !== 0x7f454c46) return undefined;
    // EI_CLASS 2 = 64-bit, EI_DATA 1 = little-endian (amd64 and arm64 both are).
    if (header[4] !== 2 || header[5] !== 1) return undefined;
    const machine = header.readUInt16LE(18);
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    await handle.read(table, 0, table.length, phoff);
    let isStatic = true;
    for (let i = 0; i < phnum; i++) {
      if (table.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) isStatic = false;
    }
    return { machine, isStatic };
  } finally {
    await handle.close();
  }
}

/** ELF e_machine values. */
export const ELF_MACHINE = { amd64: 0x3e, arm64: 0xb7 } as const;

function onPath(name: string): () => Promise<boolean> {
  return async () => (await findExecutable(name)) !== undefined;
}

/** The prerequisites ensureHostTools() checks and, when missing, installs. */
export const HOST_TOOLS: readonly HostTool[] = [
  { name: 'docker-registry', debianPackage: 'docker-registry', present: onPath('docker-registry') },
  { name: 'htpasswd', debianPackage: 'apache2-utils', present: onPath('htpasswd') },
  { name: 'buildah', debianPackage: 'buildah', present: onPath('buildah') },
  { name: 'skopeo', debianPackage: 'skopeo', present: onPath('skopeo') },
  { name: 'qemu-aarch64-static', debianPackage: 'qemu-user-static', present: onPath('qemu-aarch64-static') },
  { name: 'update-binfmts', debianPackage: 'binfmt-support', present: onPath('update-binfmts') },
  {
    // The dynamically linked busybox of package "busybox" also lives at /bin/busybox, but it cannot
    // run in a FROM-scratch image, so only a static x86-64 binary counts.
    name: `static busybox at ${HOST_BUSYBOX}`,
    debianPackage: 'busybox-static',
    present: async () => {
      try {
        const elf = await readElfInfo(HOST_BUSYBOX);
        return elf !== undefined && elf.isStatic && elf.machine === ELF_MACHINE.amd64;
      } catch {
        return false;
      }
    },
  },
  { name: 'openssl', debianPackage: 'openssl', present: onPath('openssl') },
];

/** Returns the tools of HOST_TOOLS that are currently missing. */
export async function missingHostTools(): Promise<HostTool[]> {
  const checks = await Promise.all(HOST_TOOLS.map(async (tool) => ({ tool, ok: await tool.present() })));
  return checks.filter((c) => !c.ok).map((c) => c.tool);
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Environment for apt/dpkg runs: never prompt, never open a pager. */
const APT_ENV = {
  DEBIAN_FRONTEND: 'noninteractive',
  APT_LISTCHANGES_FRONTEND: 'none',
  NEEDRESTART_MODE: 'a',
};

let aptUpdated: Promise<void> | undefined;

/** Runs `apt-get update` at most once per process (later calls reuse the first run's outcome). */
export function aptUpdateOnce(): Promise<void> {
  aptUpdated ??= (async () => {
    const result = await execProcess(
      'apt-get',
      ['-o', `DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT_S}`, 'update'],
      {
        env: APT_ENV,
        timeoutMs: APT_UPDATE_TIMEOUT_MS,
      },
    );
    if (result.exitCode !== 0 || result.failure) {
      aptUpdated = undefined; // let a later call retry
      throw new Error(`apt-get update failed: ${describeFailure('apt-get', result)}`);
    }
  })();
  return aptUpdated;
}

/**
 * Makes sure every tool in HOST_TOOLS is present. Missing ones are installed from Debian with
 * `apt-get update` (once per process) and
 * `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends <packages>`.
 * Needs root only when something is missing. Throws when installing fails or a tool is still
 * missing afterwards. Returns the Debian packages it installed (empty when nothing was missing).
 */
export async function ensureHostTools(): Promise<string[]> {
  const missing = await missingHostTools();
  if (missing.length === 0) return [];
  const packages = [...new Set(missing.map((t) => t.debianPackage))].sort();
  const what = missing.map((t) => `${t.name} (${t.debianPackage})`).join(', ');
  if (!isRoot()) {
    throw new Error(
      `e2e host tools missing: ${what}. Install as root: apt-get install ${packages.join(' ')}`,
    );
  }
  if (!(await findExecutable('apt-get'))) {
    throw new Error(`e2e host tools missing: ${what}, and apt-get is not available to install them`);
  }
  await aptUpdateOnce();
  const result = await execProcess(
    'apt-get',
    [
      '-o',
      `DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT_S}`,
      'install',
      '-y',
      '--no-install-recommends',
      ...packages,
    ],
    { env: APT_ENV, timeoutMs: APT_INSTALL_TIMEOUT_MS },
  );
  if (result.exitCode !== 0 || result.failure) {
    throw new Error(`installing ${packages.join(' ')} failed: ${describeFailure('apt-get', result)}`);
  }
  const still = await missingHostTools();
  if (still.length > 0) {
    throw new Error(
      `after apt-get install ${packages.join(' ')}, still missing: ${still.map((t) => t.name).join(', ')}`,
    );
  }
  return packages;
}

/** The parsed state of one binfmt_misc entry (a file under /proc/sys/fs/binfmt_misc). */
export interface BinfmtEntry {
  name: string;
  enabled: boolean;
  interpreter: string;
  /** Flags such as "F" (interpreter opened at registration: works inside chroots) and "P". */
  flags: string;
  magic: string;
}

/** Parses the text of a binfmt_misc entry file. */
export function parseBinfmtEntry(name: string, text: string): BinfmtEntry {
  const lines = text.split('\n').map((l) => l.trim());
  const field = (key: string) =>
    lines
      .find((l) => l.startsWith(`${key} `))
      ?.slice(key.length + 1)
      .trim() ?? '';
  return {
    name,
    enabled: lines[0] === 'enabled',
    interpreter: field('interpreter'),
    flags: field('flags:'),
    magic: field('magic').toLowerCase(),
  };
}

async function readBinfmtEntries(): Promise<BinfmtEntry[]> {
  const names = (await readdir(BINFMT_DIR)).filter((n) => n !== 'register' && n !== 'status');
  const entries: BinfmtEntry[] = [];
  for (const name of names) {
    try {
      entries.push(parseBinfmtEntry(name, await readFile(path.join(BINFMT_DIR, name), 'utf8')));
    } catch {
      // an entry removed while we read
    }
  }
  return entries;
}

async function binfmtMounted(): Promise<boolean> {
  try {
    await access(path.join(BINFMT_DIR, 'register'));
    return true;
  } catch {
    return false;
  }
}

/** The enabled binfmt_misc entry that runs aarch64 ELF binaries, if any. */
export async function findAarch64Binfmt(): Promise<BinfmtEntry | undefined> {
  if (!(await binfmtMounted())) return undefined;
  const entries = await readBinfmtEntries();
  const aarch64 = entries.filter((e) => e.enabled && e.magic.endsWith(AARCH64_MAGIC_SUFFIX));
  return aarch64.find((e) => e.name === 'qemu-aarch64') ?? aarch64[0];
}

/**
 * Makes the kernel run aarch64 binaries through qemu-aarch64-static:
 * mounts binfmt_misc at /proc/sys/fs/binfmt_misc when it is not mounted, then runs
 * `update-binfmts --enable qemu-aarch64` when no enabled aarch64 entry exists. Verifies afterwards
 * that an enabled entry with the F (fix-binary) flag exists — without F, buildah's chroot isolation
 * cannot find the interpreter inside the image — and throws a descriptive error otherwise.
 * Needs root when something has to change. Returns the entry in effect.
 */
export async function ensureBinfmt(): Promise<BinfmtEntry> {
  if (!(await binfmtMounted())) {
    if (!isRoot()) throw new Error(`binfmt_misc is not mounted at ${BINFMT_DIR} and we are not root`);
    const mount = await execProcess('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT_DIR], {
      timeoutMs: SHORT_TIMEOUT_MS,
    });
    if (mount.exitCode !== 0 || mount.failure) {
      throw new Error(`cannot mount binfmt_misc at ${BINFMT_DIR}: ${describeFailure('mount', mount)}`);
    }
  }
  let entry = await findAarch64Binfmt();
  let enableOutput = '';
  if (!entry) {
    if (!isRoot()) throw new Error('no enabled aarch64 binfmt_misc entry and we are not root');
    const disabled = (await readBinfmtEntries()).find(
      (e) => !e.enabled && e.name === 'qemu-aarch64' && e.magic.endsWith(AARCH64_MAGIC_SUFFIX),
    );
    if (disabled) {
      // Registered but switched off (`echo 0 > entry`): update-binfmts would only say "already
      // enabled in kernel", so switch it back on directly.
      await writeFile(path.join(BINFMT_DIR, disabled.name), '1');
      enableOutput = `wrote 1 to ${path.join(BINFMT_DIR, disabled.name)}`;
    } else {
      const enable = await execProcess('update-binfmts', ['--enable', 'qemu-aarch64'], {
        timeoutMs: SHORT_TIMEOUT_MS,
      });
      enableOutput = `${describeFailure('update-binfmts', enable)} ${enable.stdout}`.trim();
    }
    entry = await findAarch64Binfmt();
  }
  if (!entry) {
    throw new Error(
      'arm64 emulation unavailable: no enabled aarch64 entry in /proc/sys/fs/binfmt_misc after ' +
        'enabling qemu-aarch64 (is qemu-user-static installed, and may this machine register binfmt ' +
        `handlers?). Attempt: ${enableOutput}`,
    );
  }
  if (!entry.flags.includes('F')) {
    throw new Error(
      `binfmt_misc entry ${entry.name} (interpreter ${entry.interpreter}) lacks the F (fix-binary) flag, so ` +
        'arm64 RUN steps inside a chroot cannot find the interpreter. Re-register it with F, e.g. ' +
        '`update-binfmts --disable ' +
        entry.name +
        ' && update-binfmts --enable qemu-aarch64` with qemu-user-static installed.',
    );
  }
  return entry;
}
