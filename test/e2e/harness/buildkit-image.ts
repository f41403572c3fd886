/**
 * A BuildKit image assembled here, for the `docker-container` builder Edgeship creates (`buildkit-image`): no
 * registry on the internet is reachable, so `moby/buildkit` cannot be pulled. It is FROM scratch with `buildkitd` and
 * `buildctl` built from BuildKit's Go module at a pinned version, Debian 12's `runc` with the libraries it links
 * (libseccomp, glibc; `runc` is dynamic), and `buildkitd` as entrypoint, as in BuildKit's own image (buildx runs
 * `buildctl dial-stdio` and `buildctl debug workers` inside the container, so both are on PATH).
 *
 * The binaries are cached at /var/cache/edgeship-ci/go-tools/<tool>-<version>-<go version>-<arch>, the layout of
 * the shared Go-tools cache (go-tools.ts on the `scanners` branch; the lead unifies the two at merge): only the first
 * run on a machine compiles (about 7 minutes).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { describeFailure, execProcess, type ExecOptions } from '../../../src/process/exec.js';
import { buildah, registryArgs } from './base-images.js';
import { exists, fetchDebianPackages, type PackageSet, unpackDebs } from './debian-packages.js';
import type { TestRegistry } from './registry.js';

export const BUILDKIT_VERSION = '0.34.2';
export const GO_TOOLS_CACHE = '/var/cache/edgeship-ci/go-tools';
const BUILDKIT_MODULE = 'github.com/moby/buildkit';
/** runc and what it links, from Debian 12 (Debian 13's runc needs a newer glibc than this machine's). */
const RUNC_PACKAGES: readonly PackageSet[] = [
  { suite: 'bookworm', packages: ['runc', 'libseccomp2', 'libc6'] },
];
const COMPILE_TIMEOUT_MS = 45 * 60_000;

async function run(file: string, args: readonly string[], options: ExecOptions = {}): Promise<string> {
  const result = await execProcess(file, args, { timeoutMs: 120_000, ...options });
  if (result.exitCode !== 0 || result.failure) {
    throw new Error(`${file} ${args.join(' ')} failed: ${describeFailure(file, result, 30)}`);
  }
  return result.stdout;
}

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/**
 * `buildkitd` and `buildctl` at BUILDKIT_VERSION: from the cache, else `go install`ed from the module (CGO off,
 * the version stamped with -X as BuildKit's own Dockerfile does, buildkitd with its static/seccomp tags).
 */
export async function buildkitBinaries(): Promise<{ buildkitd: string; buildctl: string }> {
  const goVersion = (await run('go', ['env', 'GOVERSION'])).trim();
  const found: Record<string, string> = {};
  for (const tool of ['buildctl', 'buildkitd'] as const) {
    const cached = path.join(GO_TOOLS_CACHE, `${tool}-${BUILDKIT_VERSION}-${goVersion}-${goArch()}`);
    if (!(await exists(cached))) await goInstall(tool, cached);
    const version = await run(cached, ['--version']);
    if (!version.includes(`v${BUILDKIT_VERSION}`))
      throw new Error(
        `${cached} says "${version.trim()}", expected v${BUILDKIT_VERSION}: remove it to rebuild`,
      );
    found[tool] = cached;
  }
  return { buildkitd: found.buildkitd!, buildctl: found.buildctl! };
}

async function goInstall(tool: 'buildkitd' | 'buildctl', target: string): Promise<void> {
  const gobin = await mkdtemp(path.join(os.tmpdir(), 'es-gobin-'));
  try {
    const ldflags = [
      '-s',
      '-w',
      `-X ${BUILDKIT_MODULE}/version.Version=v${BUILDKIT_VERSION}`,
      `-X ${BUILDKIT_MODULE}/version.Package=${BUILDKIT_MODULE}`,
    ].join(' ');
    const tags = tool === 'buildkitd' ? ['-tags', 'osusergo netgo static_build seccomp'] : [];
    await run(
      'nice',
      [
        '-n',
        '10',
        'go',
        'install',
        '-trimpath',
        '-ldflags',
        ldflags,
        ...tags,
        `${BUILDKIT_MODULE}/cmd/${tool}@v${BUILDKIT_VERSION}`,
      ],
      { env: { GOBIN: gobin, CGO_ENABLED: '0', GOFLAGS: '-p=1' }, timeoutMs: COMPILE_TIMEOUT_MS },
    );
    await mkdir(GO_TOOLS_CACHE, { recursive: true });
    const partial = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    await run('cp', [path.join(gobin, tool), partial]);
    await chmod(partial, 0o755);
    await rename(partial, target);
  } finally {
    await rm(gobin, { recursive: true, force: true });
  }
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
