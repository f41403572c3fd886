import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../../src/registry/client.js';
import { resolverFromInputs } from '../../../src/registry/credentials.js';
import { releaseMetadata } from '../../../src/release/metadata.js';
import { CLEANUP_STATE_KEY, parseCleanupState } from '../../../src/runner/cleanup-state.js';
import type { RunnerContext } from '../../../src/runner/context.js';
import { runBuildStage } from '../../../src/stages/build.js';
import { pushIntoRegistry, writeOciLayout } from '../helpers/images.js';
import { buildah } from '../helpers/builder-doubles.js';
import { fakeExec, groupsOf, linesOfGroup, memoryHost } from '../helpers/memory-host.js';
import type { ExecCall, ExecHandler } from '../helpers/memory-host.js';
import { settingsFrom } from '../helpers/settings.js';
import { FakeRegistry } from '../registry/fake-registry.js';

const REPO = 'acme/agent';
const USER = 'bot';
const PASSWORD = 'registry-s3cret';
const NOW = new Date('2026-01-02T03:04:05Z');

let registry: FakeRegistry;
let tempDir: string;

beforeAll(async () => {
  registry = await new FakeRegistry({ auth: { kind: 'basic', username: USER, password: PASSWORD } }).start();
});
afterAll(async () => registry.stop());
beforeEach(() => {
  tempDir = mkdtempSync(path.join(os.tmpdir(), 'edgeship-build-stage-'));
  registry.manifests.clear();
  registry.blobs.clear();
  registry.tags.clear();
});
afterEach(() => rmSync(tempDir, { recursive: true, force: true }));

const option = (call: ExecCall, name: string) => call.args[call.args.indexOf(name) + 1]!;

/** docker as BuildKit would answer: the build pushes the platform's image by digest and writes its metadata. */
const docker =
  (fail: { buildx?: boolean; platform?: string } = {}): ExecHandler =>
  (call) => {
    if (call.file !== 'docker') return undefined;
    const [first, second] = call.args;
    if (first === 'buildx' && second === 'version') {
      return fail.buildx
        ? { exitCode: 1, stderr: "docker: 'buildx' is not a docker command." }
        : { stdout: 'v0.20.0' };
    }
    if (first === 'buildx' && second === 'build') {
      const platform = option(call, '--platform');
      if (platform === fail.platform) return { exitCode: 1, stderr: 'ERROR: failed to solve: exit code 2' };
      const digest = pushIntoRegistry(registry, REPO, platform);
      writeFileSync(option(call, '--metadata-file'), JSON.stringify({ 'containerimage.digest': digest }));
      return { stdout: `#12 pushing ${platform} done` };
    }
    if (first === 'buildx' && second === 'inspect') return { stdout: 'Name:   default\nDriver: docker\n' };
    return {}; // run (binfmt), login, buildx create
  };

/** The `docker` driver: no push by digest; `--output type=oci,dest=<dir>,tar=false` writes an OCI layout. */
const dockerDriver: ExecHandler = (call) => {
  if (call.file !== 'docker' || call.args[1] !== 'build') return undefined;
  const output = option(call, '--output');
  const dest = /^type=oci,dest=([^,]+),tar=false$/.exec(output)?.[1];
  if (!dest) return { exitCode: 1, stderr: 'ERROR: push-by-digest is not implemented for docker driver' };
  const platform = option(call, '--platform');
  writeOciLayout(dest, platform.replace(/\//g, '-'), platform);
  return { stdout: `#9 exporting to oci image format done` };
};

function buildStage(inputs: Record<string, string>, handlers: ExecHandler[], password = PASSWORD) {
  const host = memoryHost({ exec: fakeExec(...handlers), now: () => NOW });
  const settings = settingsFrom({
    image: `${registry.host}/${REPO}`,
    platforms: 'linux/amd64,linux/arm64',
    'registry-username': USER,
    'registry-password': PASSWORD,
    labels: 'com.example.team=edge',
    ...inputs,
  });
  const release = releaseMetadata({
    ref: 'refs/tags/v1.2.3',
    sha: '0123456789abcdef0123456789abcdef01234567',
    repository: 'acme/agent',
    serverUrl: 'https://github.com',
    now: NOW,
  });
  const context: RunnerContext = {
    release: {
      ref: 'refs/tags/v1.2.3',
      sha: '0'.repeat(40),
      repository: 'acme/agent',
      serverUrl: '',
      now: NOW,
    },
    workspace: '/work/app',
    tempDir,
    runId: '4242',
    runAttempt: '1',
  };
  const client = new RegistryClient({
    registry: `http://${registry.host}`,
    credentials: resolverFromInputs(registry.host, USER, password),
    sleep: async () => undefined,
  });
  const run = () => runBuildStage(host, { settings, release, context, registry: client });
  return { host, run };
}

const cleanupState = (host: ReturnType<typeof memoryHost>) =>
  parseCleanupState(host.state[CLEANUP_STATE_KEY] ?? '');

describe('build stage with buildx', () => {
  it('checks the registry, sets up buildx, builds each platform in its own group and outputs the digests', async () => {
    const { host, run } = buildStage({ builder: 'buildx', qemu: 'always' }, [docker()]);
    const images = await run();

    expect(groupsOf(host.log)).toEqual([
      'Check registry access',
      'Set up buildx',
      'Build linux/amd64 (buildx)',
      'Build linux/arm64 (buildx)',
    ]);
    expect(linesOfGroup(host.log, 'Check registry access')).toEqual([
      `${registry.host}/${REPO} is reachable (0 existing tag(s))`,
    ]);
    expect(images.map((i) => [i.platform, i.config.architecture, i.config.user])).toEqual([
      ['linux/amd64', 'amd64', '65532'],
      ['linux/arm64', 'arm64', '65532'],
    ]);
    for (const image of images) {
      expect(registry.manifests.has(`${REPO}@${image.digest}`)).toBe(true);
      expect(linesOfGroup(host.log, `Build ${image.platform} (buildx)`)).toContain(
        `${image.platform}: pushed ${registry.host}/${REPO}@${image.digest} (${image.size} bytes compressed, no tag)`,
      );
    }
    expect(registry.tags.get(REPO)?.size ?? 0).toBe(0);
    expect(JSON.parse(host.outputs.digests!)).toEqual(
      images.map((i) => ({ platform: i.platform, digest: i.digest, size: i.size })),
    );
    expect(host.summary).toHaveLength(1);
    expect(host.summary[0]).toContain(`## Edgeship: ${registry.host}/${REPO}`);
    expect(host.summary[0]).toContain('### Images pushed by digest (no tag yet)');
    expect(host.summary[0]).toContain(`\`${registry.host}/${REPO}@${images[1]!.digest}\``);
  });

  it('installs QEMU before logging in, logs in through stdin, and records what the post step undoes', async () => {
    const { host, run } = buildStage({ builder: 'buildx', qemu: 'always' }, [docker()]);
    await run();
    const calls = host.exec.calls.map((c) => c.args.slice(0, 2).join(' '));
    expect(calls).toEqual([
      'buildx version',
      'run --privileged',
      'login --username',
      'buildx create',
      'buildx build',
      'buildx build',
    ]);
    const login = host.exec.calls[2]!;
    expect(login.args).toEqual(['login', '--username', USER, '--password-stdin', registry.host]);
    expect(login.options.input).toBe(PASSWORD);
    expect(host.exec.calls.every((c) => !c.args.join(' ').includes(PASSWORD))).toBe(true);
    const build = host.exec.calls[4]!;
    expect(build.args).toContain('org.opencontainers.image.version=1.2.3');
    expect(build.args).toContain('com.example.team=edge');
    expect(build.args).toContain('manifest:org.opencontainers.image.version=1.2.3');

    const state = cleanupState(host);
    const builder = option(host.exec.calls[3]!, '--name');
    expect(builder).toMatch(/^edgeship-4242-1-[0-9a-f]{6}$/);
    expect(option(build, '--builder')).toBe(builder);
    expect(state).toEqual({
      buildxBuilder: builder,
      dockerLogout: registry.host,
      buildahImages: [],
      paths: [expect.stringMatching(new RegExp(`^${tempDir}/edgeship-`))],
    });
  });

  it('says what to do when buildx is missing, before building anything', async () => {
    const { host, run } = buildStage({ builder: 'buildx' }, [docker({ buildx: true })]);
    await expect(run()).rejects.toThrow(
      /builder "buildx" needs Docker with the buildx plugin .*Use a GitHub-hosted runner, install buildx, or set builder: buildah\./s,
    );
    expect(host.exec.calls.map((c) => c.line)).toEqual(['docker buildx version']);
    expect(groupsOf(host.log)).toEqual(['Check registry access']);
  });

  it('stops at the platform whose build fails, naming it', async () => {
    const { host, run } = buildStage({ builder: 'buildx', qemu: 'off' }, [
      docker({ platform: 'linux/arm64' }),
    ]);
    await expect(run()).rejects.toThrow(
      /building linux\/arm64 with buildx failed: ERROR: failed to solve: exit code 2\ndocker exited with code 1:\nERROR: failed to solve: exit code 2/,
    );
    expect(groupsOf(host.log).slice(-2)).toEqual([
      'Build linux/amd64 (buildx)',
      'Build linux/arm64 (buildx)',
    ]);
    expect(host.outputs.digests).toBeUndefined();
  });

  it('fails on wrong registry credentials before any tool runs', async () => {
    const { host, run } = buildStage({ builder: 'buildx' }, [docker()], 'wrong-password');
    await expect(run()).rejects.toThrow(
      /^list tags .*acme\/agent failed: HTTP 401 Unauthorized.*Check the registry-username\/registry-password inputs/,
    );
    expect(host.exec.calls).toEqual([]);
    expect(groupsOf(host.log)).toEqual(['Check registry access']);
  });
});

describe('build stage with buildx: builder inputs', () => {
  it('creates its docker-container builder with the pinned buildkit-image', async () => {
    const { host, run } = buildStage({ builder: 'buildx', qemu: 'off' }, [docker()]);
    await run();
    const create = host.exec.calls.find((c) => c.args[1] === 'create')!;
    expect(create.args).toContain(
      'image=docker.io/moby/buildkit:v0.31.2@sha256:2f5adac4ecd194d9f8c10b7b5d7bceb5186853db1b26e5abd3a657af0b7e26ec',
    );
  });

  it('uses an existing docker-driver builder: exports OCI layouts and uploads them by digest, removes no builder', async () => {
    const { host, run } = buildStage(
      {
        builder: 'buildx',
        qemu: 'off',
        'buildx-builder': 'default',
        secrets: 'token=tok-s3cret-value\nnpmrc=second-secret',
        'build-contexts': 'assets=/work/app/assets',
        annotations: 'com.example.owner=edge',
        'no-cache': 'true',
        pull: 'true',
      },
      [dockerDriver, docker()],
    );
    const images = await run();
    const calls = host.exec.calls.map((c) => c.args.slice(0, 3).join(' '));
    expect(calls).toEqual([
      'buildx version',
      'login --username bot',
      'buildx inspect default',
      'buildx build --builder',
      'buildx build --builder',
    ]);
    expect(linesOfGroup(host.log, 'Set up buildx')).toContain('buildx builder default (driver docker)');
    for (const image of images) expect(registry.manifests.has(`${REPO}@${image.digest}`)).toBe(true);
    expect(images.map((i) => i.config.architecture)).toEqual(['amd64', 'arm64']);
    expect(linesOfGroup(host.log, 'Build linux/arm64 (buildx)')).toContain(
      'uploaded 2 blob(s), 0 already present',
    );
    expect(registry.tags.get(REPO)?.size ?? 0).toBe(0);

    const build = host.exec.calls[3]!;
    expect(build.args).toEqual(
      expect.arrayContaining([
        '--secret',
        'id=token,env=EDGESHIP_BUILD_SECRET_0',
        'id=npmrc,env=EDGESHIP_BUILD_SECRET_1',
        '--build-context',
        'assets=/work/app/assets',
        'manifest:com.example.owner=edge',
        '--no-cache',
        '--pull',
      ]),
    );
    // Secret values reach docker through its environment only: never argv, never the log.
    expect(build.options.env).toMatchObject({
      EDGESHIP_BUILD_SECRET_0: 'tok-s3cret-value',
      EDGESHIP_BUILD_SECRET_1: 'second-secret',
    });
    const everything = JSON.stringify([host.exec.calls.map((c) => c.args), host.log.lines, host.state]);
    expect(everything).not.toContain('tok-s3cret-value');
    expect(everything).not.toContain('second-secret');
    const state = cleanupState(host);
    expect(state.buildxBuilder).toBeUndefined();
    expect(state.paths.slice(1)).toEqual([
      expect.stringMatching(/\/layout-linux-amd64$/),
      expect.stringMatching(/\/layout-linux-arm64$/),
    ]);
  });

  it('names a buildx-builder that does not exist', async () => {
    const missing: ExecHandler = (call) =>
      call.args[1] === 'inspect' ? { exitCode: 1, stderr: 'ERROR: no builder "nope" found' } : undefined;
    const { run } = buildStage({ builder: 'buildx', qemu: 'off', 'buildx-builder': 'nope' }, [
      missing,
      docker(),
    ]);
    await expect(run()).rejects.toThrow(
      /buildx-builder "nope" is not a builder here .*no builder "nope" found.*docker buildx ls/s,
    );
  });

  it('creates a remote-driver builder for buildkit-endpoint, without installing QEMU locally', async () => {
    const { host, run } = buildStage(
      { builder: 'buildx', qemu: 'always', 'buildkit-endpoint': 'tcp://10.0.0.5:1234' },
      [docker()],
    );
    await run();
    const calls = host.exec.calls.map((c) => c.args.slice(0, 2).join(' '));
    expect(calls).toEqual([
      'buildx version',
      'login --username',
      'buildx create',
      'buildx build',
      'buildx build',
    ]);
    const create = host.exec.calls[2]!;
    expect(create.args).toEqual([
      'buildx',
      'create',
      '--name',
      expect.stringMatching(/^edgeship-4242-1-/),
      '--driver',
      'remote',
      'tcp://10.0.0.5:1234',
      '--bootstrap',
    ]);
    expect(cleanupState(host).buildxBuilder).toBe(create.args[3]);
  });
});

describe('build stage with buildah', () => {
  it('builds locally, uploads each OCI layout by digest and records images and files for cleanup', async () => {
    const { host, run } = buildStage({ builder: 'buildah', qemu: 'off' }, [buildah]);
    const images = await run();

    expect(groupsOf(host.log)).toEqual([
      'Check registry access',
      'Set up buildah',
      'Build linux/amd64 (buildah)',
      'Build linux/arm64 (buildah)',
    ]);
    expect(host.log.lines).toContain('debug: buildah 1.33.7');
    expect(images.map((i) => [i.platform, i.mediaType, i.config.healthcheck])).toEqual([
      ['linux/amd64', 'application/vnd.docker.distribution.manifest.v2+json', true],
      ['linux/arm64', 'application/vnd.docker.distribution.manifest.v2+json', true],
    ]);
    expect(linesOfGroup(host.log, 'Build linux/arm64 (buildah)')).toContain(
      'uploaded 2 blob(s), 0 already present',
    );
    for (const image of images) expect(registry.manifests.has(`${REPO}@${image.digest}`)).toBe(true);
    expect(registry.tags.get(REPO)?.size ?? 0).toBe(0);

    const state = cleanupState(host);
    const [workDir, authFile, ...layouts] = state.paths;
    expect(authFile).toBe(path.join(workDir!, 'containers-auth.json'));
    expect(layouts).toEqual([
      path.join(workDir!, 'layout-linux-amd64'),
      path.join(workDir!, 'layout-linux-arm64'),
    ]);
    expect(state.buildahImages).toEqual([
      expect.stringMatching(/^localhost\/edgeship-4242-1-[0-9a-f]{6}:linux-amd64$/),
      expect.stringMatching(/^localhost\/edgeship-4242-1-[0-9a-f]{6}:linux-arm64$/),
    ]);
    expect(statSync(authFile!).mode & 0o777).toBe(0o600);
    const auth = JSON.parse(readFileSync(authFile!, 'utf8'));
    expect(auth).toEqual({
      auths: { [registry.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } },
    });
    const build = host.exec.calls.find((c) => c.args[0] === 'build')!;
    expect(option(build, '--authfile')).toBe(authFile);
    expect(build.args).not.toContain(PASSWORD);
  });

  it('passes secrets through the environment, and build contexts, ssh, no-cache and pull as buildah options', async () => {
    const { host, run } = buildStage(
      {
        builder: 'buildah',
        qemu: 'off',
        platforms: 'linux/amd64',
        secrets: 'token=tok-s3cret-value',
        'build-contexts': 'assets=/work/app/assets',
        ssh: 'default',
        'no-cache': 'true',
        pull: 'true',
      },
      [buildah],
    );
    await run();
    const build = host.exec.calls.find((c) => c.args[0] === 'build')!;
    expect(build.args).toEqual(
      expect.arrayContaining([
        '--secret',
        'id=token,src=EDGESHIP_BUILD_SECRET_0,type=env',
        '--build-context',
        'assets=/work/app/assets',
        '--ssh',
        'default',
        '--no-cache',
        '--pull=always',
      ]),
    );
    expect(build.options.env).toEqual({ EDGESHIP_BUILD_SECRET_0: 'tok-s3cret-value' });
    expect(JSON.stringify([host.exec.calls.map((c) => c.args), host.log.lines])).not.toContain(
      'tok-s3cret-value',
    );
  });

  it('says how to install buildah when it is missing', async () => {
    const { run } = buildStage({ builder: 'buildah', qemu: 'off' }, []);
    await expect(run()).rejects.toThrow(
      /builder "buildah" needs buildah on PATH .*Install it \(apt-get install buildah\) or set builder: buildx\./s,
    );
  });
});
