/**
 * QEMU emulation for platforms the runner cannot run natively: binfmt_misc entries of the host's
 * qemu-user-static (buildah runs RUN steps on the host kernel), or the tonistiigi/binfmt container
 * (for buildx). Parsers and argv are pure; `ensureHostEmulation` and `installDockerBinfmt` run the tools.
 */
import type { Exec } from '../process/exec.js';
import { describeFailure } from '../process/exec.js';
import type { Platform } from '../image/platform.js';
import { formatPlatform, qemuArchitecture, runsNatively } from '../image/platform.js';

export const BINFMT_MISC_DIR = '/proc/sys/fs/binfmt_misc';

/** The `qemu` input: emulate platforms the runner cannot run (`auto`), all of them, or none. */
export type QemuMode = 'auto' | 'always' | 'off';

/** Platforms that need emulation on a runner whose native architecture is `hostArch`. */
export function platformsNeedingEmulation(
  platforms: readonly Platform[],
  hostArch: string | undefined,
  mode: QemuMode,
): Platform[] {
  if (mode === 'off') return [];
  if (mode === 'always') return platforms.filter((p) => p.os === 'linux');
  return platforms.filter((p) => p.os === 'linux' && !runsNatively(p, hostArch));
}

/** The binfmt_misc entry qemu-user-static registers for a platform, e.g. `qemu-aarch64`. */
export function binfmtEntryName(p: Platform): string {
  return `qemu-${qemuArchitecture(p)}`;
}

/** Reads `/proc/sys/fs/binfmt_misc/<entry>`: first line is `enabled` or `disabled`. */
export function parseBinfmtEntry(text: string): { enabled: boolean; interpreter?: string } {
  const lines = text.split('\n');
  const enabled = lines[0]?.trim() === 'enabled';
  const interpreter = lines
    .find((l) => l.startsWith('interpreter '))
    ?.slice('interpreter '.length)
    .trim();
  return interpreter ? { enabled, interpreter } : { enabled };
}

export interface HostEmulationDeps {
  exec: Exec;
  /** Returns a file's text, or undefined when it does not exist. */
  readText: (file: string) => string | undefined;
  log: (line: string) => void;
}

export class EmulationError extends Error {
  override name = 'EmulationError';
}

/**
 * Makes `platforms` runnable on this host through qemu-user-static and binfmt_misc (for buildah,
 * which runs RUN steps on the host kernel). Mounts binfmt_misc when needed and enables the entries.
 */
export async function ensureHostEmulation(
  platforms: readonly Platform[],
  deps: HostEmulationDeps,
): Promise<string[]> {
  if (platforms.length === 0) return [];
  if (deps.readText(`${BINFMT_MISC_DIR}/status`) === undefined) {
    deps.log(`mounting binfmt_misc at ${BINFMT_MISC_DIR}`);
    const mounted = await deps.exec('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT_MISC_DIR]);
    if (mounted.exitCode !== 0) {
      throw new EmulationError(
        `binfmt_misc is not mounted and mounting it failed (${describeFailure('mount', mounted)}). ` +
          `Run as root, mount it once on the host, or build ${platforms.map(formatPlatform).join(', ')} on native runners.`,
      );
    }
  }
  const enabled: string[] = [];
  for (const platform of platforms) {
    const entry = binfmtEntryName(platform);
    const file = `${BINFMT_MISC_DIR}/${entry}`;
    let state = deps.readText(file);
    if (state === undefined || !parseBinfmtEntry(state).enabled) {
      deps.log(`enabling ${entry} with update-binfmts`);
      const result = await deps.exec('update-binfmts', ['--enable', entry]);
      state = deps.readText(file);
      if (state === undefined || !parseBinfmtEntry(state).enabled) {
        const why = result.exitCode !== 0 ? ` (${describeFailure('update-binfmts', result)})` : '';
        throw new EmulationError(
          `QEMU emulation for ${formatPlatform(platform)} is not available on this host${why}. ` +
            'Install qemu-user-static and binfmt-support (apt-get install qemu-user-static binfmt-support), ' +
            'run this platform on a native runner, or set qemu: off if the Dockerfile has no RUN steps.',
        );
      }
    }
    enabled.push(entry);
  }
  return enabled;
}

/** Architectures to pass to tonistiigi/binfmt `--install` (it uses OCI names such as arm64, arm). */
export function binfmtArchitectures(platforms: readonly Platform[]): string[] {
  return [...new Set(platforms.map((p) => p.architecture))];
}

/** `docker run` of tonistiigi/binfmt installing QEMU handlers for `architectures`. */
export function binfmtInstallArgs(binfmtImage: string, architectures: readonly string[]): string[] {
  return ['run', '--privileged', '--rm', binfmtImage, '--install', architectures.join(',')];
}

/** Installs QEMU handlers through Docker with the tonistiigi/binfmt image (what setup-qemu-action does). */
export async function installDockerBinfmt(
  exec: Exec,
  binfmtImage: string,
  platforms: readonly Platform[],
): Promise<void> {
  if (platforms.length === 0) return;
  const result = await exec('docker', binfmtInstallArgs(binfmtImage, binfmtArchitectures(platforms)));
  if (result.exitCode !== 0) {
    throw new EmulationError(
      `installing QEMU handlers with ${binfmtImage} failed: ${describeFailure('docker', result)}. ` +
        'The runner needs a Docker engine that may run privileged containers, or use native runners for these platforms.',
    );
  }
}
