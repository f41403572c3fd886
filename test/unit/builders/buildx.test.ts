import { describe, expect, it } from 'vitest';
import {
  buildkitdConfigToml,
  buildxBuildArgs,
  createBuilderArgs,
  createRemoteBuilderArgs,
  dockerLogin,
  dockerLoginArgs,
  dockerLogoutArgs,
  parseBuilderDriver,
  parseBuildxMetadata,
  removeBuilderArgs,
} from '../../../src/builders/buildx.js';
import { fixturesPresent, readFixture, readFixtureJson } from '../../shared-fixtures.js';
import { fakeExec } from '../helpers/memory-host.js';

describe('buildx argv', () => {
  it('builds one platform pushed by digest with no tag', () => {
    expect(
      buildxBuildArgs({
        builder: 'edgeship-1-1-abc',
        platform: 'linux/arm64',
        imageName: 'ghcr.io/acme/agent',
        context: '/w/app',
        file: '/w/app/Dockerfile',
        metadataFile: '/t/meta.json',
        buildArgs: [
          ['VERSION', '1.2.3'],
          ['EMPTY', ''],
        ],
        labels: { 'org.opencontainers.image.version': '1.2.3' },
        annotations: { 'org.opencontainers.image.revision': 'abc' },
        cacheFrom: ['type=gha'],
        cacheTo: ['type=gha,mode=max'],
        target: 'runtime',
      }),
    ).toEqual([
      'buildx',
      'build',
      '--builder',
      'edgeship-1-1-abc',
      '--platform',
      'linux/arm64',
      '--file',
      '/w/app/Dockerfile',
      '--metadata-file',
      '/t/meta.json',
      '--provenance=false',
      '--sbom=false',
      '--output',
      'type=image,name=ghcr.io/acme/agent,push-by-digest=true,name-canonical=true,push=true',
      '--build-arg',
      'VERSION=1.2.3',
      '--build-arg',
      'EMPTY=',
      '--label',
      'org.opencontainers.image.version=1.2.3',
      '--annotation',
      'manifest:org.opencontainers.image.revision=abc',
      '--cache-from',
      'type=gha',
      '--cache-to',
      'type=gha,mode=max',
      '--target',
      'runtime',
      '/w/app',
    ]);
  });

  it('keeps hostile values as single argv entries (no shell)', () => {
    const args = buildxBuildArgs({
      builder: 'b',
      platform: 'linux/amd64',
      imageName: 'r/i',
      context: '.',
      file: 'Dockerfile',
      metadataFile: 'm',
      buildArgs: [['X', '$(rm -rf /); echo "hi"']],
      labels: {},
      annotations: {},
      cacheFrom: [],
      cacheTo: [],
    });
    expect(args).toContain('X=$(rm -rf /); echo "hi"');
  });

  it('sets up and removes the builder, logs in through stdin', () => {
    expect(createBuilderArgs('edgeship-x')).toEqual([
      'buildx',
      'create',
      '--name',
      'edgeship-x',
      '--driver',
      'docker-container',
      '--driver-opt',
      'network=host',
      '--bootstrap',
    ]);
    expect(createBuilderArgs('b', '/t/buildkitd.toml')).toEqual([
      'buildx',
      'create',
      '--name',
      'b',
      '--driver',
      'docker-container',
      '--driver-opt',
      'network=host',
      '--buildkitd-config',
      '/t/buildkitd.toml',
      '--bootstrap',
    ]);
    expect(buildkitdConfigToml(['localhost:5000', 'reg.lan'])).toBe(
      '[registry."localhost:5000"]\n  http = true\n  insecure = true\n\n[registry."reg.lan"]\n  http = true\n  insecure = true\n',
    );
    expect(removeBuilderArgs('edgeship-x')).toEqual(['buildx', 'rm', 'edgeship-x']);
    expect(dockerLoginArgs('ghcr.io', 'bot')).toEqual([
      'login',
      '--username',
      'bot',
      '--password-stdin',
      'ghcr.io',
    ]);
    expect(dockerLogoutArgs('ghcr.io')).toEqual(['logout', 'ghcr.io']);
  });
});

describe.skipIf(!fixturesPresent)('buildx metadata file (real buildx outputs)', () => {
  it('reads containerimage.digest from a real build metadata file', () => {
    const file = 'buildx/metadata/buildx-build_metadata-file_provenance-warnings.json';
    const raw = readFixtureJson<Record<string, string>>(file);
    const parsed = parseBuildxMetadata(readFixture(file));
    expect(parsed.digest).toBe(raw['containerimage.digest']);
    expect(parsed.configDigest).toBe(raw['containerimage.config.digest']);
  });

  it('refuses metadata without a pushed digest (legacy multi-platform buildinfo)', () => {
    expect(() =>
      parseBuildxMetadata(
        readFixture('buildx/metadata/LEGACY_buildx-build_metadata_multi-platform-buildinfo_2022.json'),
      ),
    ).toThrow(/no "containerimage.digest": the image was not pushed/);
  });

  it('refuses a bake metadata file (targets nested, no top-level digest)', () => {
    expect(() =>
      parseBuildxMetadata(readFixture('buildx/metadata/buildx-bake_metadata-file_3-targets.json')),
    ).toThrow(/no "containerimage.digest"/);
  });
});

describe('buildx metadata file (bad inputs)', () => {
  it.each([
    ['', /not JSON/],
    ['{"containerimage.digest": "sha256:abc"}', /no "containerimage.digest"/],
    ['[]', /not a JSON object/],
    ['{truncated', /not JSON/],
  ])('%j is refused', (text, message) => {
    expect(() => parseBuildxMetadata(text)).toThrow(message);
  });
});

describe('buildkitd config', () => {
  it('trusts a registry CA and allows plain-HTTP registries', () => {
    expect(buildkitdConfigToml(['localhost:5000'], { 'reg.lan': '/w/ca.pem' })).toBe(
      '[registry."localhost:5000"]\n  http = true\n  insecure = true\n\n[registry."reg.lan"]\n  http = false\n  ca = ["/w/ca.pem"]\n',
    );
  });
});

describe('docker login', () => {
  it('sends the password on stdin only', async () => {
    const exec = fakeExec(() => ({}));
    await dockerLogin(exec, 'ghcr.io', 'bot', 'p4ss');
    expect(exec.calls.map((c) => [c.line, c.options.input])).toEqual([
      ['docker login --username bot --password-stdin ghcr.io', 'p4ss'],
    ]);
  });

  it('explains an untrusted registry certificate differently from wrong credentials', async () => {
    const untrusted = fakeExec(() => ({
      exitCode: 1,
      stderr: 'x509: certificate signed by unknown authority',
    }));
    await expect(dockerLogin(untrusted, 'reg.lan', 'bot', 'p')).rejects.toThrow(
      /The Docker daemon does not trust the certificate of reg\.lan: put its CA at \/etc\/docker\/certs\.d\/reg\.lan\/ca\.crt/,
    );
    const denied = fakeExec(() => ({ exitCode: 1, stderr: 'unauthorized: incorrect username or password' }));
    await expect(dockerLogin(denied, 'reg.lan', 'bot', 'p')).rejects.toThrow(
      /docker login to reg\.lan as bot failed: .*Check registry-username and registry-password\./s,
    );
  });
});

describe('buildx builder inputs (argv)', () => {
  const base = {
    builder: 'default',
    platform: 'linux/arm64',
    imageName: 'ghcr.io/acme/agent',
    context: '/w',
    file: '/w/Dockerfile',
    metadataFile: '/t/m.json',
    buildArgs: [],
    labels: {},
    annotations: {},
    cacheFrom: [],
    cacheTo: [],
  };

  it('exports an OCI layout directory instead of pushing, keeping rewrite-timestamp', () => {
    const args = buildxBuildArgs({ ...base, ociLayoutDir: '/t/layout', sourceDateEpoch: 1 });
    expect(args[args.indexOf('--output') + 1]).toBe(
      'type=oci,dest=/t/layout,tar=false,rewrite-timestamp=true',
    );
  });

  it('names secrets by environment variable only', () => {
    const args = buildxBuildArgs({
      ...base,
      secrets: [['token', 'the-value']],
      secretFiles: [['npmrc', '/w/.npmrc']],
    });
    expect(args.join(' ')).toContain(
      '--secret id=token,env=EDGESHIP_BUILD_SECRET_0 --secret id=npmrc,src=/w/.npmrc',
    );
    expect(args.join(' ')).not.toContain('the-value');
  });

  it('creates docker-container builders with an image, and remote ones', () => {
    expect(createBuilderArgs('b', undefined, 'reg/buildkit@sha256:1')).toEqual([
      'buildx',
      'create',
      '--name',
      'b',
      '--driver',
      'docker-container',
      '--driver-opt',
      'network=host',
      '--driver-opt',
      'image=reg/buildkit@sha256:1',
      '--bootstrap',
    ]);
    expect(createRemoteBuilderArgs('b', 'tcp://h:1234')).toEqual([
      'buildx',
      'create',
      '--name',
      'b',
      '--driver',
      'remote',
      'tcp://h:1234',
      '--bootstrap',
    ]);
  });

  it('reads the driver from docker buildx inspect', () => {
    const inspect =
      'Name:          default\nDriver:        docker\nLast Activity: 2026-12-01\n\nNodes:\nName:     default\n';
    expect(parseBuilderDriver(inspect)).toBe('docker');
    expect(parseBuilderDriver('no such thing')).toBeUndefined();
  });
});
