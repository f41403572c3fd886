import { describe, expect, it } from 'vitest';
import {
  formatPlatform,
  nativeArchitecture,
  parsePlatform,
  platformSlug,
  qemuArchitecture,
  runsNatively,
  samePlatform,
  splitList,
} from '../../../src/image/platform.js';

describe('parsePlatform', () => {
  it.each([
    ['linux/amd64', 'linux/amd64'],
    ['linux/arm64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm/v7', 'linux/arm/v7'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['LINUX/AMD64', 'linux/amd64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/riscv64', 'linux/riscv64'],
    [' linux/s390x ', 'linux/s390x'],
    ['linux/amd64/v3', 'linux/amd64/v3'],
  ])('%s → %s', (raw, expected) => {
    expect(formatPlatform(parsePlatform(raw))).toBe(expected);
  });

  it.each([
    ['amd64', /not of the form os\/arch/],
    ['linux', /not of the form/],
    ['linux/', /not of the form/],
    ['linux/amd64/v3/x', /not of the form/],
    ['linux/arm65', /unknown architecture "arm65"/],
    ['plan9/amd64', /unknown operating system "plan9"/],
    ['linux/arm/v9', /unknown variant "v9" for arm; allowed variants: v5, v6, v7/],
    ['linux/s390x/v1', /allowed variants: none/],
  ])('rejects %s', (raw, message) => {
    expect(() => parsePlatform(raw)).toThrow(message);
  });
});

describe('platform helpers', () => {
  it('splits comma and newline lists, dropping blanks and comments', () => {
    expect(splitList('linux/amd64,\n linux/arm64 # pi\n\n# comment\nlinux/arm/v7')).toEqual([
      'linux/amd64',
      'linux/arm64',
      'linux/arm/v7',
    ]);
  });

  it('derives slugs and qemu names', () => {
    expect(platformSlug(parsePlatform('linux/arm/v7'))).toBe('linux-arm-v7');
    expect(qemuArchitecture(parsePlatform('linux/arm64'))).toBe('aarch64');
    expect(qemuArchitecture(parsePlatform('linux/arm/v7'))).toBe('arm');
  });

  it('knows what a runner runs natively', () => {
    expect(nativeArchitecture('x64')).toBe('amd64');
    expect(nativeArchitecture('arm64')).toBe('arm64');
    expect(runsNatively(parsePlatform('linux/amd64'), 'amd64')).toBe(true);
    expect(runsNatively(parsePlatform('linux/386'), 'amd64')).toBe(true);
    expect(runsNatively(parsePlatform('linux/arm64'), 'amd64')).toBe(false);
    expect(runsNatively(parsePlatform('linux/arm64'), 'arm64')).toBe(true);
    expect(runsNatively(parsePlatform('linux/amd64'), undefined)).toBe(false);
  });

  it('treats arm64 and arm64/v8 as the same platform', () => {
    expect(
      samePlatform({ os: 'linux', architecture: 'arm64', variant: 'v8' }, parsePlatform('linux/arm64')),
    ).toBe(true);
    expect(samePlatform(parsePlatform('linux/arm/v6'), parsePlatform('linux/arm/v7'))).toBe(false);
  });
});
