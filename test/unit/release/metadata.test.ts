import { describe, expect, it } from 'vitest';
import {
  DOCKER_TAG_PATTERN,
  releaseMetadata,
  sanitizeTag,
  type Channel,
  type ReleaseContext,
  type ReleaseMetadata,
} from '../../../src/release/metadata.js';

const SHA = '860c1904a1ce19322e91ac35af1ab07466440c37';
const NOW = new Date('2026-03-04T05:06:07.089Z');

function ctx(ref: string, overrides: Partial<ReleaseContext> = {}): ReleaseContext {
  return {
    ref,
    sha: SHA,
    repository: 'octo-org/edge-agent',
    serverUrl: 'https://github.com',
    now: NOW,
    ...overrides,
  };
}

const LONG_BRANCH = `feature/${'a'.repeat(200)}`;

describe('releaseMetadata: tags, version, kind and channel per ref', () => {
  it.each<{
    name: string;
    ref: string;
    kind: ReleaseMetadata['kind'];
    version: string;
    semver: string | undefined;
    tags: string[];
    channel: Channel;
    warnings: RegExp[];
  }>([
    // docker/metadata-action README, type=semver table: v1.2.3 -> {{version}} 1.2.3, {{major}}.{{minor}} 1.2
    {
      name: 'stable tag with v prefix (metadata-action v1.2.3)',
      ref: 'refs/tags/v1.2.3',
      kind: 'release',
      version: '1.2.3',
      semver: '1.2.3',
      tags: ['1.2.3', '1.2', '1', 'latest'],
      channel: 'production',
      warnings: [],
    },
    {
      name: 'stable tag from the brief',
      ref: 'refs/tags/v1.8.2',
      kind: 'release',
      version: '1.8.2',
      semver: '1.8.2',
      tags: ['1.8.2', '1.8', '1', 'latest'],
      channel: 'production',
      warnings: [],
    },
    {
      name: 'stable tag without v prefix',
      ref: 'refs/tags/1.8.2',
      kind: 'release',
      version: '1.8.2',
      semver: '1.8.2',
      tags: ['1.8.2', '1.8', '1', 'latest'],
      channel: 'production',
      warnings: [],
    },
    {
      name: 'stable tag with multi-digit parts',
      ref: 'refs/tags/v10.20.30',
      kind: 'release',
      version: '10.20.30',
      semver: '10.20.30',
      tags: ['10.20.30', '10.20', '10', 'latest'],
      channel: 'production',
      warnings: [],
    },
    {
      name: 'x.0.0 release keeps its minor and major tags distinct',
      ref: 'refs/tags/v2.0.0',
      kind: 'release',
      version: '2.0.0',
      semver: '2.0.0',
      tags: ['2.0.0', '2.0', '2', 'latest'],
      channel: 'production',
      warnings: [],
    },
    // metadata-action: v2.0.8-beta.67 -> {{version}}, {{major}} and {{major}}.{{minor}} all give 2.0.8-beta.67
    {
      name: 'prerelease (metadata-action v2.0.8-beta.67)',
      ref: 'refs/tags/v2.0.8-beta.67',
      kind: 'prerelease',
      version: '2.0.8-beta.67',
      semver: '2.0.8-beta.67',
      tags: ['2.0.8-beta.67'],
      channel: 'staging',
      warnings: [],
    },
    {
      name: 'release candidate from the brief',
      ref: 'refs/tags/v1.8.2-rc.3',
      kind: 'prerelease',
      version: '1.8.2-rc.3',
      semver: '1.8.2-rc.3',
      tags: ['1.8.2-rc.3'],
      channel: 'staging',
      warnings: [],
    },
    {
      name: 'alpha without v prefix',
      ref: 'refs/tags/3.0.0-alpha',
      kind: 'prerelease',
      version: '3.0.0-alpha',
      semver: '3.0.0-alpha',
      tags: ['3.0.0-alpha'],
      channel: 'staging',
      warnings: [],
    },
    // metadata-action "Major version zero": 0.1.2 and 0.1 but not 0
    {
      name: 'major version zero (metadata-action v0.1.2)',
      ref: 'refs/tags/v0.1.2',
      kind: 'release',
      version: '0.1.2',
      semver: '0.1.2',
      tags: ['0.1.2', '0.1', 'latest'],
      channel: 'production',
      warnings: [],
    },
    {
      name: 'major version zero, minor zero',
      ref: 'refs/tags/v0.0.1',
      kind: 'release',
      version: '0.0.1',
      semver: '0.0.1',
      tags: ['0.0.1', '0.0', 'latest'],
      channel: 'production',
      warnings: [],
    },
    {
      name: 'major version zero prerelease',
      ref: 'refs/tags/v0.9.0-rc.1',
      kind: 'prerelease',
      version: '0.9.0-rc.1',
      semver: '0.9.0-rc.1',
      tags: ['0.9.0-rc.1'],
      channel: 'staging',
      warnings: [],
    },
    // {{version}} is major.minor.patch[-prerelease]: build metadata never reaches a tag
    {
      name: 'build metadata is dropped from tags and kept in semver',
      ref: 'refs/tags/v1.2.3+build.5',
      kind: 'release',
      version: '1.2.3',
      semver: '1.2.3+build.5',
      tags: ['1.2.3', '1.2', '1', 'latest'],
      channel: 'production',
      warnings: [/Build metadata "\+build\.5".*dropped/],
    },
    {
      name: 'prerelease with build metadata',
      ref: 'refs/tags/v1.0.0-rc.1+sha.5114f85',
      kind: 'prerelease',
      version: '1.0.0-rc.1',
      semver: '1.0.0-rc.1+sha.5114f85',
      tags: ['1.0.0-rc.1'],
      channel: 'staging',
      warnings: [/Build metadata "\+sha\.5114f85"/],
    },
    // not semver: warning, sanitised raw tag, dev channel, no latest
    {
      name: 'non-semver tag',
      ref: 'refs/tags/release-2024',
      kind: 'tag',
      version: 'release-2024',
      semver: undefined,
      tags: ['release-2024'],
      channel: 'dev',
      warnings: [/"release-2024" is not a valid semver/],
    },
    {
      name: 'two-part version is not semver (metadata-action 1.2 fixture)',
      ref: 'refs/tags/v1.2',
      kind: 'tag',
      version: 'v1.2',
      semver: undefined,
      tags: ['v1.2'],
      channel: 'dev',
      warnings: [/not a valid semver/],
    },
    {
      name: 'PEP 440 style prerelease is not semver (metadata-action v1.2.3rc2 fixture)',
      ref: 'refs/tags/v1.2.3rc2',
      kind: 'tag',
      version: 'v1.2.3rc2',
      semver: undefined,
      tags: ['v1.2.3rc2'],
      channel: 'dev',
      warnings: [/not a valid semver/],
    },
    {
      name: 'uppercase V prefix is not semver and keeps its case',
      ref: 'refs/tags/V1.2.3',
      kind: 'tag',
      version: 'V1.2.3',
      semver: undefined,
      tags: ['V1.2.3'],
      channel: 'dev',
      warnings: [/not a valid semver/],
    },
    {
      name: 'leading zero is not semver',
      ref: 'refs/tags/v01.2.3',
      kind: 'tag',
      version: 'v01.2.3',
      semver: undefined,
      tags: ['v01.2.3'],
      channel: 'dev',
      warnings: [/not a valid semver/],
    },
    {
      name: 'non-semver tag with slash and build-like plus is sanitised (metadata-action p1/v1.0.0 fixture)',
      ref: 'refs/tags/p1/v1.0.0+x',
      kind: 'tag',
      version: 'p1-v1.0.0-x',
      semver: undefined,
      tags: ['p1-v1.0.0-x'],
      channel: 'dev',
      warnings: [/not a valid semver/],
    },
    {
      name: 'non-semver tag named latest does not move latest',
      ref: 'refs/tags/latest',
      kind: 'tag',
      version: 'sha-860c190',
      semver: undefined,
      tags: ['sha-860c190'],
      channel: 'dev',
      warnings: [/not a valid semver/, /"latest", which is reserved/],
    },
    // branches: sanitised name + sha-<7> (metadata-action: refs/heads/releases/v1 -> releases-v1)
    {
      name: 'main branch',
      ref: 'refs/heads/main',
      kind: 'branch',
      version: 'main',
      semver: undefined,
      tags: ['main', 'sha-860c190'],
      channel: 'dev',
      warnings: [],
    },
    {
      name: 'branch with slash (metadata-action releases/v1)',
      ref: 'refs/heads/releases/v1',
      kind: 'branch',
      version: 'releases-v1',
      semver: undefined,
      tags: ['releases-v1', 'sha-860c190'],
      channel: 'dev',
      warnings: [],
    },
    {
      name: 'branch from the brief',
      ref: 'refs/heads/feature/x',
      kind: 'branch',
      version: 'feature-x',
      semver: undefined,
      tags: ['feature-x', 'sha-860c190'],
      channel: 'dev',
      warnings: [],
    },
    {
      name: 'branch with odd characters keeps case, collapses runs',
      ref: 'refs/heads/Fix/#42@Ünïcode--ok_1.x',
      kind: 'branch',
      version: 'Fix-42-n-code--ok_1.x',
      semver: undefined,
      tags: ['Fix-42-n-code--ok_1.x', 'sha-860c190'],
      channel: 'dev',
      warnings: [],
    },
    {
      name: 'branch with leading dot and dash is stripped',
      ref: 'refs/heads/.-hidden',
      kind: 'branch',
      version: 'hidden',
      semver: undefined,
      tags: ['hidden', 'sha-860c190'],
      channel: 'dev',
      warnings: [],
    },
    {
      name: 'branch that looks like semver is still a branch',
      ref: 'refs/heads/v1.2.3',
      kind: 'branch',
      version: 'v1.2.3',
      semver: undefined,
      tags: ['v1.2.3', 'sha-860c190'],
      channel: 'dev',
      warnings: [],
    },
    {
      name: 'long branch is truncated to 128 characters',
      ref: `refs/heads/${LONG_BRANCH}`,
      kind: 'branch',
      version: `feature-${'a'.repeat(120)}`,
      semver: undefined,
      tags: [`feature-${'a'.repeat(120)}`, 'sha-860c190'],
      channel: 'dev',
      warnings: [/208-character Docker tag; truncated to 128/],
    },
    {
      name: 'branch with no usable character falls back to the sha tag',
      ref: 'refs/heads/日本語',
      kind: 'branch',
      version: 'sha-860c190',
      semver: undefined,
      tags: ['sha-860c190'],
      channel: 'dev',
      warnings: [/no character usable/],
    },
    {
      name: 'branch named latest does not move latest',
      ref: 'refs/heads/latest',
      kind: 'branch',
      version: 'sha-860c190',
      semver: undefined,
      tags: ['sha-860c190'],
      channel: 'dev',
      warnings: [/reserved for stable semver releases/],
    },
    // pull requests (metadata-action: refs/pull/2/merge -> pr-2)
    {
      name: 'pull request merge ref (metadata-action pr-2)',
      ref: 'refs/pull/2/merge',
      kind: 'pull-request',
      version: 'pr-2',
      semver: undefined,
      tags: ['pr-2', 'sha-860c190'],
      channel: 'dev',
      warnings: [],
    },
    {
      name: 'pull request from the brief',
      ref: 'refs/pull/12/merge',
      kind: 'pull-request',
      version: 'pr-12',
      semver: undefined,
      tags: ['pr-12', 'sha-860c190'],
      channel: 'dev',
      warnings: [],
    },
    {
      name: 'pull request head ref',
      ref: 'refs/pull/345/head',
      kind: 'pull-request',
      version: 'pr-345',
      semver: undefined,
      tags: ['pr-345', 'sha-860c190'],
      channel: 'dev',
      warnings: [],
    },
    // anything else
    {
      name: 'merge queue ref is other',
      ref: 'refs/merge-queue/main',
      kind: 'other',
      version: 'sha-860c190',
      semver: undefined,
      tags: ['sha-860c190'],
      channel: 'dev',
      warnings: [/not a tag, branch or pull request ref/],
    },
    {
      name: 'empty ref is other',
      ref: '',
      kind: 'other',
      version: 'sha-860c190',
      semver: undefined,
      tags: ['sha-860c190'],
      channel: 'dev',
      warnings: [/not a tag, branch or pull request ref/],
    },
    {
      name: 'bare refs/tags/ is other',
      ref: 'refs/tags/',
      kind: 'other',
      version: 'sha-860c190',
      semver: undefined,
      tags: ['sha-860c190'],
      channel: 'dev',
      warnings: [/not a tag, branch or pull request ref/],
    },
  ])('$name: $ref', ({ ref, kind, version, semver, tags, channel, warnings }) => {
    const meta = releaseMetadata(ctx(ref));
    expect(meta.kind).toBe(kind);
    expect(meta.version).toBe(version);
    expect(meta.semver).toBe(semver);
    expect(meta.tags).toEqual(tags);
    expect(meta.channel).toBe(channel);
    expect(meta.warnings).toHaveLength(warnings.length);
    warnings.forEach((pattern, i) => expect(meta.warnings[i]).toMatch(pattern));
    for (const tag of meta.tags) expect(tag).toMatch(DOCKER_TAG_PATTERN);
    expect(new Set(meta.tags).size).toBe(meta.tags.length);
    expect(meta.labels['org.opencontainers.image.version']).toBe(version);
  });

  it('has no semver key at all for non-semver refs', () => {
    expect('semver' in releaseMetadata(ctx('refs/heads/main'))).toBe(false);
    expect('semver' in releaseMetadata(ctx('refs/tags/v1.0.0'))).toBe(true);
  });

  it('omits the sha tag with a warning when the sha is not a commit id', () => {
    const meta = releaseMetadata(ctx('refs/heads/main', { sha: '' }));
    expect(meta.tags).toEqual(['main']);
    expect(meta.warnings).toEqual([expect.stringMatching(/not a hexadecimal commit id/)]);
  });

  it('lowercases an uppercase sha in the sha tag', () => {
    expect(releaseMetadata(ctx('refs/pull/1/merge', { sha: SHA.toUpperCase() })).tags).toEqual([
      'pr-1',
      'sha-860c190',
    ]);
  });

  it('warns when nothing at all can be tagged', () => {
    const meta = releaseMetadata(ctx('refs/heads/日本語', { sha: 'nope' }));
    expect(meta.tags).toEqual([]);
    expect(meta.version).toBe('');
    expect(meta.warnings.at(-1)).toMatch(/No Docker tag could be derived/);
  });
});

describe('releaseMetadata: extra tags', () => {
  it.each<{ name: string; ref: string; extra: string[]; tags: string[] }>([
    {
      name: 'appended after derived tags',
      ref: 'refs/tags/v1.8.2',
      extra: ['stable', 'edge_2026.03'],
      tags: ['1.8.2', '1.8', '1', 'latest', 'stable', 'edge_2026.03'],
    },
    {
      name: 'deduplicated against derived tags and each other',
      ref: 'refs/tags/v1.8.2',
      extra: ['latest', '1.8', 'nightly', 'nightly'],
      tags: ['1.8.2', '1.8', '1', 'latest', 'nightly'],
    },
    {
      name: 'trimmed, blank entries ignored',
      ref: 'refs/heads/main',
      extra: ['  canary ', '', '   '],
      tags: ['main', 'sha-860c190', 'canary'],
    },
    {
      name: 'uppercase and leading underscore are valid',
      ref: 'refs/pull/7/merge',
      extra: ['Preview', '_internal'],
      tags: ['pr-7', 'sha-860c190', 'Preview', '_internal'],
    },
    {
      name: 'a 128-character tag is valid',
      ref: 'refs/heads/main',
      extra: ['x'.repeat(128)],
      tags: ['main', 'sha-860c190', 'x'.repeat(128)],
    },
  ])('$name', ({ ref, extra, tags }) => {
    const meta = releaseMetadata(ctx(ref), extra);
    expect(meta.tags).toEqual(tags);
  });

  it('extra tags do not change version or channel', () => {
    const meta = releaseMetadata(ctx('refs/tags/v1.8.2-rc.3'), ['latest']);
    expect(meta.tags).toEqual(['1.8.2-rc.3', 'latest']);
    expect(meta.version).toBe('1.8.2-rc.3');
    expect(meta.channel).toBe('staging');
  });

  it.each([
    ['contains a space', 'has space'],
    ['contains a slash', 'feature/x'],
    ['contains a plus', '1.2.3+build'],
    ['includes a repository', 'ghcr.io/o/r:1.0'],
    ['contains a colon', 'app:1.0'],
    ['starts with a dot', '.hidden'],
    ['starts with a dash', '-rc'],
    ['is longer than 128 characters', 'y'.repeat(129)],
    ['is not ASCII', 'café'],
  ])('rejects an extra tag that %s', (_why, bad) => {
    let error: unknown;
    try {
      releaseMetadata(ctx('refs/tags/v1.8.2'), ['good', bad]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain('input `tags`');
    expect(message).toContain(JSON.stringify(bad));
    expect(message).toContain('[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}');
  });
});

describe('releaseMetadata: OCI labels and annotations', () => {
  it('fills every key from the repository details when present', () => {
    const meta = releaseMetadata(
      ctx('refs/tags/v1.8.2', {
        repo: {
          name: 'Edge Agent',
          description: 'Runs at the edge',
          license: 'Apache-2.0',
          htmlUrl: 'https://github.com/octo-org/edge-agent-home',
        },
      }),
    );
    const expected = {
      'org.opencontainers.image.created': '2026-03-04T05:06:07.089Z',
      'org.opencontainers.image.description': 'Runs at the edge',
      'org.opencontainers.image.licenses': 'Apache-2.0',
      'org.opencontainers.image.revision': SHA,
      'org.opencontainers.image.source': 'https://github.com/octo-org/edge-agent',
      'org.opencontainers.image.title': 'Edge Agent',
      'org.opencontainers.image.url': 'https://github.com/octo-org/edge-agent-home',
      'org.opencontainers.image.version': '1.8.2',
    };
    expect(meta.labels).toStrictEqual(expected);
    expect(meta.annotations).toStrictEqual(expected);
    expect(meta.annotations).not.toBe(meta.labels);
  });

  it.each<{ name: string; overrides: Partial<ReleaseContext>; ref: string; labels: Record<string, string> }>([
    {
      name: 'defaults without repository details',
      ref: 'refs/heads/feature/x',
      overrides: {},
      labels: {
        'org.opencontainers.image.created': '2026-03-04T05:06:07.089Z',
        'org.opencontainers.image.revision': SHA,
        'org.opencontainers.image.source': 'https://github.com/octo-org/edge-agent',
        'org.opencontainers.image.title': 'edge-agent',
        'org.opencontainers.image.url': 'https://github.com/octo-org/edge-agent',
        'org.opencontainers.image.version': 'feature-x',
      },
    },
    {
      name: 'empty description and license are omitted',
      ref: 'refs/pull/12/merge',
      overrides: { repo: { description: '', license: ' ', name: '', htmlUrl: '' } },
      labels: {
        'org.opencontainers.image.created': '2026-03-04T05:06:07.089Z',
        'org.opencontainers.image.revision': SHA,
        'org.opencontainers.image.source': 'https://github.com/octo-org/edge-agent',
        'org.opencontainers.image.title': 'edge-agent',
        'org.opencontainers.image.url': 'https://github.com/octo-org/edge-agent',
        'org.opencontainers.image.version': 'pr-12',
      },
    },
    {
      name: 'GHES server url with trailing slash, prerelease version',
      ref: 'refs/tags/v2.0.8-beta.67',
      overrides: {
        serverUrl: 'https://ghe.example.com/',
        repository: 'team/widget',
        repo: { license: 'MIT' },
        now: new Date(Date.UTC(2020, 0, 10, 0, 30)),
      },
      labels: {
        'org.opencontainers.image.created': '2020-01-10T00:30:00.000Z',
        'org.opencontainers.image.licenses': 'MIT',
        'org.opencontainers.image.revision': SHA,
        'org.opencontainers.image.source': 'https://ghe.example.com/team/widget',
        'org.opencontainers.image.title': 'widget',
        'org.opencontainers.image.url': 'https://ghe.example.com/team/widget',
        'org.opencontainers.image.version': '2.0.8-beta.67',
      },
    },
  ])('$name', ({ ref, overrides, labels }) => {
    const meta = releaseMetadata(ctx(ref, overrides));
    expect(meta.labels).toStrictEqual(labels);
    expect(meta.annotations).toStrictEqual(labels);
  });

  it('label keys are sorted', () => {
    const keys = Object.keys(releaseMetadata(ctx('refs/tags/v1.0.0', { repo: { description: 'd' } })).labels);
    expect(keys).toEqual([...keys].sort());
  });
});

describe('sanitizeTag', () => {
  it.each([
    ['feature/x', 'feature-x'],
    ['releases/v1', 'releases-v1'],
    ['Feature/UPPER', 'Feature-UPPER'],
    ['a//b  c', 'a-b-c'],
    ['1.2.3+build.5', '1.2.3-build.5'],
    ['.leading.dot', 'leading.dot'],
    ['--leading-dash', 'leading-dash'],
    ['/-./x', 'x'],
    ['_under', '_under'],
    ['trailing/', 'trailing-'],
    ['日本語', ''],
    ['', ''],
    ['z'.repeat(300), 'z'.repeat(128)],
    [`-${'q'.repeat(130)}`, 'q'.repeat(128)],
  ])('%j -> %j', (raw, expected) => {
    const tag = sanitizeTag(raw);
    expect(tag).toBe(expected);
    if (tag !== '') expect(tag).toMatch(DOCKER_TAG_PATTERN);
  });
});
