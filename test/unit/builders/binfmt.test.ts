import { describe, expect, it } from 'vitest';
import {
  binfmtArchitectures,
  binfmtEntryName,
  binfmtInstallArgs,
  ensureHostEmulation,
  installDockerBinfmt,
  parseBinfmtEntry,
  platformsNeedingEmulation,
} from '../../../src/builders/binfmt.js';
import { formatPlatform, parsePlatform } from '../../../src/image/platform.js';
import type { Exec, ExecResult } from '../../../src/process/exec.js';

const amd64 = parsePlatform('linux/amd64');
const arm64 = parsePlatform('linux/arm64');
const armv7 = parsePlatform('linux/arm/v7');

/** A fake host: a map of /proc files that `mount` and `update-binfmts` change like the real ones. */
function fakeHost(
  initial: Record<string, string>,
  opts: { updateWorks?: boolean; mountWorks?: boolean } = {},
) {
  const files = new Map(Object.entries(initial));
  const calls: string[] = [];
  const exec: Exec = async (file, args): Promise<ExecResult> => {
    calls.push([file, ...args].join(' '));
    if (file === 'mount') {
      if (opts.mountWorks === false) return { exitCode: 32, stdout: '', stderr: 'mount: permission denied' };
      files.set('/proc/sys/fs/binfmt_misc/status', 'enabled');
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    if (file === 'update-binfmts') {
      if (opts.updateWorks === false)
        return {
          exitCode: 2,
          stdout: '',
          stderr: 'update-binfmts: no executable /usr/bin/qemu-aarch64-static found',
        };
      files.set(
        `/proc/sys/fs/binfmt_misc/${args[1]}`,
        'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n',
      );
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    return { exitCode: 127, stdout: '', stderr: 'not found' };
  };
  return { files, calls, deps: { exec, readText: (f: string) => files.get(f), log: () => undefined } };
}

describe('emulation', () => {
  it('emulates only non-native platforms in auto mode', () => {
    expect(platformsNeedingEmulation([amd64, arm64], 'amd64', 'auto').map(formatPlatform)).toEqual([
      'linux/arm64',
    ]);
    expect(platformsNeedingEmulation([amd64, arm64], 'arm64', 'auto').map(formatPlatform)).toEqual([
      'linux/amd64',
    ]);
    expect(platformsNeedingEmulation([amd64, arm64], 'amd64', 'off')).toEqual([]);
    expect(platformsNeedingEmulation([amd64, arm64], 'amd64', 'always')).toHaveLength(2);
  });

  it('names binfmt entries the way qemu-user-static does', () => {
    expect(binfmtEntryName(arm64)).toBe('qemu-aarch64');
    expect(binfmtEntryName(armv7)).toBe('qemu-arm');
    expect(binfmtArchitectures([arm64, armv7, arm64])).toEqual(['arm64', 'arm']);
  });

  it('parses binfmt entries', () => {
    expect(parseBinfmtEntry('enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: F\n')).toEqual({
      enabled: true,
      interpreter: '/usr/bin/qemu-aarch64-static',
    });
    expect(parseBinfmtEntry('disabled\n').enabled).toBe(false);
  });

  it('mounts binfmt_misc and enables a missing entry', async () => {
    const host = fakeHost({});
    await expect(ensureHostEmulation([arm64], host.deps)).resolves.toEqual(['qemu-aarch64']);
    expect(host.calls).toEqual([
      'mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc',
      'update-binfmts --enable qemu-aarch64',
    ]);
  });

  it('leaves an enabled entry alone', async () => {
    const host = fakeHost({
      '/proc/sys/fs/binfmt_misc/status': 'enabled',
      '/proc/sys/fs/binfmt_misc/qemu-aarch64': 'enabled\n',
    });
    await ensureHostEmulation([arm64], host.deps);
    expect(host.calls).toEqual([]);
  });

  it('explains what to install when qemu is missing', async () => {
    const host = fakeHost({ '/proc/sys/fs/binfmt_misc/status': 'enabled' }, { updateWorks: false });
    await expect(ensureHostEmulation([arm64], host.deps)).rejects.toThrow(
      /QEMU emulation for linux\/arm64 is not available.*apt-get install qemu-user-static binfmt-support/s,
    );
  });

  it('explains a failed binfmt_misc mount', async () => {
    const host = fakeHost({}, { mountWorks: false });
    await expect(ensureHostEmulation([arm64], host.deps)).rejects.toThrow(
      /binfmt_misc is not mounted.*permission denied/s,
    );
  });

  it('runs the binfmt image privileged to install handlers', () => {
    expect(binfmtInstallArgs('tonistiigi/binfmt', ['arm64'])).toEqual([
      'run',
      '--privileged',
      '--rm',
      'tonistiigi/binfmt',
      '--install',
      'arm64',
    ]);
  });

  it('installs docker binfmt handlers for the emulated architectures only', async () => {
    const calls: string[][] = [];
    const exec: Exec = async (file, args) => {
      calls.push([file, ...args]);
      return { exitCode: 0, stdout: '', stderr: '' };
    };
    await installDockerBinfmt(exec, 'docker.io/tonistiigi/binfmt:latest', [arm64, armv7]);
    expect(calls).toEqual([
      [
        'docker',
        'run',
        '--privileged',
        '--rm',
        'docker.io/tonistiigi/binfmt:latest',
        '--install',
        'arm64,arm',
      ],
    ]);
  });
});
