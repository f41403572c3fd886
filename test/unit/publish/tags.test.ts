import { describe, expect, it } from 'vitest';
import { memoryLog } from '../helpers/memory-host.js';
import { TagWriteError } from '../../../src/publish/reconcile-tags.js';
import {
  applyTags,
  assertNoTagConflict,
  readTagPlan,
  releaseTagList,
  TagConflictError,
} from '../../../src/publish/tags.js';
import type { TagPlanEntry } from '../../../src/publish/tags.js';

/** What a publish does before writing anything: read where each tag points, then refuse a conflict. */
async function planTags(
  client: Parameters<typeof readTagPlan>[0],
  repository: string,
  imageName: string,
  tags: ReadonlyArray<{ tag: string; protected: boolean }>,
  indexDigest: string,
  overwrite: boolean,
): Promise<TagPlanEntry[]> {
  const plan = await readTagPlan(client, repository, tags);
  if (!overwrite) assertNoTagConflict(plan, imageName, indexDigest);
  return plan;
}

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

  it('checks every tag at once, then writes in rounds: the first moving tag alone, the other moving tags at once, then the release tags, then reads all back at once', async () => {
    const { client } = tagTable({});
    const events: string[] = [];
    let inFlight = 0;
    let most = 0;
    const traced =
      <A extends unknown[], R>(kind: string, fn: (repo: string, tag: string, ...rest: A) => Promise<R>) =>
      async (repo: string, tag: string, ...rest: A): Promise<R> => {
        events.push(`${kind} ${tag}`);
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 2));
        inFlight--;
        return fn(repo, tag, ...rest);
      };
    const slow = {
      headManifest: traced('HEAD', client.headManifest),
      putManifest: traced('PUT', client.putManifest),
      deleteManifest: client.deleteManifest,
    };
    const wanted = ['1.2', '1', 'latest', 'production'].map((tag) => ({ tag, protected: false }));
    const plan = await planTags(
      slow,
      'r',
      'reg/r',
      [...wanted, { tag: '1.2.3', protected: true }],
      d('n'),
      false,
    );
    events.length = 0;
    most = 0;
    const log = memoryLog();
    await applyTags(slow, 'r', plan, index, async () => undefined, log);
    expect(events).toEqual([
      ...['1.2', '1', 'latest', 'production', '1.2.3'].map((t) => `HEAD ${t}`),
      'PUT 1.2',
      'PUT 1',
      'PUT latest',
      'PUT production',
      'PUT 1.2.3',
      ...['1.2', '1', 'latest', 'production', '1.2.3'].map((t) => `HEAD ${t}`),
    ]);
    expect(most).toBe(5);
    expect(log.lines).toEqual(['1.2', '1', 'latest', 'production', '1.2.3'].map((t) => `tagged ${t}`));
  });

  it('stops before writing any tag when another run moved one after planning (every tag is checked first)', async () => {
    let moved = false;
    let planned = false;
    const { client, table } = tagTable({ latest: d('o'), production: d('o') }, (tag, t) => {
      // A concurrent release moves `production` between our plan and our write.
      if (tag === 'production' && planned && !moved) {
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
    planned = true;
    const puts: string[] = [];
    const counted = {
      ...client,
      putManifest: async (...args: Parameters<typeof client.putManifest>) => {
        puts.push(args[1]);
        return client.putManifest(...args);
      },
    };
    const error = await applyTags(
      counted,
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
    expect(table.get('latest')).toBe(d('o'));
    expect(puts).toEqual([]);
  });
});

describe('applyTags when a write fails', () => {
  const index = {
    body: Buffer.from('{}'),
    mediaType: 'application/vnd.oci.image.index.v1+json',
    digest: d('n'),
  };

  it('succeeds when the registry stored every tag though a reply was lost', async () => {
    const { client, table } = tagTable({ latest: d('o') });
    const lost = {
      ...client,
      putManifest: async (repo: string, tag: string) => {
        await client.putManifest(repo, tag);
        if (tag === '1.2.3') throw new Error('socket hang up (gave up after 4 attempts)');
        return d('n');
      },
    };
    const plan = [
      { tag: '1.2.3', protected: true },
      { tag: 'latest', protected: false, previous: d('o') },
    ];
    const log = memoryLog();
    expect(await applyTags(lost, 'r', plan, index, async () => undefined, log)).toEqual(['latest', '1.2.3']);
    expect(Object.fromEntries(table)).toEqual({ latest: d('n'), '1.2.3': d('n') });
    expect(log.lines.join('\n')).toMatch(
      /a registry reply was lost \(socket hang up.*\), but .*The release is complete/,
    );
  });

  it('restores what it can and reports each tag as read back, the release tag first', async () => {
    const { client, table } = tagTable({ latest: d('o') });
    const failing = {
      ...client,
      putManifest: async (repo: string, tag: string, body: Buffer) => {
        if (tag === '1.2.3') throw new Error('HTTP 500');
        if (body.toString() === 'old') {
          table.set(tag, d('o'));
          return d('o');
        }
        return client.putManifest(repo, tag);
      },
      deleteManifest: async () => {
        throw new Error('HTTP 400 DIGEST_INVALID');
      },
    };
    const plan = [
      { tag: '1.2.3', protected: true },
      { tag: 'latest', protected: false, previous: d('o') },
      { tag: 'edge', protected: false },
    ];
    const error = (await applyTags(
      failing,
      'r',
      plan,
      index,
      async () => ({ body: Buffer.from('old'), mediaType: 'x' }),
      memoryLog(),
    ).catch((e: unknown) => e)) as TagWriteError;
    expect(error).toBeInstanceOf(TagWriteError);
    expect(error.releaseTagOnIndex).toBe(false);
    expect(error.message).toBe(
      'writing the tags failed: HTTP 500. The tags as read back from the registry:\n' +
        '  release tag 1.2.3: unchanged, absent (not written)\n' +
        `  latest: restored to ${d('o')}\n` +
        `  edge: could not be restored (HTTP 400 DIGEST_INVALID); points at the new index ${d('n')}\n` +
        'Re-run the job, or in the registry delete tag edge (this release is not published).',
    );
    expect(Object.fromEntries(table)).toEqual({ latest: d('o'), edge: d('n') });
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
