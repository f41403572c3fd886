/**
 * Smoke test of the e2e harness: a TLS + htpasswd registry on loopback, a multi-arch busybox base
 * image pushed to it, and foreign-arch (QEMU) RUN steps building FROM that base.
 *
 * Run: npx vitest run --project e2e test/e2e/harness.test.ts
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { describeFailure, execProcess } from '../../src/process/exec.js';
import {
  BUILDAH_BUILD_ARGS,
  createBuildahStore,
  publishBaseImage,
  registryArgs,
  type BuildahStore,
} from './harness/base-images.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import {
  accessLogAfter,
  markAccessLog,
  probeV2,
  startRegistry,
  type TestRegistry,
} from './harness/registry.js';

const TIMEOUT_MS = 5 * 60_000;

async function skopeo(args: string[]): Promise<string> {
  const result = await execProcess('skopeo', args, { timeoutMs: TIMEOUT_MS });
  if (result.exitCode !== 0 || result.failure) throw new Error(describeFailure('skopeo', result));
  return result.stdout;
}

interface IndexJson {
  mediaType?: string;
  manifests?: { digest: string; platform?: { os?: string; architecture?: string } }[];
}

describe('e2e harness', () => {
  let reg: TestRegistry | undefined;
  let baseRef = '';
  let store: BuildahStore | undefined;
  let work = '';

  const registry = (): TestRegistry => {
    if (!reg) throw new Error('registry not started');
    return reg;
  };

  beforeAll(async () => {
    await ensureHostTools();
    await ensureBinfmt();
    reg = await startRegistry();
    work = await mkdtemp(path.join(os.tmpdir(), 'edgeship-harness-test-'));
  });

  afterAll(async () => {
    await store?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
    await reg?.stop();
  });

  it('serves /v2/ over TLS only to authenticated clients', async () => {
    const anonymous = await probeV2(registry(), false);
    expect(anonymous.status).toBe(401);
    expect(String(anonymous.headers['www-authenticate'])).toMatch(/^Basic /);
    const authenticated = await probeV2(registry(), true);
    expect(authenticated.status).toBe(200);
    expect(registry().host).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('lists in its access log every request after a marker (what the bench counts), 401s included', async () => {
    const marker = await markAccessLog(registry());
    await probeV2(registry(), false);
    await probeV2(registry(), true);
    let logged = accessLogAfter(registry().logs(), marker);
    for (let i = 0; i < 20 && logged.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      logged = accessLogAfter(registry().logs(), marker);
    }
    expect(logged).toEqual([
      { method: 'GET', uri: '/v2/', status: 401 },
      { method: 'GET', uri: '/v2/', status: 200 },
    ]);
    expect(() => accessLogAfter(registry().logs(), '/v2/never-requested/tags/list')).toThrow(/no line/);
  });

  it('publishes a multi-arch busybox base image as an index', async () => {
    const started = Date.now();
    baseRef = await publishBaseImage(registry());
    console.log(`publishBaseImage: ${Date.now() - started} ms`);
    expect(baseRef).toBe(`${registry().host}/base/busybox:1`);

    const raw = JSON.parse(
      await skopeo(['inspect', '--raw', ...registryArgs(registry()), `docker://${baseRef}`]),
    ) as IndexJson;
    expect([
      'application/vnd.oci.image.index.v1+json',
      'application/vnd.docker.distribution.manifest.list.v2+json',
    ]).toContain(raw.mediaType);
    const platforms = (raw.manifests ?? []).map((m) => `${m.platform?.os}/${m.platform?.architecture}`);
    expect(platforms.sort()).toEqual(['linux/amd64', 'linux/arm64']);

    const arm64 = JSON.parse(
      await skopeo([
        'inspect',
        '--override-os',
        'linux',
        '--override-arch',
        'arm64',
        ...registryArgs(registry()),
        `docker://${baseRef}`,
      ]),
    ) as { Architecture?: string; Os?: string };
    expect(arm64.Architecture).toBe('arm64');
    expect(arm64.Os).toBe('linux');
  });

  it.each(['arm64', 'amd64'])('runs a linux/%s RUN step FROM the pushed base', async (arch) => {
    expect(baseRef, 'base image must be published first').not.toBe('');
    store ??= await createBuildahStore();
    const context = path.join(work, `ctx-${arch}`);
    const out = path.join(work, `out-${arch}`);
    await rm(context, { recursive: true, force: true });
    await mkdir(context, { recursive: true });
    await writeFile(path.join(context, 'Containerfile'), `FROM ${baseRef}\nRUN uname -m > /arch\n`);
    const started = Date.now();
    const result = await execProcess(
      'buildah',
      [
        ...store.args,
        'build',
        ...BUILDAH_BUILD_ARGS,
        '--platform',
        `linux/${arch}`,
        ...registryArgs(registry()),
        '--output',
        `type=local,dest=${out}`,
        '--file',
        path.join(context, 'Containerfile'),
        context,
      ],
      { timeoutMs: TIMEOUT_MS },
    );
    console.log(`buildah build linux/${arch}: ${Date.now() - started} ms`);
    expect(result.exitCode, describeFailure('buildah', result)).toBe(0);
    expect((await readFile(path.join(out, 'arch'), 'utf8')).trim()).toBe(
      arch === 'arm64' ? 'aarch64' : 'x86_64',
    );
  });
});
