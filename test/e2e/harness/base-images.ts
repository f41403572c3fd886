/**
 * Multi-arch base images for the end-to-end suite: a minimal busybox image for linux/amd64 and
 * linux/arm64 built with buildah and pushed as one manifest list to a test registry, so the
 * suite's Dockerfiles can say `FROM <registry>/base/busybox:1` without internet access.
 *
 * The amd64 busybox is the host's static one (busybox-static); the arm64 one comes from Debian's
 * arm64 busybox-static package, fetched with a separate apt configuration (no dpkg multiarch
 * change on the host) and cached under /var/cache/edgeship-test.
 */
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { describeFailure, execProcess, type ExecOptions } from '../../../src/process/exec.js';
import { ELF_MACHINE, ensureBinfmt, HOST_BUSYBOX, readElfInfo } from './host-tools.js';
import type { TestRegistry } from './registry.js';

/**
 * Global buildah options every e2e buildah call should use: a storage of its own (so test runs never
 * mix with, or depend on, the machine's /var/lib/containers store) with the vfs driver, which works
 * everywhere root runs (overlay needs kernel/fs support that CI containers may lack).
 * Usage: `buildah ...BUILDAH_GLOBAL_ARGS build ...`.
 */
export const BUILDAH_GLOBAL_ARGS: readonly string[] = [
  '--root',
  '/var/lib/edgeship-test/containers/storage',
  '--runroot',
  '/run/edgeship-test/containers/storage',
  '--storage-driver',
  'vfs',
];

/**
 * `buildah build` options for RUN steps: chroot isolation needs no OCI runtime, cgroups or
 * namespaces setup, and works with QEMU binfmt (F flag) for foreign-arch RUN steps.
 */
export const BUILDAH_BUILD_ARGS: readonly string[] = ['--isolation', 'chroot'];

/** A throw-away buildah storage (see createBuildahStore()). */
export interface BuildahStore {
  /** Global options selecting this store; use instead of BUILDAH_GLOBAL_ARGS: `buildah ...args build ...`. */
  args: string[];
  dir: string;
  /** Removes its containers and images, then the directory. Idempotent, never throws. */
  dispose(): Promise<void>;
}

/**
 * Creates a private vfs buildah storage in a temp dir, for tests whose pulled and built images should
 * vanish with the test (nothing accumulates in the shared BUILDAH_GLOBAL_ARGS store).
 */
export async function createBuildahStore(): Promise<BuildahStore> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edgeship-buildah-'));
  const args = [
    '--root',
    path.join(dir, 'root'),
    '--runroot',
    path.join(dir, 'run'),
    '--storage-driver',
    'vfs',
  ];
  let disposing: Promise<void> | undefined;
  return {
    args,
    dir,
    dispose: () =>
      (disposing ??= (async () => {
        await execProcess('buildah', [...args, 'rm', '--all'], { timeoutMs: SHORT_TIMEOUT_MS });
        await execProcess('buildah', [...args, 'rmi', '--all', '--force'], { timeoutMs: SHORT_TIMEOUT_MS });
        await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      })()),
  };
}

/** Options for buildah/skopeo to reach a test registry: `--cert-dir <dir> --authfile <file>` (TLS verify stays on). */
export function registryArgs(reg: TestRegistry): string[] {
  return ['--cert-dir', reg.certDir, '--authfile', reg.authFile];
}

/** Where downloaded artifacts (the arm64 busybox) are cached across runs. Override: EDGESHIP_TEST_CACHE. */
export const CACHE_DIR = process.env.EDGESHIP_TEST_CACHE ?? '/var/cache/edgeship-test';

/** The platforms publishBaseImage() builds. */
export const BASE_PLATFORMS = ['linux/amd64', 'linux/arm64'] as const;

const BUILD_TIMEOUT_MS = 10 * 60_000;
const PUSH_TIMEOUT_MS = 5 * 60_000;
const APT_TIMEOUT_MS = 5 * 60_000;
const SHORT_TIMEOUT_MS = 60_000;

async function run(
  file: string,
  args: readonly string[],
  options: ExecOptions & { timeoutMs: number },
): Promise<string> {
  const result = await execProcess(file, args, options);
  if (result.exitCode !== 0 || result.failure) {
    throw new Error(`${file} ${args.join(' ')}\n${describeFailure(file, result)}`);
  }
  return result.stdout;
}

/** Runs `buildah <BUILDAH_GLOBAL_ARGS> <args>` and returns stdout; throws with stderr on failure. */
export function buildah(args: readonly string[], timeoutMs = BUILD_TIMEOUT_MS): Promise<string> {
  return run('buildah', [...BUILDAH_GLOBAL_ARGS, ...args], { timeoutMs });
}

/** One apt source of the host, reduced to what a one-line `deb` entry needs. */
export interface AptSource {
  uri: string;
  suite: string;
  components: string[];
  signedBy?: string;
}

async function readIfExists(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return '';
  }
}

/** Parses one-line (`deb [opts] uri suite comp...`) and deb822 (`.sources`) apt source files. */
export function parseAptSources(text: string, deb822: boolean): AptSource[] {
  const sources: AptSource[] = [];
  if (!deb822) {
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      const match = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s+(.+)$/.exec(line);
      if (!match) continue;
      const signedBy = /(?:^|\s)signed-by=(\S+)/.exec(match[1] ?? '')?.[1];
      sources.push({
        uri: match[2] ?? '',
        suite: match[3] ?? '',
        components: (match[4] ?? '').split(/\s+/),
        ...(signedBy ? { signedBy } : {}),
      });
    }
    return sources;
  }
  for (const paragraph of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let key = '';
    for (const line of paragraph.split('\n')) {
      if (line.startsWith('#')) continue;
      const kv = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (kv) {
        key = (kv[1] ?? '').toLowerCase();
        fields.set(key, kv[2] ?? '');
      } else if (key && /^\s/.test(line)) {
        fields.set(key, `${fields.get(key) ?? ''}\n${line.trim()}`);
      }
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if ((fields.get('enabled') ?? 'yes').trim() === 'no') continue;
    const signedBy = (fields.get('signed-by') ?? '').trim();
    for (const uri of (fields.get('uris') ?? '').split(/\s+/).filter(Boolean)) {
      for (const suite of (fields.get('suites') ?? '').split(/\s+/).filter(Boolean)) {
        sources.push({
          uri,
          suite,
          components: (fields.get('components') ?? '').split(/\s+/).filter(Boolean),
          // Only a keyring path can be carried over; an inline key block falls back to trusted.gpg.d.
          ...(signedBy && !signedBy.includes('\n') ? { signedBy } : {}),
        });
      }
    }
  }
  return sources;
}

/**
 * The apt lines used to download arm64 packages: the host's own Debian sources (same mirror, same
 * release, with -updates and -security so the version matches the host's busybox-static), restricted
 * to arch=arm64 and component main. Falls back to deb.debian.org when none are recognised.
 */
export async function arm64SourceList(): Promise<string> {
  const osRelease = await readIfExists('/etc/os-release');
  const codename = /^VERSION_CODENAME=(.*)$/m.exec(osRelease)?.[1]?.replace(/"/g, '').trim() || 'bookworm';
  const sources: AptSource[] = [...parseAptSources(await readIfExists('/etc/apt/sources.list'), false)];
  let extra: string[] = [];
  try {
    extra = (await readdir('/etc/apt/sources.list.d')).sort();
  } catch {
    // no sources.list.d
  }
  for (const name of extra) {
    const file = path.join('/etc/apt/sources.list.d', name);
    if (name.endsWith('.list')) sources.push(...parseAptSources(await readIfExists(file), false));
    if (name.endsWith('.sources')) sources.push(...parseAptSources(await readIfExists(file), true));
  }
  const suites = new Set([codename, `${codename}-updates`, `${codename}-security`]);
  const lines = new Set<string>();
  for (const s of sources) {
    if (!suites.has(s.suite) || !s.components.includes('main') || !/^https?:\/\//.test(s.uri)) continue;
    const options = ['arch=arm64', ...(s.signedBy ? [`signed-by=${s.signedBy}`] : [])].join(' ');
    lines.add(`deb [${options}] ${s.uri} ${s.suite} main`);
  }
  if (lines.size === 0) {
    lines.add(`deb [arch=arm64] http://deb.debian.org/debian ${codename} main`);
    lines.add(`deb [arch=arm64] http://deb.debian.org/debian ${codename}-updates main`);
    lines.add(`deb [arch=arm64] http://deb.debian.org/debian-security ${codename}-security main`);
  }
  return `${[...lines].join('\n')}\n`;
}

/**
 * Returns the path of a static arm64 busybox (Debian busybox-static:arm64), downloading and
 * extracting it on first use into CACHE_DIR/busybox-arm64/busybox. The download uses a separate
 * apt configuration (APT::Architecture=arm64, its own source list, lists and cache in a temp dir),
 * so the host's dpkg architectures and apt state are untouched. Verifies the file is a static
 * aarch64 ELF.
 */
export async function arm64Busybox(): Promise<string> {
  const cached = path.join(CACHE_DIR, 'busybox-arm64', 'busybox');
  const isArm64Static = async (file: string) => {
    try {
      const elf = await readElfInfo(file);
      return elf?.machine === ELF_MACHINE.arm64 && elf.isStatic;
    } catch {
      return false;
    }
  };
  if (await isArm64Static(cached)) return cached;

  const work = await mkdtemp(path.join(os.tmpdir(), 'edgeship-apt-arm64-'));
  try {
    const sourceList = path.join(work, 'sources.list');
    const lists = path.join(work, 'lists');
    const cache = path.join(work, 'cache');
    const status = path.join(work, 'status');
    const download = path.join(work, 'download');
    await Promise.all([
      mkdir(path.join(lists, 'partial'), { recursive: true }),
      mkdir(path.join(cache, 'archives', 'partial'), { recursive: true }),
      mkdir(download),
      writeFile(sourceList, await arm64SourceList()),
      writeFile(status, ''),
    ]);
    const aptOptions = [
      '-o',
      'APT::Architecture=arm64',
      '-o',
      'APT::Architectures=arm64',
      '-o',
      `Dir::Etc::SourceList=${sourceList}`,
      '-o',
      'Dir::Etc::SourceParts=/dev/null',
      '-o',
      `Dir::State::Lists=${lists}`,
      '-o',
      `Dir::State::status=${status}`,
      '-o',
      `Dir::Cache=${cache}`,
      // The temp dir is root-only; downloading as the _apt sandbox user would only print warnings.
      '-o',
      'APT::Sandbox::User=root',
      '-o',
      'Acquire::Languages=none',
    ];
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', [...aptOptions, 'update'], { env, timeoutMs: APT_TIMEOUT_MS });
    await run('apt-get', [...aptOptions, 'download', 'busybox-static:arm64'], {
      cwd: download,
      env,
      timeoutMs: APT_TIMEOUT_MS,
    });
    const deb = (await readdir(download)).find((n) => n.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download busybox-static:arm64 produced no .deb in ${download}`);
    const extracted = path.join(work, 'root');
    await run('dpkg-deb', ['-x', path.join(download, deb), extracted], { timeoutMs: SHORT_TIMEOUT_MS });
    const binary = path.join(extracted, 'bin', 'busybox');
    if (!(await isArm64Static(binary)))
      throw new Error(`${deb} did not contain a static aarch64 bin/busybox`);

    // Publish atomically, so a concurrent or interrupted run never sees a partial file.
    await mkdir(path.dirname(cached), { recursive: true });
    const partial = `${cached}.${randomBytes(4).toString('hex')}.tmp`;
    await copyFile(binary, partial);
    await chmod(partial, 0o755);
    await rename(partial, cached);
    await writeFile(path.join(path.dirname(cached), 'SOURCE'), `${deb}\n`);
    return cached;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const CONTAINERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["/bin/sh"]
`;

/**
 * Builds the busybox base image for linux/amd64 and linux/arm64 (the arm64 RUN step runs under
 * QEMU, so it calls ensureBinfmt() first), assembles them into a manifest list and pushes it with
 * all its images to `docker://<reg.host>/<repo>:<tag>`. Local images and the list are removed
 * afterwards, also on failure. Returns the pushed reference `<host>/<repo>:<tag>`.
 */
export async function publishBaseImage(reg: TestRegistry, repo = 'base/busybox', tag = '1'): Promise<string> {
  await ensureBinfmt();
  const reference = `${reg.host}/${repo}:${tag}`;
  const id = randomBytes(6).toString('hex');
  const listName = `localhost/edgeship-base-list-${id}`;
  const work = await mkdtemp(path.join(os.tmpdir(), 'edgeship-base-'));
  const images: string[] = [];
  let listCreated = false;
  try {
    const binaries: Record<(typeof BASE_PLATFORMS)[number], string> = {
      'linux/amd64': HOST_BUSYBOX,
      'linux/arm64': await arm64Busybox(),
    };
    // Fail early and clearly if the kernel cannot run arm64 binaries (binfmt/QEMU broken).
    const probe = await execProcess(binaries['linux/arm64'], ['uname', '-m'], {
      timeoutMs: SHORT_TIMEOUT_MS,
    });
    if (probe.exitCode !== 0 || probe.stdout.trim() !== 'aarch64') {
      throw new Error(
        `arm64 busybox does not run under QEMU: ${describeFailure('busybox', probe)} ${probe.stdout}`,
      );
    }
    await buildah(['manifest', 'create', listName], SHORT_TIMEOUT_MS);
    listCreated = true;
    for (const platform of BASE_PLATFORMS) {
      const arch = platform.split('/')[1] ?? platform;
      const context = path.join(work, arch);
      await mkdir(context);
      await copyFile(binaries[platform], path.join(context, 'busybox'));
      await writeFile(path.join(context, 'Containerfile'), CONTAINERFILE);
      const iidFile = path.join(work, `${arch}.iid`);
      await buildah([
        'build',
        ...BUILDAH_BUILD_ARGS,
        '--platform',
        platform,
        '--layers=false',
        '--iidfile',
        iidFile,
        '--file',
        path.join(context, 'Containerfile'),
        context,
      ]);
      const imageId = (await readFile(iidFile, 'utf8')).trim().replace(/^sha256:/, '');
      images.push(imageId);
      await buildah(['manifest', 'add', listName, imageId], SHORT_TIMEOUT_MS);
    }
    await buildah(
      ['manifest', 'push', '--all', ...registryArgs(reg), listName, `docker://${reference}`],
      PUSH_TIMEOUT_MS,
    );
    return reference;
  } finally {
    // Best effort: a leftover local image must not hide the real error.
    if (listCreated) await buildah(['manifest', 'rm', listName], SHORT_TIMEOUT_MS).catch(() => undefined);
    if (images.length > 0) await buildah(['rmi', ...images], SHORT_TIMEOUT_MS).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}
