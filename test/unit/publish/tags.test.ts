import { describe, expect, it } from 'vitest';
import { memoryLog } from '../helpers/memory-host.js';
import { applyTags, planTags, releaseTagList, TagConflictError } from '../../../src/publish/tags.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

/** A tag table that behaves like a registry's, with a hook to move a tag behind the publisher's back. */
function tagTable(
  initial: Record<string, string>,
  onHead?: (tag: string, table: Map<string, string>) => void,
) {
  const table = new Map(Object.entries(initial));
  return {
    table,
    client: {
      headManifest: async (_repo: string, tag: string) => {
        onHead?.(tag, table);
        const digest = table.get(tag);
        return digest ? { digest, mediaType: 'application/vnd.oci.image.index.v1+json', size: 1 } : undefined;
      },
      putManifest: async (_repo: string, tag: string) => {
        table.set(tag, d('n'));
        return d('n');
      },
      deleteManifest: async (_repo: string, tag: string) => table.delete(tag),
    },
  };
}

describe('tags', () => {
  const index = {
    body: Buffer.from('{}'),
    mediaType: 'application/vnd.oci.image.index.v1+json',
    digest: d('n'),
  };

  it('refuses to move a protected tag unless overwrite is set', async () => {
    const { client } = tagTable({ '1.2.3': d('o') });
    await expect(
      planTags(client, 'r', 'reg/r', [{ tag: '1.2.3', protected: true }], d('n'), false),
    ).rejects.toThrow(/reg\/r:1\.2\.3 already exists and points at sha256:o{64}.*overwrite: true/s);
    expect(await planTags(client, 'r', 'reg/r', [{ tag: '1.2.3', protected: true }], d('n'), true)).toEqual([
      { tag: '1.2.3', protected: true, previous: d('o') },
    ]);
  });

  it('writes moving tags first and the release tag last', async () => {
    const { client, table } = tagTable({ latest: d('o') });
    const plan = await planTags(
      client,
      'r',
      'reg/r',
      [
        { tag: '1.2.3', protected: true },
        { tag: 'latest', protected: false },
      ],
      d('n'),
      false,
    );
    expect(await applyTags(client, 'r', plan, index, async () => undefined, memoryLog())).toEqual([
      'latest',
      '1.2.3',
    ]);
    expect(Object.fromEntries(table)).toEqual({ latest: d('n'), '1.2.3': d('n') });
  });

  it('stops, and puts back what it wrote, when another run moved a tag after planning', async () => {
    let moved = false;
    const { client, table } = tagTable({ latest: d('o'), production: d('o') }, (tag, t) => {
      // A concurrent release moves `production` between our plan and our write.
      if (tag === 'production' && !moved && t.get('latest') === d('n')) {
        t.set('production', d('c'));
        moved = true;
      }
    });
    const plan = await planTags(
      client,
      'r',
      'reg/r',
      [
        { tag: 'latest', protected: false },
        { tag: 'production', protected: false },
      ],
      d('n'),
      false,
    );
    const error = await applyTags(
      client,
      'r',
      plan,
      index,
      async () => ({ body: Buffer.from('old'), mediaType: 'x' }),
      memoryLog(),
    ).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /production moved while this release was being published .*concurrency group/s,
    );
    expect((error as Error & { cause?: unknown }).cause).toBeInstanceOf(TagConflictError);
    expect(table.get('production')).toBe(d('c'));
  });
});

describe('releaseTagList', () => {
  it("protects a release's exact version and adds the channel tag, which moves", () => {
    expect(
      releaseTagList({
        tags: ['1.2.3', '1.2', '1', 'latest'],
        version: '1.2.3',
        kind: 'release',
        channel: 'production',
      }),
    ).toEqual([
      { tag: '1.2.3', protected: true },
      { tag: '1.2', protected: false },
      { tag: '1', protected: false },
      { tag: 'latest', protected: false },
      { tag: 'production', protected: false },
    ]);
    expect(
      releaseTagList({ tags: ['1.3.0-rc.1'], version: '1.3.0-rc.1', kind: 'prerelease', channel: 'staging' }),
    ).toEqual([
      { tag: '1.3.0-rc.1', protected: true },
      { tag: 'staging', protected: false },
    ]);
  });

  it('protects nothing on branches, pull requests and other tags, which have no channel tag', () => {
    expect(releaseTagList({ tags: ['main'], version: 'main', kind: 'branch', channel: 'dev' })).toEqual([
      { tag: 'main', protected: false },
    ]);
    expect(
      releaseTagList({ tags: ['pr-12'], version: 'pr-12', kind: 'pull-request', channel: 'dev' }),
    ).toEqual([{ tag: 'pr-12', protected: false }]);
  });
});
