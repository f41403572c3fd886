import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BINFMT_IMAGE, BUILDKIT_IMAGE } from '../../src/settings/table.js';
import { PROJECT_ROOT, runBundled } from './harness/action-runner.js';
import { publishBaseImage } from './harness/base-images.js';
import { ensureHostTools } from './harness/host-tools.js';
import { startRegistry } from './harness/registry.js';
import { FIXTURES, SCANNERS_FROM_PATH, scannerDoubleEnv } from './harness/scanner-doubles.js';
import type { TestRegistry } from './harness/registry.js';
import { listTagsRaw, makeSampleWorkspace, skopeo } from './harness/workspace.js';

/**
 * The buildx path with a recording TEST DOUBLE of `docker` (test/doubles/docker): buildx cannot be
 * installed here. The images the double "builds" were pushed beforehand to a real registry, so
 * everything after the build (reading back by digest, picking the platform out of an index, checking
 * the architecture) runs against the real registry.
 */
describe('buildx builder (docker test double, real registry)', () => {
  let reg: TestRegistry;
  let workspace: string;
  let log: string;
  let indexDigest: string;
  let amd64Digest: string;
  const repo = 'acme/buildx-agent';
  const image = () => `${reg.host}/${repo}`;
  const doubles = path.join(PROJECT_ROOT, 'test', 'doubles');

  const runMain = (env: Record<string, string> = {}) =>
    runBundled('main', {
      workspace,
      inputs: {
        image: image(),
        mode: 'build',
        'records-dir': path.join(os.tmpdir(), `edgeship-records-${process.pid}`),
        'registry-username': reg.username,
        'registry-password': reg.password,
        'registry-ca-file': reg.caFile,
        'build-args': 'BASE=busybox',
        'cache-from': `type=registry,ref=${reg.host}/${repo}:cache`,
        ...SCANNERS_FROM_PATH,
      },
      env: {
        ...scannerDoubleEnv({
          reports: { linux_amd64: FIXTURES.reportClean, linux_arm64: FIXTURES.reportClean },
        }),
        PATH: `${doubles}:${process.env.PATH}`,
        DOCKER_DOUBLE_LOG: log,
        DOCKER_DOUBLE_DIGEST_linux_amd64: amd64Digest,
        // arm64 answers with the index digest, as buildx does when it adds attestation manifests:
        // Edgeship must pick the arm64 manifest out of it.
        DOCKER_DOUBLE_DIGEST_linux_arm64: indexDigest,
        ...env,
      },
    });

  const calls = async () =>
    (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { argv: string[]; stdinSha256: string });

  beforeAll(async () => {
    await ensureHostTools();
    reg = await startRegistry();
    const base = await publishBaseImage(reg);
    const raw = await skopeo(reg, ['inspect', '--raw', `docker://${base}`]);
    indexDigest = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
    const index = JSON.parse(raw) as {
      manifests: Array<{ digest: string; platform: { architecture: string } }>;
    };
    amd64Digest = index.manifests.find((m) => m.platform.architecture === 'amd64')!.digest;
    // Put the images into the release repository by digest only (no tag), as buildx would have.
    await skopeo(reg, [
      'copy',
      '--all',
      '--preserve-digests',
      `docker://${base}`,
      `docker://${image()}@${indexDigest}`,
    ]);
    workspace = await makeSampleWorkspace();
    log = path.join(os.tmpdir(), `docker-double-${process.pid}.jsonl`);
  });

  afterAll(async () => {
    await reg?.stop();
    if (workspace) await rm(workspace, { recursive: true, force: true });
    if (log) await rm(log, { force: true });
  });

  it('makes exactly the docker calls expected, and cleans up in post', async () => {
    await writeFile(log, '');
    const run = await runMain();
    expect(run.errors, run.stdout.slice(-2000)).toEqual([]);
    expect(run.exitCode).toBe(0);

    const post = await runBundled('post', {
      workspace,
      inputs: {},
      state: run.state,
      env: { PATH: `${doubles}:${process.env.PATH}`, DOCKER_DOUBLE_LOG: log },
    });
    expect(post.exitCode).toBe(0);

    const recorded = await calls();
    const builder = recorded.find((c) => c.argv[1] === 'create')!.argv[3]!;
    expect(builder).toMatch(/^edgeship-4242-1-[0-9a-f]{6}$/);
    const metadataFile = (platform: string) => {
      const call = recorded.find((c) => c.argv[1] === 'build' && c.argv.includes(platform))!;
      return call.argv[call.argv.indexOf('--metadata-file') + 1]!;
    };
    const created = /org\.opencontainers\.image\.created=([^ ]+)/.exec(
      recorded.map((c) => c.argv.join(' ')).join('\n'),
    )![1]!;
    const labels = [
      ['org.opencontainers.image.created', created],
      ['org.opencontainers.image.revision', '0123456789abcdef0123456789abcdef01234567'],
      ['org.opencontainers.image.source', 'https://github.com/acme/edge-agent'],
      ['org.opencontainers.image.title', 'edge-agent'],
      ['org.opencontainers.image.url', 'https://github.com/acme/edge-agent'],
      ['org.opencontainers.image.version', '1.2.3'],
    ];
    const build = (platform: string) => [
      'buildx',
      'build',
      '--builder',
      builder,
      '--platform',
      platform,
      '--file',
      path.join(workspace, 'Dockerfile'),
      '--metadata-file',
      metadataFile(platform),
      '--provenance=false',
      '--sbom=false',
      '--output',
      `type=image,name=${image()},push-by-digest=true,name-canonical=true,push=true`,
      '--build-arg',
      'BASE=busybox',
      ...labels.flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      ...labels.flatMap(([k, v]) => ['--annotation', `manifest:${k}=${v}`]),
      '--cache-from',
      `type=registry,ref=${reg.host}/${repo}:cache`,
      workspace,
    ];
    expect(recorded.map((c) => c.argv)).toEqual([
      ['buildx', 'version'],
      ['run', '--privileged', '--rm', BINFMT_IMAGE, '--install', 'arm64'],
      ['login', '--username', reg.username, '--password-stdin', reg.host],
      [
        'buildx',
        'create',
        '--name',
        builder,
        '--driver',
        'docker-container',
        '--driver-opt',
        'network=host',
        '--driver-opt',
        `image=${BUILDKIT_IMAGE}`,
        // registry-ca-file is set: BuildKit is told to trust the registry's CA.
        '--buildkitd-config',
        expect.stringMatching(/\/buildkitd\.toml$/),
        '--bootstrap',
      ],
      build('linux/amd64'),
      build('linux/arm64'),
      ['buildx', 'rm', builder],
      ['logout', reg.host],
    ]);
    // The password went through stdin, never argv.
    expect(recorded[2]!.stdinSha256).toBe(createHash('sha256').update(reg.password).digest('hex'));
    expect(JSON.stringify(recorded.map((c) => c.argv))).not.toContain(reg.password);

    const digests = JSON.parse(run.outputs.digests!) as Array<{ platform: string; digest: string }>;
    const index = JSON.parse(
      await skopeo(reg, ['inspect', '--raw', `docker://${image()}@${indexDigest}`]),
    ) as {
      manifests: Array<{ digest: string; platform: { architecture: string } }>;
    };
    const arm64Digest = index.manifests.find((m) => m.platform.architecture === 'arm64')!.digest;
    expect(digests).toEqual([
      expect.objectContaining({ platform: 'linux/amd64', digest: amd64Digest }),
      expect.objectContaining({ platform: 'linux/arm64', digest: arm64Digest }),
    ]);
    expect(await listTagsRaw(reg, repo)).toEqual([]);
  });

  it('a failed build names the platform and still removes the builder in post', async () => {
    await writeFile(log, '');
    const run = await runMain({ DOCKER_DOUBLE_FAIL: 'buildx-build' });
    expect(run.exitCode).not.toBe(0);
    expect(run.errors.join('\n')).toMatch(
      /building linux\/amd64 with buildx failed: ERROR: buildx-build failed.*\ndocker exited with code 1:\n/,
    );
    const post = await runBundled('post', {
      workspace,
      inputs: {},
      state: run.state,
      env: { PATH: `${doubles}:${process.env.PATH}`, DOCKER_DOUBLE_LOG: log },
    });
    expect(post.exitCode).toBe(0);
    const argv = (await calls()).map((c) => c.argv.slice(0, 2).join(' '));
    expect(argv.slice(-2)).toEqual(['buildx rm', 'logout ' + reg.host]);
  });

  it('a runner without buildx gets told what to do', async () => {
    await writeFile(log, '');
    const run = await runMain({ DOCKER_DOUBLE_FAIL: 'buildx-version' });
    expect(run.exitCode).not.toBe(0);
    expect(run.errors.join('\n')).toMatch(
      /builder "buildx" needs Docker with the buildx plugin.*set builder: buildah/s,
    );
  });
});
