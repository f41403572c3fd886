import { describe, expect, it } from 'vitest';
import {
  CHANNEL_BASELINE_TAGS,
  baselineReference,
  channelTag,
  checkDowngrade,
  DowngradeError,
  previousVersionFromIndexAnnotations,
  readBaseline,
  type VersionRelation,
} from '../../../src/deployment/baseline.js';
import { memoryLog } from '../helpers/memory-host.js';
import type { FetchedManifest } from '../../../src/registry/client.js';
import { OCI_IMAGE_INDEX, OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import type { Channel } from '../../../src/release/metadata.js';

describe('channel baseline tags', () => {
  it('production and staging have one, dev has none', () => {
    expect(channelTag('production')).toBe('production');
    expect(channelTag('staging')).toBe('staging');
    expect(channelTag('dev')).toBeUndefined();
    expect(CHANNEL_BASELINE_TAGS).toEqual({ production: 'production', staging: 'staging', dev: null });
  });

  it('baselineReference', () => {
    expect(baselineReference('ghcr.io/acme/agent', 'production')).toBe('ghcr.io/acme/agent:production');
    expect(baselineReference('ghcr.io/acme/agent', 'dev')).toBeUndefined();
  });
});

describe('checkDowngrade', () => {
  const table: Array<{
    next: string;
    previous: string | undefined;
    channel?: Channel;
    allow?: boolean;
    ok: boolean;
    relation: VersionRelation;
    warns?: boolean;
  }> = [
    { next: '1.1.9', previous: '1.2.0', ok: false, relation: 'downgrade' },
    { next: '1.1.9', previous: '1.2.0', allow: true, ok: true, relation: 'downgrade', warns: true },
    { next: '1.2.0', previous: '1.2.0', ok: true, relation: 're-release' },
    { next: '1.2.0', previous: '1.2.0+build.1', ok: true, relation: 're-release' },
    { next: '1.2.1', previous: '1.2.0', ok: true, relation: 'upgrade' },
    { next: '1.10.0', previous: '1.9.0', ok: true, relation: 'upgrade' },
    { next: '2.0.0', previous: 'v1.9.9', ok: true, relation: 'upgrade' },
    { next: '1.2.0', previous: 'v1.3.0', ok: false, relation: 'downgrade' },
    // Pre-releases sort below their release, identifiers compare numerically then lexically.
    { next: '1.2.0', previous: '1.2.0-rc.2', ok: true, relation: 'upgrade' },
    { next: '1.2.0-rc.1', previous: '1.2.0', channel: 'staging', ok: false, relation: 'downgrade' },
    { next: '1.2.0-rc.10', previous: '1.2.0-rc.9', channel: 'staging', ok: true, relation: 'upgrade' },
    { next: '1.2.0-alpha', previous: '1.2.0-beta', channel: 'staging', ok: false, relation: 'downgrade' },
    { next: '1.3.0-rc.1', previous: '1.2.5', channel: 'staging', ok: true, relation: 'upgrade' },
    { next: '1.2.0-rc.1', previous: '1.2.0-rc.1', channel: 'staging', ok: true, relation: 're-release' },
    // Nothing to compare with.
    { next: '1.2.0', previous: undefined, ok: true, relation: 'first' },
    { next: '1.2.0', previous: 'nightly-2024', ok: true, relation: 'unknown', warns: true },
    { next: '1.2.0', previous: '', ok: true, relation: 'unknown', warns: true },
    { next: 'main', previous: '1.2.0', channel: 'dev', ok: true, relation: 'first' },
    { next: '0.0.1', previous: '9.9.9', channel: 'dev', ok: true, relation: 'first' },
  ];

  it.each(table)(
    '$previous → $next on $channel (allow $allow): ok=$ok $relation',
    ({ next, previous, channel = 'production', allow = false, ok, relation, warns = false }) => {
      const check = checkDowngrade(next, previous, channel, allow);
      expect(check.ok).toBe(ok);
      expect(check.relation).toBe(relation);
      expect(check.warning !== undefined).toBe(warns);
      expect(check.message).not.toBe('');
    },
  );

  it('says why a downgrade is refused and how to force it', () => {
    const check = checkDowngrade('1.1.9', '1.2.0', 'production', false);
    expect(check.message).toContain('1.1.9');
    expect(check.message).toContain('1.2.0');
    expect(check.message).toContain('production');
    expect(check.message).toContain('allow-downgrade: true');
  });

  it('warns which version is not semver', () => {
    expect(checkDowngrade('1.2.0', 'nightly', 'production', false).warning).toMatch(
      /current release "nightly" is not a semantic version/,
    );
  });
});

describe('previousVersionFromIndexAnnotations', () => {
  it('reads org.opencontainers.image.version', () => {
    expect(
      previousVersionFromIndexAnnotations({
        'org.opencontainers.image.version': '1.2.0',
        'org.opencontainers.image.revision': 'abc',
      }),
    ).toBe('1.2.0');
    expect(previousVersionFromIndexAnnotations({ 'org.opencontainers.image.version': ' 1.2.0 \n' })).toBe(
      '1.2.0',
    );
  });

  it('is undefined when missing, blank or not a string', () => {
    expect(previousVersionFromIndexAnnotations({})).toBeUndefined();
    expect(previousVersionFromIndexAnnotations(undefined)).toBeUndefined();
    expect(previousVersionFromIndexAnnotations(null)).toBeUndefined();
    expect(previousVersionFromIndexAnnotations(['1.2.0'])).toBeUndefined();
    expect(previousVersionFromIndexAnnotations({ 'org.opencontainers.image.version': '  ' })).toBeUndefined();
    expect(previousVersionFromIndexAnnotations({ 'org.opencontainers.image.version': 12 })).toBeUndefined();
  });
});

describe('readBaseline', () => {
  const d = (c: string) => `sha256:${c.repeat(64)}`;
  const manifest = (mediaType: string, json: unknown, digest: string): FetchedManifest => {
    const body = Buffer.from(JSON.stringify(json));
    return { digest, mediaType, size: body.length, body, json };
  };
  /** A registry holding the production channel's index (version `version`) over an arm64 image. */
  function registryWith(version: string | undefined) {
    const image = manifest(
      OCI_IMAGE_MANIFEST,
      { config: { digest: d('c') }, layers: [{ digest: d('l'), size: 100 }] },
      d('a'),
    );
    const index = manifest(
      OCI_IMAGE_INDEX,
      {
        manifests: [
          {
            mediaType: OCI_IMAGE_MANIFEST,
            digest: d('a'),
            size: 1,
            platform: { os: 'linux', architecture: 'arm64' },
          },
        ],
        ...(version === undefined ? {} : { annotations: { 'org.opencontainers.image.version': version } }),
      },
      d('i'),
    );
    const byRef = new Map([
      ['production', index],
      [index.digest, index],
      [image.digest, image],
    ]);
    const reads: string[] = [];
    return {
      reads,
      registry: {
        headManifest: async (_path: string, ref: string) => {
          reads.push(`HEAD ${ref}`);
          const found = byRef.get(ref);
          return found ? { digest: found.digest, mediaType: found.mediaType, size: found.size } : undefined;
        },
        getManifest: async (_path: string, ref: string) => {
          reads.push(`GET ${ref}`);
          const found = byRef.get(ref);
          if (!found) throw new Error(`no ${ref}`);
          return found;
        },
      },
    };
  }
  const request = (version: string, channel: Channel, allowDowngrade = false) => ({
    repository: 'acme/agent',
    release: { version, channel },
    allowDowngrade,
    platforms: ['linux/arm64', 'linux/amd64'],
  });

  it('reads the channel index and the image of each platform it has', async () => {
    const { registry, reads } = registryWith('1.2.2');
    const log = memoryLog();
    const baseline = await readBaseline(registry, request('1.2.3', 'production'), log);
    expect(baseline).toEqual({
      version: '1.2.2',
      index: d('i'),
      layersByPlatform: new Map([
        ['linux/arm64', { digest: d('a'), layers: [{ digest: d('l'), size: 100 }], configDigest: d('c') }],
      ]),
    });
    expect(reads).toEqual(['HEAD production', `GET ${d('i')}`, `GET ${d('a')}`]);
    expect(log.lines).toEqual([
      'linux/amd64 is not in the production baseline 1.2.2: its whole image counts as new',
      `baseline production = 1.2.2 ${d('i')}`,
    ]);
  });

  it('has none on the dev channel or before the first release of a channel', async () => {
    const { registry, reads } = registryWith('1.2.2');
    const log = memoryLog();
    expect(await readBaseline(registry, request('feature-x', 'dev'), log)).toBeUndefined();
    expect(reads).toEqual([]);
    const empty = { ...registry, headManifest: async () => undefined };
    expect(await readBaseline(empty, request('1.0.0', 'staging'), log)).toBeUndefined();
    expect(log.lines).toEqual([
      'channel dev keeps no baseline',
      'no staging baseline yet: this is the first staging release, every layer counts as new',
    ]);
  });

  it('refuses a downgrade unless allowed, and warns when the baseline has no version', async () => {
    const { registry } = registryWith('2.0.0');
    const refused = readBaseline(registry, request('1.2.3', 'production'), memoryLog());
    await expect(refused).rejects.toThrow(DowngradeError);
    await expect(refused).rejects.toThrow(/allow-downgrade/);
    const log = memoryLog();
    expect((await readBaseline(registry, request('1.2.3', 'production', true), log))?.version).toBe('2.0.0');
    expect(log.lines[0]).toMatch(/^warning: 1\.2\.3 is lower than/);

    const unversioned = memoryLog();
    const baseline = await readBaseline(
      registryWith(undefined).registry,
      request('1.2.3', 'production'),
      unversioned,
    );
    expect(baseline?.version).toBe('');
    expect(unversioned.lines[0]).toMatch(/^warning: Downgrade check skipped/);
    expect(unversioned.lines.at(-1)).toBe(`baseline production = (unversioned) ${d('i')}`);
  });
});
