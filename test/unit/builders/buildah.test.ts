import { describe, expect, it } from 'vitest';
import { builderErrorLine, failIfNonZero } from '../../../src/builders/builder.js';
import {
  buildahBuildArgs,
  buildahPushToLayoutArgs,
  buildahRemoveImagesArgs,
  parseBuildahVersion,
  parseDigestFile,
} from '../../../src/builders/buildah.js';

describe('buildah argv', () => {
  it('builds in docker format (keeps HEALTHCHECK) with registry access flags', () => {
    expect(
      buildahBuildArgs({
        platform: 'linux/arm64',
        localName: 'localhost/edgeship-1:linux-arm64',
        context: '/w',
        file: '/w/Containerfile',
        buildArgs: [['A', 'b=c']],
        labels: { l: 'v' },
        cacheFrom: [],
        cacheTo: [],
        registryAccess: { authFile: '/t/auth.json', certDir: '/t/certs', tlsVerify: true },
      }),
    ).toEqual([
      'build',
      '--platform',
      'linux/arm64',
      '--format',
      'docker',
      '--file',
      '/w/Containerfile',
      '--tag',
      'localhost/edgeship-1:linux-arm64',
      '--authfile',
      '/t/auth.json',
      '--cert-dir',
      '/t/certs',
      '--build-arg',
      'A=b=c',
      '--label',
      'l=v',
      '/w',
    ]);
  });

  it('adds --layers with cache options, --tls-verify=false for insecure registries, and the target', () => {
    const args = buildahBuildArgs({
      platform: 'linux/amd64',
      localName: 'x',
      context: '.',
      file: 'Dockerfile',
      buildArgs: [],
      labels: {},
      cacheFrom: ['reg.lan/cache'],
      cacheTo: ['reg.lan/cache'],
      target: 'final',
      registryAccess: { tlsVerify: false },
      timestamp: 1700000000,
    });
    expect(args).toEqual([
      'build',
      '--platform',
      'linux/amd64',
      '--format',
      'docker',
      '--file',
      'Dockerfile',
      '--tag',
      'x',
      '--tls-verify=false',
      '--timestamp',
      '1700000000',
      '--layers',
      '--cache-from',
      'reg.lan/cache',
      '--cache-to',
      'reg.lan/cache',
      '--target',
      'final',
      '.',
    ]);
  });

  it('exports to an OCI layout keeping the v2s2 manifest and writing the digest file', () => {
    expect(
      buildahPushToLayoutArgs('localhost/x:linux-arm64', '/t/layout', 'linux-arm64', '/t/digest'),
    ).toEqual([
      'push',
      '--format',
      'v2s2',
      '--digestfile',
      '/t/digest',
      'localhost/x:linux-arm64',
      'oci:/t/layout:linux-arm64',
    ]);
    expect(buildahRemoveImagesArgs(['a', 'b'])).toEqual(['rmi', '--force', 'a', 'b']);
  });

  it('reads the version', () => {
    expect(parseBuildahVersion('buildah version 1.28.2 (image-spec 1.0.2-dev, runtime-spec 1.0.2-dev)')).toBe(
      '1.28.2',
    );
    expect(parseBuildahVersion('garbage')).toBeUndefined();
  });

  it('reads the digest file buildah push writes', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    expect(parseDigestFile(`${digest}\n`)).toBe(digest);
    expect(parseDigestFile(undefined)).toBeUndefined();
    expect(parseDigestFile('sha256:abc')).toBeUndefined();
  });
});

describe('builder errors', () => {
  it('put the builder’s own error line first, then the log', () => {
    const stderr = [
      'STEP 1/3: FROM registry.lan/base@sha256:1234',
      'Getting image source signatures',
      'Copying blob 4f4fb700ef54 done',
      'STEP 3/3: RUNN echo',
      'time="2026-12-01T15:30:50Z" level=error msg="+(UNHANDLED LOGLEVEL) ..."',
      'Error: building at STEP "RUNN ": Build error: Unknown instruction: "RUNN"',
    ].join('\n');
    expect(builderErrorLine(stderr)).toBe(
      'Error: building at STEP "RUNN ": Build error: Unknown instruction: "RUNN"',
    );
    expect(
      builderErrorLine(
        '#12 ERROR: failed to solve: exit code 2\nERROR: failed to solve: process "/bin/sh -c exit 2"',
      ),
    ).toBe('ERROR: failed to solve: process "/bin/sh -c exit 2"');
    expect(builderErrorLine('nothing to see')).toBeUndefined();
    let message = '';
    try {
      failIfNonZero('building linux/arm64 with buildah', 'buildah', { exitCode: 125, stdout: '', stderr });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('\n').slice(0, 2)).toEqual([
      'building linux/arm64 with buildah failed: Error: building at STEP "RUNN ": Build error: Unknown instruction: "RUNN"',
      'buildah exited with code 125:',
    ]);
  });
});
