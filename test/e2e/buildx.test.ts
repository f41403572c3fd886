import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { describeFailure, execProcess } from '../../src/process/exec.js';
import { runBundled } from './harness/action-runner.js';
import type { ActionRun } from './harness/action-runner.js';
import { buildah, publishBaseImage, registryArgs } from './harness/base-images.js';
import { buildkitBinaries, publishBuildkitImage } from './harness/buildkit-image.js';
import { makeDebianBusyboxWorkspace } from './harness/debian-busybox.js';
import { exists } from './harness/debian-packages.js';
import { startDockerEngine } from './harness/docker-engine.js';
import type { DockerEngine } from './harness/docker-engine.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { findInImage } from './harness/image-contents.js';
import { startRegistry } from './harness/registry.js';
import type { TestRegistry } from './harness/registry.js';
import { realScannerTools, startRealScanners } from './harness/real-scanners.js';
import type { RealScanners } from './harness/real-scanners.js';
import { listTagsRaw, makeSampleWorkspace, readFileFromImage, skopeo } from './harness/workspace.js';

/**
 * The buildx builder for real: Docker Engine 26 (Debian 13, containerd image store) with buildx 0.13, started by the
 * test; the bundled dist/main.js and dist/post.js run as the runner runs them; the registry is checked with skopeo.
 *
 * - `buildx-builder: default` (the engine's `docker` driver, which refuses push-by-digest): every platform is
 *   exported as an OCI layout and uploaded by Edgeship's registry client.
 * - The default path: Edgeship creates its `docker-container` builder from `buildkit-image`, here a BuildKit image
 *   assembled from buildkitd/buildctl built from BuildKit's module (harness/buildkit-image.ts), then removes it in post.
 *
 * The engine trusts the registry's CA through /etc/docker/certs.d/<host>/ca.crt (the only place a root dockerd reads
 * registry CAs from; written for the test's registry port and removed afterwards). `binfmt-image` is a stand-in from
 * the test registry that checks the host's QEMU handler is registered (tonistiigi/binfmt cannot be pulled here). The
 * engine has no bridge network, so the Dockerfile's RUN steps say `--network=none`. The real Syft and Grype scan every
 * pushed image (harness/real-scanners.ts); the busybox in them belongs to Debian's package (harness/debian-busybox.ts),
 * so the gate passes.
 */
const SECRET = `edgeship-build-secret-${Math.random().toString(36).slice(2)}-value`;
const NOTE = 'from the extra build context';
const FIRST_BUILD_TIMEOUT_MS = 40 * 60_000;

const DOCKERFILE = `ARG BASE
FROM \${BASE}
RUN --network=none mkdir -p /opt/agent && uname -m > /opt/agent/arch
RUN --network=none --mount=type=secret,id=token,required=true wc -c < /run/secrets/token > /opt/agent/token-length
COPY --from=extra note.txt /opt/agent/note.txt
COPY agent.sh /opt/agent/agent.sh
USER 1000:1000
CMD ["/bin/sh", "/opt/agent/agent.sh"]
`;

/** Checks `/proc/sys/fs/binfmt_misc/qemu-aarch64` is enabled, as `tonistiigi/binfmt --install arm64` would leave it. */
const BINFMT_STANDIN = `#!/bin/sh
set -e
[ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64
echo "binfmt stand-in: qemu-aarch64 enabled for $*"
`;

const scannerTools = await realScannerTools('buildx e2e');

describe.skipIf('reason' in scannerTools)('buildx on a real Docker Engine 26', () => {
  let reg: TestRegistry;
  let scanners: RealScanners;
  let engine: DockerEngine;
  let base: string;
  let binfmtImage: string;
  let workspace: string;
  let extra: string;
  let records: string;
  let certsDir: string;
  let buildkitImage: Promise<string> | undefined;
  /** The BuildKit image, assembled and pushed once. */
  const buildkit = () => (buildkitImage ??= publishBuildkitImage(reg));

  const docker = async (args: string[], input?: string) => {
    const result = await execProcess(engine.docker, args, {
      env: engine.env,
      timeoutMs: 300_000,
      ...(input !== undefined ? { input } : {}),
    });
    if (result.exitCode !== 0 || result.failure) {
      throw new Error(
        `docker ${args.slice(0, 2).join(' ')} failed: ${describeFailure('docker', result, 30)}`,
      );
    }
    return result.stdout;
  };

  /** The engine's CLI first, then the real scanners. */
  const env = () => ({
    ...engine.env,
    PATH: `${path.dirname(engine.docker)}:${scanners.env.PATH}`,
  });

  const inputs = (repo: string, extraInputs: Record<string, string>) => ({
    image: `${reg.host}/${repo}`,
    builder: 'buildx',
    mode: 'build',
    'records-dir': records,
    'registry-username': reg.username,
    'registry-password': reg.password,
    'registry-ca-file': reg.caFile,
    'build-args': `BASE=${base}`,
    'binfmt-image': binfmtImage,
    secrets: `token=${SECRET}`,
    'build-contexts': `extra=${extra}`,
    'reports-dir': path.join(records, 'reports', repo),
    ...scanners.inputs,
    ...extraInputs,
  });

  beforeAll(async () => {
    await ensureHostTools();
    await ensureBinfmt();
    reg = await startRegistry();
    scanners = await startRealScanners(scannerTools);
    base = await publishBaseImage(reg);
    engine = await startDockerEngine();
    certsDir = path.join('/etc/docker/certs.d', reg.host);
    await mkdir(certsDir, { recursive: true });
    await copyFile(reg.caFile, path.join(certsDir, 'ca.crt'));

    // The binfmt stand-in, pulled into the engine beforehand (Edgeship runs it before it logs in).
    const standin = await mkdtemp(path.join(os.tmpdir(), 'es-binfmt-'));
    await writeFile(path.join(standin, 'install.sh'), BINFMT_STANDIN, { mode: 0o755 });
    await writeFile(
      path.join(standin, 'Containerfile'),
      `FROM ${base}\nCOPY install.sh /install.sh\nENTRYPOINT ["/bin/sh", "/install.sh"]\n`,
    );
    binfmtImage = `${reg.host}/tools/binfmt:stand-in`;
    await buildah([
      'build',
      ...registryArgs(reg),
      '--platform',
      'linux/amd64',
      '--tag',
      binfmtImage,
      standin,
    ]);
    await buildah(['push', ...registryArgs(reg), binfmtImage, `docker://${binfmtImage}`]);
    await buildah(['rmi', binfmtImage]);
    await rm(standin, { recursive: true, force: true });
    await docker(['login', '--username', reg.username, '--password-stdin', reg.host], reg.password);
    await docker(['pull', binfmtImage]);
    await docker(['logout', reg.host]);

    workspace = await makeDebianBusyboxWorkspace(DOCKERFILE);
    extra = await mkdtemp(path.join(os.tmpdir(), 'es-extra-context-'));
    await writeFile(path.join(extra, 'note.txt'), `${NOTE}\n`);
    records = await mkdtemp(path.join(os.tmpdir(), 'es-records-'));
  });

  afterAll(async () => {
    await engine?.stop();
    await reg?.stop();
    await scanners?.stop();
    if (certsDir) {
      await rm(certsDir, { recursive: true, force: true });
      await rmdir(path.dirname(certsDir)).catch(() => undefined); // only when no other registry's CA is left
    }
    for (const dir of [workspace, extra, records]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Every check the buildah e2e makes, plus the secret, the build context and the real scan. */
  const checkRelease = async (run: ActionRun, repo: string) => {
    expect(run.errors, run.stdout.slice(-4000)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.outputs.gate).toBe('pass');
    const digests = JSON.parse(run.outputs.digests ?? '[]') as Array<{ platform: string; digest: string }>;
    expect(digests.map((d) => d.platform)).toEqual(['linux/amd64', 'linux/arm64']);
    const image = `${reg.host}/${repo}`;
    for (const d of digests) {
      const ref = `${image}@${d.digest}`;
      const config = JSON.parse(await skopeo(reg, ['inspect', '--raw', '--config', `docker://${ref}`])) as {
        architecture: string;
        os: string;
        config: { User?: string; Labels?: Record<string, string> };
      };
      expect(`${config.os}/${config.architecture}`).toBe(d.platform);
      expect(config.config.User).toBe('1000:1000');
      expect(config.config.Labels?.['org.opencontainers.image.version']).toBe('1.2.3');
      const arch = await readFileFromImage(reg, ref, '/opt/agent/arch');
      expect(arch?.trim()).toBe(d.platform === 'linux/arm64' ? 'aarch64' : 'x86_64');
      // The secret was there for the RUN (its length was written), and is nowhere in the image.
      expect((await readFileFromImage(reg, ref, '/opt/agent/token-length'))?.trim()).toBe(
        String(SECRET.length),
      );
      expect((await readFileFromImage(reg, ref, '/opt/agent/note.txt'))?.trim()).toBe(NOTE);
      expect(await findInImage(reg, ref, SECRET)).toEqual([]);
      // Syft read this platform's image from the registry: the busybox it found is Debian's package.
      const slug = d.platform.replace('/', '-');
      const sbom = JSON.parse(
        await readFile(path.join(records, 'reports', repo, `sbom-${slug}.spdx.json`), 'utf8'),
      ) as { packages: Array<{ name: string }> };
      expect(sbom.packages.map((p) => p.name)).toContain('busybox-static');
    }
    expect(await listTagsRaw(reg, repo)).toEqual([]);
    // Nor in the log (the runner masks the ::add-mask:: values) or the build record.
    const log = `${run.stdout}\n${run.stderr}`
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n');
    expect(log).not.toContain(SECRET);
    for (const file of await readdir(records, { recursive: true }))
      expect(await readFile(path.join(records, file)).catch(() => Buffer.alloc(0))).not.toContain(SECRET);
    return digests;
  };

  it('buildx-builder: default (docker driver) exports OCI layouts that Edgeship uploads by digest', async () => {
    expect(await docker(['buildx', 'inspect', 'default'])).toMatch(/Driver:\s+docker\n/);
    const started = Date.now();
    const run = await runBundled('main', {
      workspace,
      inputs: inputs('acme/buildx-docker-driver', { 'buildx-builder': 'default', qemu: 'always' }),
      env: env(),
    });
    console.log(`docker driver, 2 platforms: ${Date.now() - started} ms`);
    expect(run.stdout).toContain('buildx builder default (driver docker)');
    expect(run.stdout).toContain(`installing QEMU for linux/amd64, linux/arm64 with ${binfmtImage}`);
    await checkRelease(run, 'acme/buildx-docker-driver');

    const post = await runBundled('post', { workspace, inputs: {}, state: run.state, env: env() });
    expect(post.exitCode).toBe(0);
    expect(post.stdout).toContain(`logged out of ${reg.host}`);
    expect(post.stdout).not.toContain('removed buildx builder');
    expect(await docker(['buildx', 'ls'])).toMatch(/^default\*?\s/m);
  });

  // The first run on a machine compiles buildkitd and buildctl (about 7 minutes).
  it(
    'the default path: a docker-container builder from buildkit-image pushes by digest, and post removes it',
    { timeout: FIRST_BUILD_TIMEOUT_MS },
    async () => {
      const started = Date.now();
      const run = await runBundled('main', {
        workspace,
        inputs: inputs('acme/buildx-container', { 'buildkit-image': await buildkit(), qemu: 'always' }),
        env: env(),
      });
      console.log(`docker-container driver, 2 platforms: ${Date.now() - started} ms`);
      const state = JSON.parse(run.state['edgeship-cleanup'] ?? '{}') as { buildxBuilder?: string };
      try {
        expect(run.stdout).toContain(`(driver docker-container)`);
        await checkRelease(run, 'acme/buildx-container');
      } finally {
        const post = await runBundled('post', { workspace, inputs: {}, state: run.state, env: env() });
        expect(post.exitCode).toBe(0);
        expect(post.stdout).toContain(`removed buildx builder ${state.buildxBuilder}`);
      }
      expect(await docker(['buildx', 'ls'])).not.toContain(state.buildxBuilder);
      expect(await docker(['ps', '--all', '--format', '{{.Names}}'])).not.toContain('buildx_buildkit_');
    },
  );
  it(
    'a failing RUN names the platform and the BuildKit error, and post still removes the builder',
    { timeout: FIRST_BUILD_TIMEOUT_MS },
    async () => {
      const broken = await makeSampleWorkspace(
        `ARG BASE\nFROM \${BASE}\nRUN --network=none echo "about to fail" && exit 3\n`,
      );
      try {
        const run = await runBundled('main', {
          workspace: broken,
          inputs: inputs('acme/buildx-broken', {
            'buildkit-image': await buildkit(),
            platforms: 'linux/amd64',
            qemu: 'off',
            secrets: '',
            'build-contexts': '',
          }),
          env: env(),
        });
        expect(run.exitCode).not.toBe(0);
        expect(run.errors.join('\n')).toMatch(
          /building linux\/amd64 with buildx failed: ERROR: .*exit code: 3\ndocker exited with code 1:\n/,
        );
        expect(run.errors.join('\n')).not.toMatch(/\n\s+at /);
        const post = await runBundled('post', {
          workspace: broken,
          inputs: {},
          state: run.state,
          env: env(),
        });
        expect(post.stdout).toMatch(/removed buildx builder edgeship-/);
        expect(await docker(['ps', '--all', '--format', '{{.Names}}'])).not.toContain('buildx_buildkit_');
      } finally {
        await rm(broken, { recursive: true, force: true });
      }
    },
  );

  it('a Docker without the buildx plugin gets told what to do', async () => {
    const bare = await mkdtemp(path.join(os.tmpdir(), 'es-docker-config-'));
    try {
      const run = await runBundled('main', {
        workspace,
        inputs: inputs('acme/buildx-missing', { platforms: 'linux/amd64', qemu: 'off' }),
        env: { ...env(), DOCKER_CONFIG: bare },
      });
      expect(run.exitCode).not.toBe(0);
      expect(run.errors.join('\n')).toMatch(
        /builder "buildx" needs Docker with the buildx plugin .*is not a docker command.*set builder: buildah/s,
      );
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });
  it(
    'buildkit-endpoint: a remote-driver builder on a BuildKit daemon of its own pushes by digest',
    { timeout: FIRST_BUILD_TIMEOUT_MS },
    async () => {
      const { buildkitd } = await buildkitBinaries();
      const dir = await mkdtemp(path.join(os.tmpdir(), 'es-bk-'));
      const socket = path.join(dir, 'buildkitd.sock');
      await writeFile(
        path.join(dir, 'buildkitd.toml'),
        `[registry."${reg.host}"]\n  http = false\n  ca = [${JSON.stringify(reg.caFile)}]\n`,
      );
      // The daemon as it would run on an edge machine: rootful, OCI worker, runc (the engine's) on PATH.
      const daemon = execa(
        buildkitd,
        [
          '--root',
          path.join(dir, 'root'),
          '--addr',
          `unix://${socket}`,
          '--config',
          path.join(dir, 'buildkitd.toml'),
        ],
        {
          env: { ...process.env, PATH: engine.env.PATH },
          extendEnv: false,
          reject: false,
          buffer: false,
          cleanup: true,
        },
      );
      try {
        for (let i = 0; i < 100 && !(await exists(socket)); i++) await sleep(100);
        const run = await runBundled('main', {
          workspace,
          inputs: inputs('acme/buildx-remote', { 'buildkit-endpoint': `unix://${socket}`, qemu: 'always' }),
          env: env(),
        });
        expect(run.stdout).toContain('(driver remote)');
        // A remote BuildKit brings its own emulators: no binfmt container runs on the local engine.
        expect(run.stdout).not.toContain('installing QEMU');
        await checkRelease(run, 'acme/buildx-remote');
        const post = await runBundled('post', { workspace, inputs: {}, state: run.state, env: env() });
        expect(post.stdout).toMatch(/removed buildx builder edgeship-/);
      } finally {
        daemon.kill('SIGTERM');
        await Promise.race([daemon, sleep(10_000)]);
        daemon.kill('SIGKILL');
        await execProcess('umount', ['-R', '-l', path.join(dir, 'root')]).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
