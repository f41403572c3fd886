/**
 * Debian packages for end-to-end tests, fetched with a private apt configuration (`apt-get download`, never
 * installed) into a cache folder that stays on the machine, keyed by the package sets, and unpacked with
 * `dpkg-deb -x` into a folder of the caller's. Nothing in the system's apt or dpkg state changes.
 *
 * Used for the Docker Engine 26 of the buildx tests (Debian 13 with Debian 12's runc) and for the real verifiers
 * and loaders (cosign 2.5, oras 1.2, skopeo 1.18, containerd) from Debian 13.
 */
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { describeFailure, execProcess } from '../../../src/process/exec.js';

/** The machine-wide cache of downloaded `.deb` files (it survives test runs). */
export const DEBIAN_CACHE_ROOT = '/var/cache/edgeship-ci/debian13';

/** Packages from one Debian suite (`trixie` = Debian 13, `bookworm` = Debian 12). */
export interface PackageSet {
  suite: 'trixie' | 'bookworm';
  packages: readonly string[];
}

const APT_TIMEOUT_MS = 5 * 60_000;
export const SHORT_TIMEOUT_MS = 60_000;

/** The cache folder for some package sets: the key changes when the sets do. */
export function debianCacheDir(sets: readonly PackageSet[]): string {
  const key = createHash('sha256').update(JSON.stringify(sets)).digest('hex').slice(0, 16);
  return path.join(DEBIAN_CACHE_ROOT, key);
}

export async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** apt-get options that use only private lists, caches and sources (never the system's state). */
function aptOptions(aptDir: string): string[] {
  const set = (key: string, value: string) => ['-o', `${key}=${value}`];
  return [
    ...set('Dir::Etc::SourceList', path.join(aptDir, 'sources.list')),
    ...set('Dir::Etc::SourceParts', '/dev/null'),
    ...set('Dir::Etc::Preferences', '/dev/null'),
    ...set('Dir::Etc::PreferencesParts', '/dev/null'),
    ...set('Dir::State::Lists', path.join(aptDir, 'lists')),
    ...set('Dir::State::status', '/dev/null'),
    ...set('Dir::Cache', path.join(aptDir, 'cache')),
    ...set('APT::Sandbox::User', 'root'),
    '-q',
  ];
}

async function apt(aptDir: string, args: string[], cwd?: string): Promise<void> {
  const result = await execProcess('apt-get', [...aptOptions(aptDir), ...args], {
    env: { DEBIAN_FRONTEND: 'noninteractive' },
    timeoutMs: APT_TIMEOUT_MS,
    ...(cwd ? { cwd } : {}),
  });
  if (result.exitCode !== 0 || result.failure) {
    throw new Error(`apt-get ${args.join(' ')} failed: ${describeFailure('apt-get', result)}`);
  }
}

/**
 * Returns the `.deb` files of the package sets, downloading them once into the cache (a `complete` marker is
 * written last, so an interrupted download is redone).
 */
export async function fetchDebianPackages(sets: readonly PackageSet[]): Promise<string[]> {
  const cache = debianCacheDir(sets);
  const debs = path.join(cache, 'debs');
  const marker = path.join(cache, 'complete');
  if (!(await exists(marker))) {
    await mkdir(cache, { recursive: true });
    // A folder of this run's own, renamed into place when complete (another run may fetch at once).
    const partial = await mkdtemp(path.join(cache, 'debs.partial-'));
    try {
      for (const { suite, packages } of sets) {
        const aptDir = path.join(cache, 'apt', suite);
        await mkdir(path.join(aptDir, 'lists', 'partial'), { recursive: true });
        await mkdir(path.join(aptDir, 'cache', 'archives', 'partial'), { recursive: true });
        await writeFile(
          path.join(aptDir, 'sources.list'),
          `deb http://deb.debian.org/debian ${suite} main\n`,
        );
        await apt(aptDir, ['update']);
        await apt(aptDir, ['download', ...packages], partial);
      }
      if (!(await exists(marker))) {
        await rm(debs, { recursive: true, force: true });
        await rename(partial, debs);
        await writeFile(marker, `${new Date().toISOString()}\n`);
      }
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  }
  const files = (await readdir(debs)).filter((f) => f.endsWith('.deb')).sort();
  const wanted = sets.flatMap((s) => s.packages);
  const missing = wanted.filter((p) => !files.some((f) => f.startsWith(`${p.replace(/:.*$/, '')}_`)));
  if (missing.length > 0) {
    throw new Error(`${debs} lacks ${missing.join(', ')}: remove ${marker} to download again`);
  }
  return files.map((f) => path.join(debs, f));
}

/** Unpacks `.deb` files into `root` with `dpkg-deb -x` (no maintainer scripts, no dpkg database). */
export async function unpackDebs(debs: readonly string[], root: string): Promise<void> {
  await mkdir(root, { recursive: true });
  for (const deb of debs) {
    const result = await execProcess('dpkg-deb', ['-x', deb, root], { timeoutMs: SHORT_TIMEOUT_MS });
    if (result.exitCode !== 0 || result.failure) {
      throw new Error(`unpacking ${deb} failed: ${describeFailure('dpkg-deb', result)}`);
    }
  }
}

/** Fetches (once) and unpacks the package sets into `root`; returns `root`. */
export async function debianRoot(sets: readonly PackageSet[], root: string): Promise<string> {
  await unpackDebs(await fetchDebianPackages(sets), root);
  return root;
}
