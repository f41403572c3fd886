import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basePurl, parseBaseImage, resolveBaseImages } from '../../../src/provenance/base-images.js';
import { buildProvenance } from '../../../src/provenance/build-provenance.js';
import {
  GITHUB_WORKFLOW_BUILD_TYPE,
  indexProvenance,
  provenanceRun,
  slsaProvenance,
} from '../../../src/provenance/slsa.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { FakeRegistry } from '../registry/fake-registry.js';

const ENV = {
  GITHUB_WORKFLOW_REF: 'acme/edge-agent/.github/workflows/release.yml@refs/tags/v1.2.3',
  GITHUB_REPOSITORY: 'acme/edge-agent',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REF: 'refs/tags/v1.2.3',
  GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
  GITHUB_EVENT_NAME: 'push',
  GITHUB_REPOSITORY_ID: '700001',
  GITHUB_REPOSITORY_OWNER_ID: '9001',
  RUNNER_ENVIRONMENT: 'github-hosted',
  GITHUB_RUN_ID: '4242',
  GITHUB_RUN_ATTEMPT: '2',
};
const BUILD = {
  platforms: ['linux/amd64', 'linux/arm64'],
  file: 'Dockerfile',
  context: '.',
  buildArgs: ['BASE', 'TOKEN'],
  builder: 'buildah',
};
const D = (c: string) => `sha256:${c.repeat(64)}`;

describe('SLSA v1 provenance', () => {
  it('names the workflow, the build inputs (argument names only), the source and the run', () => {
    const run = provenanceRun(ENV)!;
    const p = slsaProvenance({
      run,
      build: BUILD,
      dependencies: [
        { uri: 'pkg:docker/alpine@3.20?platform=linux%2Famd64', digest: { sha256: 'a'.repeat(64) } },
      ],
      startedOn: new Date('2026-01-02T03:04:05Z'),
      finishedOn: new Date('2026-01-02T03:09:05Z'),
    });
    expect(p).toEqual({
      buildDefinition: {
        buildType: GITHUB_WORKFLOW_BUILD_TYPE,
        externalParameters: {
          workflow: {
            ref: 'refs/tags/v1.2.3',
            repository: 'https://github.com/acme/edge-agent',
            path: '.github/workflows/release.yml',
          },
          build: BUILD,
        },
        internalParameters: {
          github: {
            event_name: 'push',
            repository_id: '700001',
            repository_owner_id: '9001',
            runner_environment: 'github-hosted',
          },
        },
        resolvedDependencies: [
          {
            uri: 'git+https://github.com/acme/edge-agent@refs/tags/v1.2.3',
            digest: { gitCommit: ENV.GITHUB_SHA },
          },
          { uri: 'pkg:docker/alpine@3.20?platform=linux%2Famd64', digest: { sha256: 'a'.repeat(64) } },
        ],
      },
      runDetails: {
        builder: { id: 'https://github.com/acme/edge-agent/.github/workflows/release.yml@refs/tags/v1.2.3' },
        metadata: {
          invocationId: 'https://github.com/acme/edge-agent/actions/runs/4242/attempts/2',
          startedOn: '2026-01-02T03:04:05.000Z',
          finishedOn: '2026-01-02T03:09:05.000Z',
        },
      },
    });
    expect(JSON.stringify(p)).not.toContain('s3cret');
  });

  it('is not made outside a workflow run (no GITHUB_WORKFLOW_REF)', () => {
    expect(provenanceRun({ ...ENV, GITHUB_WORKFLOW_REF: undefined })).toBeUndefined();
  });

  it('of the index: the platform images as dependencies after the source, the publish job as invocation', () => {
    const run = provenanceRun(ENV)!;
    const at = (t: string) => new Date(`2026-01-02T03:0${t}:00Z`);
    const platforms = [
      {
        platform: 'linux/amd64',
        digest: D('a'),
        predicate: slsaProvenance({
          run,
          build: BUILD,
          dependencies: [],
          startedOn: at('5'),
          finishedOn: at('6'),
        }),
      },
      {
        platform: 'linux/arm64',
        digest: D('b'),
        predicate: slsaProvenance({
          run,
          build: BUILD,
          dependencies: [],
          startedOn: at('4'),
          finishedOn: at('7'),
        }),
      },
    ];
    const index = indexProvenance(platforms, {
      imageName: 'registry.example/acme/agent',
      invocationId: 'https://github.com/acme/edge-agent/actions/runs/4242/attempts/3',
      finishedOn: at('9'),
    })!;
    expect(index.buildDefinition.resolvedDependencies).toEqual([
      platforms[0]!.predicate.buildDefinition.resolvedDependencies[0],
      {
        uri: `oci://registry.example/acme/agent@${D('a')}`,
        name: 'linux/amd64',
        digest: { sha256: 'a'.repeat(64) },
      },
      {
        uri: `oci://registry.example/acme/agent@${D('b')}`,
        name: 'linux/arm64',
        digest: { sha256: 'b'.repeat(64) },
      },
    ]);
    expect(index.runDetails.metadata).toEqual({
      invocationId: 'https://github.com/acme/edge-agent/actions/runs/4242/attempts/3',
      startedOn: '2026-01-02T03:04:00.000Z',
      finishedOn: '2026-01-02T03:09:00.000Z',
    });
    expect(indexProvenance([], { imageName: 'x', invocationId: 'y', finishedOn: at('9') })).toBeUndefined();
  });

  it('parses base image references as Docker normalises them and names them as BuildKit does', () => {
    expect(parseBaseImage('alpine')).toEqual({
      registry: 'docker.io',
      path: 'library/alpine',
      tag: 'latest',
    });
    expect(parseBaseImage(`localhost:5000/base/busybox@${D('c')}`)).toEqual({
      registry: 'localhost:5000',
      path: 'base/busybox',
      digest: D('c'),
    });
    expect(basePurl(parseBaseImage('alpine:3.20'), 'linux/arm64/v8')).toBe(
      'pkg:docker/alpine@3.20?platform=linux%2Farm64%2Fv8',
    );
    expect(basePurl(parseBaseImage('localhost:5000/base/busybox:1'), 'linux/amd64')).toBe(
      'pkg:docker/localhost%3A5000/base/busybox@1?platform=linux%2Famd64',
    );
  });
});

describe('base images resolved against the registry', () => {
  let registry: FakeRegistry;
  let client: RegistryClient;
  let baseDigest: string;
  beforeAll(async () => {
    registry = await new FakeRegistry().start();
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [],
      }),
    );
    baseDigest = registry.addManifest('base/busybox', '1', body, 'application/vnd.oci.image.index.v1+json');
    expect(baseDigest).toBe(`sha256:${createHash('sha256').update(body).digest('hex')}`);
    client = new RegistryClient({ registry: `http://${registry.host}` });
  });
  afterAll(async () => {
    await client?.close();
    await registry?.stop();
  });

  it('a tag becomes the digest the registry serves for it; a pinned digest is taken as written', async () => {
    const asked: string[] = [];
    const clientFor = (host: string) => {
      asked.push(host);
      return client;
    };
    const resolved = await resolveBaseImages(
      [`${registry.host}/base/busybox:1`, `${registry.host}/base/busybox@${D('d')}`],
      'linux/amd64',
      clientFor,
    );
    expect(resolved.map((r) => r.digest)).toEqual([
      { sha256: baseDigest.slice(7) },
      { sha256: 'd'.repeat(64) },
    ]);
    expect(asked).toEqual([registry.host]);
  });

  it('a base image that cannot be resolved is named without a digest, with a warning saying why', async () => {
    const warnings: string[] = [];
    const resolved = await resolveBaseImages(
      [`${registry.host}/base/missing:1`, 'Not A Reference'],
      'linux/amd64',
      () => client,
      (m) => warnings.push(m),
    );
    expect(resolved).toEqual([
      { uri: `pkg:docker/${encodeURIComponent(`${registry.host}/base/missing:1`)}?platform=linux%2Famd64` },
      { uri: 'pkg:docker/Not%20A%20Reference?platform=linux%2Famd64' },
    ]);
    expect(warnings[0]).toMatch(/base image .*base\/missing:1 .* is not in/);
    expect(warnings).toHaveLength(2);
  });

  it('per platform: each image gets its own Dockerfile reading and dependencies', async () => {
    const made = await buildProvenance(
      {
        run: provenanceRun(ENV)!,
        build: BUILD,
        dockerfile: `ARG BASE\nFROM \${BASE}\nFROM scratch\n`,
        buildArgs: [['BASE', `${registry.host}/base/busybox:1`]],
        images: [
          { platform: 'linux/amd64', digest: D('a') },
          { platform: 'linux/arm64', digest: D('b') },
        ],
        startedOn: new Date(0),
        finishedOn: new Date(1000),
      },
      () => client,
    );
    expect(made.map((m) => [m.platform, m.digest])).toEqual([
      ['linux/amd64', D('a')],
      ['linux/arm64', D('b')],
    ]);
    expect(made[1]!.predicate.buildDefinition.resolvedDependencies[1]).toEqual({
      uri: `pkg:docker/${encodeURIComponent(registry.host)}/base/busybox@1?platform=linux%2Farm64`,
      digest: { sha256: baseDigest.slice(7) },
    });
  });
});
