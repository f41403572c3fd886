import { afterEach, describe, expect, it } from 'vitest';

import {
  discardStagedRelease,
  publishStagedRelease,
  ReleaseApiError,
  stageReleaseAssets,
  type GitHubApi,
  type ReleaseAsset,
  type StagedRelease,
  type StageReleaseAssetsOptions,
} from '../../../src/github/release-assets.js';
import {
  startGitHubApiStandIn,
  type GitHubApiStandIn,
  type StartGitHubApiStandInOptions,
} from '../../e2e/harness/github-api.js';

const TAG = 'v1.2.0';

let standIn: GitHubApiStandIn | undefined;

afterEach(async () => {
  await standIn?.stop();
  standIn = undefined;
});

async function start(options?: StartGitHubApiStandInOptions): Promise<GitHubApiStandIn> {
  standIn = await startGitHubApiStandIn(options);
  return standIn;
}

function harness(server: GitHubApiStandIn, overrides: Partial<GitHubApi> = {}) {
  const files = new Map<string, Buffer>();
  const infos: string[] = [];
  const warnings: string[] = [];
  const sleeps: number[] = [];
  const api: GitHubApi = {
    apiUrl: server.apiUrl,
    token: server.token,
    repository: server.repository,
    fetchImpl: fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    retry: { attempts: 3, baseDelayMs: 10 },
    ...overrides,
  };
  const deps = {
    readFile: async (file: string) => {
      const content = files.get(file);
      if (!content) throw new Error(`ENOENT: no such file, open '${file}'`);
      return content;
    },
    log: {
      info: (message: string) => infos.push(message),
      warning: (message: string) => warnings.push(message),
    },
  };
  return {
    api,
    deps,
    files,
    infos,
    warnings,
    sleeps,
    stage: (assets: ReleaseAsset[], options?: StageReleaseAssetsOptions) =>
      stageReleaseAssets(api, TAG, assets, deps, options),
    publish: (staged: StagedRelease) => publishStagedRelease(api, staged, deps),
    discard: (staged: StagedRelease) => discardStagedRelease(api, staged, deps),
  };
}

function asset(name: string): ReleaseAsset {
  return { name, file: `/work/out/${name}`, contentType: '' };
}

async function rejection(promise: Promise<unknown>): Promise<ReleaseApiError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ReleaseApiError);
  return error as ReleaseApiError;
}

function calls(server: GitHubApiStandIn): string[] {
  return server.requests().map((entry) => `${entry.method} ${entry.path.replace(/\?.*$/, '')}`);
}

const RELEASES = '/repos/edgeship-test/widget/releases';

describe('stageReleaseAssets → publishStagedRelease', () => {
  it('creates a draft, uploads the assets to it, and publishes it', async () => {
    const server = await start();
    const h = harness(server);
    h.files.set('/work/out/sbom.spdx.json', Buffer.from('{"spdx":true}'));

    const staged = await h.stage([asset('sbom.spdx.json')], { prerelease: true, name: 'Widget 1.2.0' });

    expect(staged).toMatchObject({ tag: TAG, created: true, draft: true });
    expect(staged.releaseUrl).toMatch(/\/edgeship-test\/widget\/releases\/tag\/untagged-[0-9a-f]+$/);
    expect(staged.assets).toEqual([
      expect.objectContaining({ name: 'sbom.spdx.json', size: 13, replaced: false }),
    ]);
    let [release] = server.releases();
    expect(release).toMatchObject({
      id: staged.releaseId,
      tag_name: TAG,
      name: 'Widget 1.2.0',
      prerelease: true,
      draft: true,
    });
    expect(release?.assets.map((entry) => entry.content.toString())).toEqual(['{"spdx":true}']);
    expect(calls(server)).toEqual([
      `GET ${RELEASES}/tags/v1.2.0`,
      `GET ${RELEASES}`,
      `POST ${RELEASES}`,
      `GET ${RELEASES}/${staged.releaseId}/assets`,
      `POST ${RELEASES}/${staged.releaseId}/assets`,
    ]);
    // Nothing is visible by tag before publishing.
    const byTag = await fetch(`${server.apiUrl}${RELEASES}/tags/${TAG}`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    expect(byTag.status).toBe(404);

    const url = await h.publish(staged);

    expect(url).toBe(`${server.apiUrl}/edgeship-test/widget/releases/tag/v1.2.0`);
    [release] = server.releases();
    expect(release).toMatchObject({ draft: false, tag_name: TAG, prerelease: true });
    expect(release?.assets.map((entry) => entry.name)).toEqual(['sbom.spdx.json']);
    expect(calls(server).at(-1)).toBe(`PATCH ${RELEASES}/${staged.releaseId}`);
    expect(h.infos).toContain(`Published release ${url} for tag v1.2.0 (id ${staged.releaseId})`);
    expect(h.warnings).toEqual([]);
  });

  it('reuses an existing draft for the tag, replacing its same-named assets', async () => {
    const server = await start({
      releases: [
        { tag_name: 'v1.1.0' },
        {
          tag_name: TAG,
          draft: true,
          name: 'Hand-written notes',
          assets: [
            { name: 'a.txt', content: 'old' },
            { name: 'keep.txt', content: 'kept' },
          ],
        },
      ],
    });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('new'));

    const staged = await h.stage([asset('a.txt')]);

    expect(staged).toMatchObject({ created: false, draft: true });
    expect(staged.assets[0]).toMatchObject({ name: 'a.txt', replaced: true });
    expect(calls(server)).not.toContain(`POST ${RELEASES}`);
    expect(h.infos[0]).toContain('Found draft release');
    const url = await h.publish(staged);
    expect(url).toMatch(/\/releases\/tag\/v1\.2\.0$/);
    const release = server.releases().find((entry) => entry.tag_name === TAG);
    expect(release).toMatchObject({ draft: false, name: 'Hand-written notes' });
    expect(release?.assets.map((entry) => [entry.name, entry.content.toString()])).toEqual([
      ['keep.txt', 'kept'],
      ['a.txt', 'new'],
    ]);
    expect(server.releases()).toHaveLength(2);
  });

  it('finds a draft on a later page of the release list, following Link headers', async () => {
    const server = await start({
      releases: [
        { tag_name: TAG, draft: true },
        ...Array.from({ length: 150 }, (_, index) => ({ tag_name: `v0.${index}.0` })),
      ],
    });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const staged = await h.stage([asset('a.txt')]);

    expect(staged).toMatchObject({ created: false, draft: true, releaseId: 1 });
    const listings = server.requests().filter((entry) => /\/releases\?|\/releases$/.test(entry.path));
    expect(listings.map((entry) => entry.path)).toEqual([
      `${RELEASES}?per_page=100`,
      '/repositories/700001/releases?per_page=100&page=2',
    ]);
  });

  it('uses the newest of several drafts for the tag, and says so', async () => {
    const server = await start({
      releases: [
        { tag_name: TAG, draft: true },
        { tag_name: TAG, draft: true },
      ],
    });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const staged = await h.stage([asset('a.txt')]);

    expect(staged.releaseId).toBe(2);
    expect(h.warnings).toEqual(['There are 2 draft releases for tag v1.2.0 (ids 2, 1); using the newest, 2']);
  });

  it('uses an existing published release as before, and publishing it is a no-op', async () => {
    const server = await start({ releases: [{ tag_name: TAG }] });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const staged = await h.stage([asset('a.txt')]);
    const before = server.requests().length;

    expect(staged).toMatchObject({ created: false, draft: false });
    expect(await h.publish(staged)).toBe(staged.releaseUrl);
    expect(await h.discard(staged)).toBe(false);
    expect(server.requests()).toHaveLength(before);
    expect(server.releases()[0]?.assets).toHaveLength(1);
  });

  it('does not create a draft when createIfMissing is false', async () => {
    const server = await start({ releases: [{ tag_name: 'v1.1.0', draft: true }] });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const error = await rejection(h.stage([asset('a.txt')], { createIfMissing: false }));

    expect(error.status).toBe(404);
    expect(error.message).toContain('there is no release for this tag, neither published nor draft');
    expect(server.requests().map((entry) => entry.method)).toEqual(['GET', 'GET']);
  });

  it('retries a publish answered with a server error', async () => {
    const server = await start({
      failures: [{ method: 'PATCH', pathPattern: /\/releases\/\d+$/, status: 502, times: 1 }],
    });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));
    const staged = await h.stage([asset('a.txt')]);

    await h.publish(staged);

    expect(server.releases()[0]?.draft).toBe(false);
    expect(h.warnings).toEqual([
      'publish release (tag v1.2.0): HTTP 502 (server error); retrying in 0.0 s (attempt 2 of 3)',
    ]);
  });
});

describe('publishStagedRelease failures', () => {
  it('explains a 403 as a missing contents: write permission, without the token', async () => {
    const server = await start({
      failures: [
        {
          method: 'PATCH',
          pathPattern: /\/releases\/\d+$/,
          status: 403,
          times: 1,
          headers: { 'x-accepted-github-permissions': 'contents=write' },
        },
      ],
    });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));
    const staged = await h.stage([asset('a.txt')]);

    const error = await rejection(h.publish(staged));

    expect(error.status).toBe(403);
    expect(error.operation).toBe('publish release');
    expect(error.message).toContain(
      'publish release for tag v1.2.0 in edgeship-test/widget failed: ' +
        'HTTP 403 Forbidden: Resource not accessible by integration',
    );
    expect(error.message).toContain('The token lacks the contents: write permission on edgeship-test/widget');
    expect(error.message).toContain('\n\npermissions:\n  contents: write\n\n');
    expect(
      JSON.stringify({ message: error.message, stack: error.stack, warnings: h.warnings, infos: h.infos }),
    ).not.toContain(server.token);
    expect(h.sleeps).toEqual([]);
    expect(server.releases()[0]?.draft).toBe(true);

    // The caller then discards the draft it created.
    expect(await h.discard(staged)).toBe(true);
    expect(server.releases()).toEqual([]);
  });

  it('says the draft is gone when GitHub answers 404 for it', async () => {
    const server = await start();
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));
    const staged = await h.stage([asset('a.txt')]);
    await fetch(`${server.apiUrl}${RELEASES}/${staged.releaseId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${server.token}` },
    });

    const error = await rejection(h.publish(staged));

    expect(error.status).toBe(404);
    expect(error.message).toContain(`Draft release ${staged.releaseId} no longer exists`);
  });

  it('names the other published release when the tag was taken meanwhile', async () => {
    const server = await start({ releases: [{ tag_name: TAG }, { tag_name: TAG, draft: true }] });
    const h = harness(server);
    const draft = server.releases()[1];
    const staged: StagedRelease = {
      tag: TAG,
      releaseId: draft?.id ?? 0,
      releaseUrl: 'https://example.test/draft',
      created: true,
      draft: true,
      assets: [],
    };

    const error = await rejection(h.publish(staged));

    expect(error.status).toBe(422);
    expect(error.message).toContain('Another release for tag v1.2.0 was published meanwhile');
    expect(error.message).toContain('the draft is https://example.test/draft');
  });
});

describe('discardStagedRelease (tagging failed)', () => {
  it('deletes the draft this run created, assets included', async () => {
    const server = await start({ releases: [{ tag_name: 'v1.1.0' }] });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));
    const staged = await h.stage([asset('a.txt')]);
    expect(server.releases()).toHaveLength(2);

    expect(await h.discard(staged)).toBe(true);

    expect(server.releases().map((entry) => entry.tag_name)).toEqual(['v1.1.0']);
    expect(calls(server).slice(-2)).toEqual([
      `GET ${RELEASES}/${staged.releaseId}`,
      `DELETE ${RELEASES}/${staged.releaseId}`,
    ]);
    expect(h.infos.at(-1)).toBe(
      `Deleted draft release ${staged.releaseId} for tag v1.2.0 created by this run`,
    );
  });

  it('leaves a pre-existing draft alone (its new assets stay on it)', async () => {
    const server = await start({ releases: [{ tag_name: TAG, draft: true }] });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));
    const staged = await h.stage([asset('a.txt')]);
    const before = server.requests().length;

    expect(await h.discard(staged)).toBe(false);

    expect(server.requests()).toHaveLength(before);
    expect(server.releases()).toMatchObject([{ tag_name: TAG, draft: true }]);
    expect(h.infos.at(-1)).toContain('this run did not create it');
  });

  it('does not delete a release that was published meanwhile', async () => {
    const server = await start();
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));
    const staged = await h.stage([asset('a.txt')]);
    await h.publish(staged);

    expect(await h.discard(staged)).toBe(false);

    expect(server.releases()).toMatchObject([{ draft: false }]);
    expect(server.requests().some((entry) => entry.method === 'DELETE')).toBe(false);
    expect(h.warnings.at(-1)).toContain('it was published meanwhile');
  });

  it('never throws: a failing delete is a warning without the token', async () => {
    const token = 'ghs_0123456789abcdefghijklmnopqrstuvwxyz';
    const server = await start({
      token,
      failures: [
        {
          method: 'DELETE',
          pathPattern: /\/releases\/\d+$/,
          status: 500,
          times: 10,
          // The server echoes the token.
          body: { message: `internal error for Bearer ${token}` },
        },
      ],
    });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));
    const staged = await h.stage([asset('a.txt')]);

    expect(await h.discard(staged)).toBe(false);

    expect(server.releases()).toHaveLength(1);
    const warning = h.warnings.at(-1) ?? '';
    expect(warning).toContain(`Could not delete draft release ${staged.releaseId} for tag v1.2.0`);
    expect(warning).toContain('HTTP 500 Internal Server Error: internal error for Bearer ***');
    expect(warning).toContain(`Delete it by hand: ${staged.releaseUrl}`);
    expect(JSON.stringify({ warnings: h.warnings, infos: h.infos })).not.toContain(token);

    const offline = await discardStagedRelease(
      {
        ...h.api,
        fetchImpl: (async () => {
          throw new TypeError('fetch failed');
        }) as typeof fetch,
      },
      staged,
      h.deps,
    );
    expect(offline).toBe(false);
    const invalid = await discardStagedRelease({ ...h.api, repository: 'not a repo' }, staged, h.deps);
    expect(invalid).toBe(false);
    expect(h.warnings.at(-1)).toContain('invalid GitHub repository');
  });
});

describe('immutable releases', () => {
  it('a draft takes assets; publishing makes it immutable', async () => {
    const server = await start({ immutableReleases: true });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const staged = await h.stage([asset('a.txt')]);
    expect(server.releases()).toMatchObject([{ draft: true, immutable: false }]);
    await h.publish(staged);
    expect(server.releases()).toMatchObject([{ draft: false, immutable: true }]);

    // Staging again for the now immutable release fails with the clear error.
    const error = await rejection(h.stage([asset('a.txt')]));
    expect(error.message).toContain('is immutable');
    expect(error.message).toContain('Assets of a published immutable release cannot be added');
  });

  it('a seeded draft marked immutable becomes immutable when published', async () => {
    const server = await start({ releases: [{ tag_name: TAG, draft: true, immutable: true }] });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const staged = await h.stage([asset('a.txt')]);
    expect(staged.assets).toHaveLength(1);
    await h.publish(staged);

    expect(server.releases()).toMatchObject([{ draft: false, immutable: true }]);
    const moved = await fetch(`${server.apiUrl}${RELEASES}/${staged.releaseId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ draft: true }),
    });
    expect(moved.status).toBe(422);
  });
});
