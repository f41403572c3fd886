/**
 * A BuildKit image assembled here, for the `docker-container` builder Edgeship creates (`buildkit-image`): no
 * registry on the internet is reachable, so `moby/buildkit` cannot be pulled. It is FROM scratch with `buildkitd` and
 * `buildctl` built from BuildKit's Go module at a pinned version, Debian 12's `runc` with the libraries it links
 * (libseccomp, glibc; `runc` is dynamic), and `buildkitd` as entrypoint, as in BuildKit's own image (buildx runs
 * `buildctl dial-stdio` and `buildctl debug workers` inside the container, so both are on PATH).
 *
 * The binaries come from the shared Go-tools cache (./go-tools.ts, which `.ci/run` fills before the tests): only the
 * first run on a machine compiles (about 7 minutes).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { describeFailure, execProcess, type ExecOptions } from '../../../src/process/exec.js';
import { buildah, registryArgs } from './base-images.js';
import { fetchDebianPackages, type PackageSet, unpackDebs } from './debian-packages.js';
import { BUILDKIT_VERSION, ensureGoTool } from './go-tools.js';
import type { TestRegistry } from './registry.js';

/** runc and what it links, from Debian 12 (Debian 13's runc needs a newer glibc than this machine's). */
const RUNC_PACKAGES: readonly PackageSet[] = [
  { suite: 'bookworm', packages: ['runc', 'libseccomp2', 'libc6'] },
];

async function run(file: string, args: readonly string[], options: ExecOptions = {}): Promise<string> {
  const result = await execProcess(file, args, { timeoutMs: 120_000, ...options });
  if (result.exitCode !== 0 || result.failure) {
    throw new Error(`${file} ${args.join(' ')} failed: ${describeFailure(file, result, 30)}`);
  }
  return result.stdout;
}

/** `buildkitd` and `buildctl` at BUILDKIT_VERSION, from the shared Go-tools cache (built there once per version). */
export async function buildkitBinaries(): Promise<{ buildkitd: string; buildctl: string }> {
  const buildkitd = await ensureGoTool('buildkitd');
  const buildctl = await ensureGoTool('buildctl');
  return { buildkitd: buildkitd.path, buildctl: buildctl.path };
}

const CONTAINERFILE = `FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin
VOLUME /var/lib/buildkit
ENTRYPOINT ["buildkitd"]
`;

/**
 * Assembles the BuildKit image (linux/amd64) and pushes it to `<registry>/tools/buildkit:v<version>`; returns the
 * reference pinned by digest, as `buildkit-image` takes it.
 */
export async function publishBuildkitImage(reg: TestRegistry): Promise<string> {
  const { buildkitd, buildctl } = await buildkitBinaries();
  const work = await mkdtemp(path.join(os.tmpdir(), 'es-buildkit-image-'));
  try {
    const rootfs = path.join(work, 'rootfs');
    await unpackDebs(await fetchDebianPackages(RUNC_PACKAGES), rootfs);
    // Only what runc needs of the packages: drop docs and locales.
    await rm(path.join(rootfs, 'usr', 'share'), { recursive: true, force: true });
    for (const dir of ['usr/bin', 'etc/buildkit', 'var/lib/buildkit', 'run/buildkit', 'tmp']) {
      await mkdir(path.join(rootfs, dir), { recursive: true });
    }
    await chmod(path.join(rootfs, 'tmp'), 0o1777);
    await run('cp', [buildkitd, path.join(rootfs, 'usr', 'bin', 'buildkitd')]);
    await run('cp', [buildctl, path.join(rootfs, 'usr', 'bin', 'buildctl')]);
    // runc is dynamic: check that it starts with the libraries of the image alone.
    const runcVersion = await run('chroot', [rootfs, '/usr/sbin/runc', '--version']);
    if (!runcVersion.startsWith('runc version')) throw new Error(`runc in the image says: ${runcVersion}`);
    await writeFile(path.join(work, 'Containerfile'), CONTAINERFILE);
    const reference = `${reg.host}/tools/buildkit:v${BUILDKIT_VERSION}`;
    const digestFile = path.join(work, 'digest');
    const local = `localhost/edgeship-buildkit-${randomBytes(4).toString('hex')}`;
    await buildah([
      'build',
      '--layers=false',
      '--platform',
      'linux/amd64',
      '--tag',
      local,
      '--file',
      path.join(work, 'Containerfile'),
      work,
    ]);
    try {
      await buildah([
        'push',
        ...registryArgs(reg),
        '--digestfile',
        digestFile,
        local,
        `docker://${reference}`,
      ]);
    } finally {
      await buildah(['rmi', local]).catch(() => undefined);
    }
    return `${reference}@${(await readFile(digestFile, 'utf8')).trim()}`;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
