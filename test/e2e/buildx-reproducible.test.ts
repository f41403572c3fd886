import { copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildxBuildArgs } from '../../src/builders/buildx.js';
import { describeFailure, execProcess } from '../../src/process/exec.js';
import { startDockerEngine } from './harness/docker-engine.js';
import type { DockerEngine } from './harness/docker-engine.js';
import { ensureHostTools, HOST_BUSYBOX } from './harness/host-tools.js';

/**
 * Issue 11, "two builds of one commit give the same platform digests", for the buildx builder: the
 * real `docker buildx build` (Docker Engine 26 from Debian 13, containerd image store, buildx 0.13 with
 * the `docker` driver) runs the argv Edgeship builds (`buildxBuildArgs`, with `sourceDateEpoch`, so
 * `--build-arg SOURCE_DATE_EPOCH=…` and `rewrite-timestamp=true`). Only the `--output` value is
 * replaced: the `docker` driver refuses push-by-digest, so the image is exported to a local OCI
 * archive (`type=oci,dest=<file>,rewrite-timestamp=true`); every other argument is exactly Edgeship's.
 *
 * The Dockerfile has COPY and one RUN. The RUN runs the host's static amd64 busybox (also for
 * linux/arm64: the kernel runs it natively), with `--network=none` in the Dockerfile since the
 * engine has no bridge network. BuildKit's cache is pruned before every build.
 */
const PLATFORMS = ['linux/amd64', 'linux/arm64'] as const;
const EPOCH = 1_764_000_000;
const OTHER_EPOCH = EPOCH + 86_400;

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
COPY hello.txt /hello.txt
RUN --network=none ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /out && /bin/busybox cp /hello.txt /out/copy.txt"]
`;

describe('buildx reproducible builds (real Docker Engine 26 + buildx 0.13)', () => {
  let engine: DockerEngine | undefined;
  let work: string;
  let context: string;

  beforeAll(async () => {
    await ensureHostTools();
    work = await mkdtemp(path.join(os.tmpdir(), 'es-buildx-repro-'));
    context = path.join(work, 'context');
    await mkdir(context);
    await writeFile(path.join(context, 'Dockerfile'), DOCKERFILE);
    await writeFile(path.join(context, 'hello.txt'), 'hello from edgeship\n');
    await copyFile(HOST_BUSYBOX, path.join(context, 'busybox'));
    engine = await startDockerEngine();
  });

  afterAll(async () => {
    await engine?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const docker = async (args: string[]) => {
    const result = await execProcess(engine!.docker, args, { env: engine!.env, timeoutMs: 300_000 });
    if (result.exitCode !== 0 || result.failure) {
      throw new Error(
        `docker ${args.slice(0, 2).join(' ')} failed: ${describeFailure('docker', result, 40)}\n` +
          `dockerd:\n${engine!.logs().split('\n').slice(-20).join('\n')}`,
      );
    }
    return result.stdout;
  };

  /** Edgeship's argv for one platform, with only the --output value replaced by a local OCI export. */
  const argv = (platform: string, epoch: number, dest: string, metadataFile: string) => {
    const args = buildxBuildArgs({
      builder: 'default',
      platform,
      imageName: '127.0.0.1:5000/acme/agent',
      context,
      file: path.join(context, 'Dockerfile'),
      metadataFile,
      buildArgs: [['GREETING', 'hello']],
      labels: { 'org.opencontainers.image.revision': '0123456789abcdef0123456789abcdef01234567' },
      annotations: { 'org.opencontainers.image.source': 'https://github.com/acme/agent' },
      cacheFrom: [],
      cacheTo: [],
      sourceDateEpoch: epoch,
    });
    const output = args.indexOf('--output');
    expect(args[output + 1]).toContain('rewrite-timestamp=true');
    expect(args).toContain(`SOURCE_DATE_EPOCH=${epoch}`);
    args[output + 1] = `type=oci,dest=${dest},rewrite-timestamp=true`;
    return args;
  };

  /** One build of every platform (separate invocations, cache pruned first): platform → manifest digest. */
  const buildAll = async (label: string, epoch: number) => {
    const digests: Record<string, string> = {};
    for (const platform of PLATFORMS) {
      await docker(['buildx', 'prune', '--all', '--force']);
      // Fresh mtimes on the context: rewrite-timestamp must hide them.
      const now = new Date();
      for (const f of ['Dockerfile', 'hello.txt', 'busybox']) await utimes(path.join(context, f), now, now);
      const slug = `${label}-${platform.replace('/', '-')}`;
      const dest = path.join(work, `${slug}.tar`);
      await docker(argv(platform, epoch, dest, path.join(work, `${slug}.json`)));
      const listed = await execProcess('tar', ['-xOf', dest, 'index.json'], { timeoutMs: 60_000 });
      if (listed.exitCode !== 0) throw new Error(describeFailure('tar', listed));
      const index = JSON.parse(listed.stdout) as { manifests: Array<{ digest: string; mediaType: string }> };
      expect(index.manifests).toHaveLength(1);
      expect(index.manifests[0]!.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
      const digest = index.manifests[0]!.digest;
      // COPY, COPY and RUN: three layers, so the RUN step really ran and is part of the digest.
      const blob = `blobs/sha256/${digest.slice('sha256:'.length)}`;
      const manifest = await execProcess('tar', ['-xOf', dest, blob], { timeoutMs: 60_000 });
      if (manifest.exitCode !== 0) throw new Error(describeFailure('tar', manifest));
      expect((JSON.parse(manifest.stdout) as { layers: unknown[] }).layers).toHaveLength(3);
      digests[platform] = digest;
    }
    return digests;
  };

  it('gives equal platform digests for two builds of one context, and others for another SOURCE_DATE_EPOCH', async () => {
    // The builder is the engine's own (`docker` driver), with the containerd image store.
    expect(await docker(['buildx', 'inspect', 'default'])).toMatch(/Driver:\s+docker\n/);
    expect(await docker(['info', '--format', '{{.Driver}}'])).toBe('overlayfs');
    const first = await buildAll('first', EPOCH);
    const second = await buildAll('second', EPOCH);
    const other = await buildAll('other', OTHER_EPOCH);
    console.log(JSON.stringify({ first, second, other }, null, 2));
    for (const platform of PLATFORMS) expect(first[platform]).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(first['linux/amd64']).not.toBe(first['linux/arm64']);
    expect(second).toEqual(first);
    for (const platform of PLATFORMS) expect(other[platform]).not.toBe(first[platform]);
  });
});
