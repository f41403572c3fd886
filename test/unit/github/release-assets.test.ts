import { afterEach, describe, expect, it } from 'vitest';

import {
  contentTypeFor,
  ReleaseApiError,
  stageReleaseAssets,
  type GitHubApi,
  type ReleaseAsset,
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

interface Harness {
  api: GitHubApi;
  files: Map<string, Buffer>;
  infos: string[];
  warnings: string[];
  sleeps: number[];
  stage(assets: ReleaseAsset[], options?: StageReleaseAssetsOptions): ReturnType<typeof stageReleaseAssets>;
}

function harness(server: GitHubApiStandIn, overrides: Partial<GitHubApi> = {}): Harness {
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
    files,
    infos,
    warnings,
    sleeps,
    stage: (assets, options) => stageReleaseAssets(api, TAG, assets, deps, options),
  };
}

function asset(name: string, contentType = ''): ReleaseAsset {
  return { name, file: `/work/out/${name}`, contentType };
}

async function rejection(promise: Promise<unknown>): Promise<ReleaseApiError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ReleaseApiError);
  return error as ReleaseApiError;
}

describe('contentTypeFor', () => {
  it.each([
    ['sbom.spdx.json', 'application/spdx+json'],
    ['sbom.cdx.json', 'application/vnd.cyclonedx+json'],
    ['report.json', 'application/json'],
    ['REPORT.JSON', 'application/json'],
    ['agent.sigstore.json', 'application/json'],
    ['policy.yaml', 'application/yaml'],
    ['policy.yml', 'application/yaml'],
    ['grype.sarif', 'application/sarif+json'],
    ['checksums.txt', 'text/plain'],
    ['agent.tar.gz', 'application/gzip'],
    ['agent.zip', 'application/zip'],
    ['agent', 'application/octet-stream'],
    ['agent.bin', 'application/octet-stream'],
    ['dir.json/agent', 'application/octet-stream'],
  ])('%s → %s', (name, type) => {
    expect(contentTypeFor(name)).toBe(type);
  });
});

describe('stageReleaseAssets against the GitHub API stand-in', () => {
  it('creates a draft when there is no release, and uploads every asset with the API headers', async () => {
    const server = await start();
    const h = harness(server);
    h.files.set('/work/out/sbom.spdx.json', Buffer.from('{"spdxVersion":"SPDX-2.3"}'));
    h.files.set('/work/out/agent.sigstore.json', Buffer.from('{"mediaType":"bundle"}'));

    const result = await h.stage(
      [asset('sbom.spdx.json'), asset('agent.sigstore.json', 'application/custom+json')],
      {
        prerelease: true,
        name: 'Edge agent 1.2.0',
      },
    );

    expect(result.created).toBe(true);
    expect(result.draft).toBe(true);
    expect(result.assets.map((entry) => [entry.name, entry.size, entry.replaced])).toEqual([
      ['sbom.spdx.json', 26, false],
      ['agent.sigstore.json', 22, false],
    ]);
    expect(result.assets[0]?.url).toBe(
      `${server.apiUrl}/edgeship-test/widget/releases/download/v1.2.0/sbom.spdx.json`,
    );
    expect(result.assets[0]?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const [release] = server.releases();
    expect(release).toMatchObject({
      id: result.releaseId,
      tag_name: TAG,
      name: 'Edge agent 1.2.0',
      prerelease: true,
      draft: true,
    });
    expect(
      release?.assets.map((entry) => [entry.name, entry.content.toString(), entry.content_type]),
    ).toEqual([
      ['sbom.spdx.json', '{"spdxVersion":"SPDX-2.3"}', 'application/spdx+json'],
      ['agent.sigstore.json', '{"mediaType":"bundle"}', 'application/custom+json'],
    ]);

    const requests = server.requests();
    expect(requests.map((entry) => `${entry.server} ${entry.method} ${entry.path}`)).toEqual([
      'api GET /repos/edgeship-test/widget/releases/tags/v1.2.0',
      'api GET /repos/edgeship-test/widget/releases?per_page=100',
      'api POST /repos/edgeship-test/widget/releases',
      `api GET /repos/edgeship-test/widget/releases/${result.releaseId}/assets?per_page=100`,
      `uploads POST /repos/edgeship-test/widget/releases/${result.releaseId}/assets?name=sbom.spdx.json`,
      `uploads POST /repos/edgeship-test/widget/releases/${result.releaseId}/assets?name=agent.sigstore.json`,
    ]);
    for (const request of requests) {
      // Octokit sends the token with the `token` scheme; GitHub takes it like `Bearer`.
      expect(request.headers.authorization).toBe(`token ${server.token}`);
      expect(request.headers.accept).toBe('application/vnd.github+json');
      expect(request.headers['x-github-api-version']).toBe('2022-11-28');
      expect(request.headers['user-agent']).toMatch(/^edgeship /);
    }
    const upload = requests[4];
    expect(upload?.headers['content-type']).toBe('application/spdx+json');
    expect(upload?.headers['content-length']).toBe('26');
    expect(h.infos.some((line) => line.includes('Created draft release'))).toBe(true);
  });

  it('uses an existing release, found by tag, and derives the upload URL from its upload_url template', async () => {
    const server = await start({
      releases: [{ tag_name: 'v0.9.0' }, { tag_name: TAG, assets: [{ name: 'other.txt', content: 'keep' }] }],
    });
    const h = harness(server);
    h.files.set('/work/out/report.json', Buffer.from('{}'));

    const result = await h.stage([asset('report.json')], { prerelease: true });

    expect(result.created).toBe(false);
    expect(server.requests().some((entry) => entry.method === 'POST' && entry.server === 'api')).toBe(false);
    expect(server.requests().at(-1)).toMatchObject({ server: 'uploads', method: 'POST' });
    const release = server.releases().find((entry) => entry.tag_name === TAG);
    expect(release?.assets.map((entry) => entry.name)).toEqual(['other.txt', 'report.json']);
    expect(h.warnings).toEqual(['Release for tag v1.2.0 is not a prerelease; leaving it as it is']);
  });

  it('replaces a same-named asset: deletes the old one, stores the new content', async () => {
    const server = await start({
      releases: [
        {
          tag_name: TAG,
          assets: [
            { name: 'report.json', content: '{"old":true}', content_type: 'application/json' },
            { name: 'other.txt', content: 'keep' },
          ],
        },
      ],
    });
    const oldId = server.releases()[0]?.assets[0]?.id;
    const h = harness(server);
    h.files.set('/work/out/report.json', Buffer.from('{"new":true}'));

    const result = await h.stage([asset('report.json')]);

    expect(result.assets).toHaveLength(1);
    expect(result.assets[0]).toMatchObject({ name: 'report.json', replaced: true, size: 12 });
    expect(result.assets[0]?.id).not.toBe(oldId);
    expect(server.requests().filter((entry) => entry.method === 'DELETE')).toEqual([
      expect.objectContaining({ path: `/repos/edgeship-test/widget/releases/assets/${oldId}` }),
    ]);
    const assets = server.releases()[0]?.assets ?? [];
    expect(assets.map((entry) => [entry.name, entry.content.toString()])).toEqual([
      ['other.txt', 'keep'],
      ['report.json', '{"new":true}'],
    ]);
    expect(h.infos.some((line) => line.includes(`Replacing asset report.json (id ${oldId})`))).toBe(true);
  });

  it('follows the Link header through more than 100 assets to find the one to replace', async () => {
    const seeded = Array.from({ length: 150 }, (_, index) => ({
      name: `part-${index}.txt`,
      content: `old ${index}`,
    }));
    const server = await start({ releases: [{ tag_name: TAG, assets: seeded }] });
    const target = server.releases()[0]?.assets[140];
    const h = harness(server);
    h.files.set('/work/out/part-140.txt', Buffer.from('new 140'));

    const result = await h.stage([asset('part-140.txt')]);

    expect(result.assets[0]?.replaced).toBe(true);
    const lists = server
      .requests()
      .filter((entry) => entry.method === 'GET' && entry.path.includes('/assets'));
    expect(lists.map((entry) => entry.path)).toEqual([
      `/repos/edgeship-test/widget/releases/${result.releaseId}/assets?per_page=100`,
      `/repositories/700001/releases/${result.releaseId}/assets?per_page=100&page=2`,
    ]);
    expect(server.requests().find((entry) => entry.method === 'DELETE')?.path).toBe(
      `/repos/edgeship-test/widget/releases/assets/${target?.id}`,
    );
    const assets = server.releases()[0]?.assets ?? [];
    expect(assets).toHaveLength(150);
    expect(assets.find((entry) => entry.name === 'part-140.txt')?.content.toString()).toBe('new 140');
  });

  it('retries 5xx answers with backoff and succeeds', async () => {
    const server = await start({
      failures: [{ method: 'GET', pathPattern: /\/releases\/tags\//, status: 502, times: 2 }],
    });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const result = await h.stage([asset('a.txt')]);

    expect(result.created).toBe(true);
    expect(server.requests().filter((entry) => entry.path.includes('/releases/tags/'))).toHaveLength(3);
    expect(h.sleeps).toHaveLength(2);
    expect(h.sleeps[0]).toBeGreaterThanOrEqual(5);
    expect(h.sleeps[0]).toBeLessThanOrEqual(10);
    expect(h.sleeps[1]).toBeGreaterThanOrEqual(10);
    expect(h.sleeps[1]).toBeLessThanOrEqual(20);
    expect(h.warnings[0]).toBe(
      'get release (tag v1.2.0): HTTP 502 (server error); retrying in 0.0 s (attempt 2 of 3)',
    );
  });

  it('gives up after the configured attempts and names the operation', async () => {
    const server = await start({
      failures: [{ method: 'POST', pathPattern: /\/releases$/, status: 503, times: 10 }],
    });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const error = await rejection(h.stage([asset('a.txt')]));

    expect(error.status).toBe(503);
    expect(error.operation).toBe('create release');
    expect(error.message).toBe(
      'create release for tag v1.2.0 in edgeship-test/widget failed: HTTP 503 Service Unavailable: ' +
        'Service Unavailable (gave up after 3 attempts). GitHub had a server error; run again later',
    );
    expect(server.requests().filter((entry) => entry.method === 'POST')).toHaveLength(3);
  });

  it('retries an upload whose 502 left a starter asset, replacing the leftover', async () => {
    const server = await start({
      releases: [{ tag_name: TAG }],
      failures: [
        {
          method: 'POST',
          pathPattern: /\/assets\?name=agent\.tar\.gz/,
          status: 502,
          times: 1,
          leavesStarterAsset: true,
        },
      ],
    });
    const h = harness(server);
    h.files.set('/work/out/agent.tar.gz', Buffer.from('tarball bytes'));

    const result = await h.stage([asset('agent.tar.gz')]);

    expect(result.assets[0]).toMatchObject({ name: 'agent.tar.gz', size: 13, replaced: false });
    const assets = server.releases()[0]?.assets ?? [];
    expect(assets.map((entry) => [entry.name, entry.state, entry.content.toString()])).toEqual([
      ['agent.tar.gz', 'uploaded', 'tarball bytes'],
    ]);
    expect(server.requests().map((entry) => `${entry.method} ${entry.server}`)).toEqual([
      'GET api',
      'GET api',
      'POST uploads',
      'POST uploads',
      'GET api',
      'DELETE api',
      'POST uploads',
    ]);
  });

  it('waits as long as a 429 Retry-After asks', async () => {
    const server = await start({
      releases: [{ tag_name: TAG }],
      failures: [
        {
          method: 'GET',
          pathPattern: /\/assets\?per_page=100$/,
          status: 429,
          times: 1,
          headers: { 'retry-after': '7' },
        },
      ],
    });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    await h.stage([asset('a.txt')]);

    expect(h.sleeps).toEqual([7000]);
    expect(h.warnings[0]).toBe(
      'list release assets (tag v1.2.0): HTTP 429 (rate limited); retrying in 7.0 s (attempt 2 of 3)',
    );
  });

  it('waits for x-ratelimit-reset on a rate-limited 403, and fails at once when the reset is too far', async () => {
    const soon = Math.floor(Date.now() / 1000) + 20;
    let server = await start({
      failures: [
        {
          method: 'GET',
          pathPattern: /\/releases\/tags\//,
          status: 403,
          times: 1,
          headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(soon) },
          body: { message: 'API rate limit exceeded for installation ID 1.', documentation_url: 'x' },
        },
      ],
    });
    let h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));
    await h.stage([asset('a.txt')]);
    expect(h.sleeps).toHaveLength(1);
    expect(h.sleeps[0]).toBeGreaterThan(15_000);
    expect(h.sleeps[0]).toBeLessThanOrEqual(22_000);
    await server.stop();

    const later = Math.floor(Date.now() / 1000) + 3600;
    server = await start({
      failures: [
        {
          method: 'GET',
          pathPattern: /\/releases\/tags\//,
          status: 403,
          times: 5,
          headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(later) },
          body: { message: 'API rate limit exceeded for installation ID 1.', documentation_url: 'x' },
        },
      ],
    });
    h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));
    const error = await rejection(h.stage([asset('a.txt')]));
    expect(h.sleeps).toEqual([]);
    expect(error.status).toBe(403);
    expect(error.message).toContain('API rate limit exceeded');
    expect(error.message).toContain(`The limit resets at ${new Date(later * 1000).toISOString()}`);
    expect(error.message).not.toContain('contents: write');
  });

  it('explains a 403 as a missing contents: write permission, with the workflow snippet', async () => {
    const server = await start({ forbidUploads: true, releases: [{ tag_name: TAG }] });
    const h = harness(server);
    h.files.set('/work/out/sbom.spdx.json', Buffer.from('{}'));

    const error = await rejection(h.stage([asset('sbom.spdx.json')]));

    expect(error.status).toBe(403);
    expect(error.operation).toBe('upload release asset');
    expect(error.message).toContain(
      'upload release asset for asset sbom.spdx.json (tag v1.2.0) in edgeship-test/widget failed: ' +
        'HTTP 403 Forbidden: Resource not accessible by integration',
    );
    expect(error.message).toContain('The token lacks the contents: write permission on edgeship-test/widget');
    expect(error.message).toContain('(GitHub accepts: contents=write)');
    expect(error.message).toContain('\n\npermissions:\n  contents: write\n\n');
    expect(error.message).not.toContain(server.token);
    expect(server.requests().filter((entry) => entry.method === 'POST')).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
  });

  it('explains 401 as a rejected token, without retrying and without showing the token', async () => {
    const server = await start();
    const wrongToken = 'ghp_wrongwrongwrongwrongwrong0123456789';
    const h = harness(server, { token: wrongToken });
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const error = await rejection(h.stage([asset('a.txt')]));

    expect(error.status).toBe(401);
    expect(error.operation).toBe('get release');
    expect(error.message).toContain('HTTP 401 Unauthorized: Bad credentials');
    expect(error.message).toContain('The token was rejected');
    expect(server.requests()).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
    expect(
      JSON.stringify({ message: error.message, stack: error.stack, warnings: h.warnings, infos: h.infos }),
    ).not.toContain(wrongToken);
  });

  it('never puts the token in errors or logs, even when the server echoes it', async () => {
    const server = await start();
    const echoed = await startGitHubApiStandIn({
      token: server.token,
      failures: [
        {
          method: '*',
          pathPattern: /./,
          status: 500,
          times: 10,
          body: { message: `internal error for Authorization: Bearer ${server.token}` },
        },
      ],
    });
    try {
      const h = harness(echoed);
      h.files.set('/work/out/a.txt', Buffer.from('a'));
      const error = await rejection(h.stage([asset('a.txt')]));
      expect(error.message).toContain('internal error for Authorization: Bearer ***');
      const everything = JSON.stringify({
        message: error.message,
        stack: error.stack,
        warnings: h.warnings,
        infos: h.infos,
      });
      expect(everything).not.toContain(server.token);

      const offline = harness(server, {
        fetchImpl: (async () => {
          throw new TypeError('fetch failed', {
            cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
          });
        }) as typeof fetch,
      });
      offline.files.set('/work/out/a.txt', Buffer.from('a'));
      const network = await rejection(offline.stage([asset('a.txt')]));
      expect(network.message).toBe(
        `get release for tag v1.2.0 in edgeship-test/widget failed: cannot reach ${new URL(server.apiUrl).host}: ` +
          'connect ECONNREFUSED (gave up after 3 attempts)',
      );
      expect(network.message).not.toContain(server.token);
    } finally {
      await echoed.stop();
    }
  });

  it('says the token cannot see the repository when GitHub answers 404 for it', async () => {
    const server = await start();
    const h = harness(server, { repository: 'someone-else/private-repo' });
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const error = await rejection(h.stage([asset('a.txt')]));

    expect(error.status).toBe(404);
    expect(error.operation).toBe('list releases');
    expect(error.message).toContain('The token cannot see the repository someone-else/private-repo');
  });
  it('reads the release again when creating it races with another run (422 already_exists)', async () => {
    const server = await start({
      releases: [{ tag_name: TAG }],
      failures: [
        { method: 'GET', pathPattern: /\/releases\/tags\//, status: 404, times: 1 },
        // The other run's release is not listed yet either.
        { method: 'GET', pathPattern: /\/releases\?/, status: 200, times: 1, body: [] },
      ],
    });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const result = await h.stage([asset('a.txt')]);

    expect(result).toMatchObject({ created: false, draft: false });
    expect(server.releases()).toHaveLength(1);
    expect(
      server
        .requests()
        .slice(0, 4)
        .map((entry) => entry.method),
    ).toEqual(['GET', 'GET', 'POST', 'GET']);
    expect(h.infos).toContain('Release for tag v1.2.0 was created concurrently; reading it');
  });
  it('retries connection errors', async () => {
    const server = await start();
    let calls = 0;
    const flaky = (async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
      calls += 1;
      if (calls === 1) {
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
        });
      }
      return fetch(input, init);
    }) as typeof fetch;
    const h = harness(server, { fetchImpl: flaky });
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    await h.stage([asset('a.txt')]);

    expect(h.sleeps).toHaveLength(1);
    expect(h.warnings[0]).toContain(
      'get release (tag v1.2.0): read ECONNRESET; retrying in 0.0 s (attempt 2 of 3)',
    );
  });

  it('does not retry other 4xx answers', async () => {
    const server = await start({
      failures: [
        {
          method: 'GET',
          pathPattern: /\/releases\/tags\//,
          status: 400,
          times: 5,
          body: { message: 'Bad request' },
        },
      ],
    });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const error = await rejection(h.stage([asset('a.txt')]));

    expect(error.message).toBe(
      'get release for tag v1.2.0 in edgeship-test/widget failed: HTTP 400 Bad Request: Bad request',
    );
    expect(server.requests()).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
  });

  it('refuses a 0-byte file before changing anything, as GitHub rejects empty assets', async () => {
    const server = await start({
      releases: [{ tag_name: TAG, assets: [{ name: 'empty.txt', content: 'previous' }] }],
    });
    const h = harness(server);
    h.files.set('/work/out/ok.txt', Buffer.from('ok'));
    h.files.set('/work/out/empty.txt', Buffer.alloc(0));

    const error = await rejection(h.stage([asset('ok.txt'), asset('empty.txt')]));

    expect(error.operation).toBe('prepare release asset');
    expect(error.asset).toBe('empty.txt');
    expect(error.message).toContain('/work/out/empty.txt is empty');
    expect(error.message).toContain('GitHub rejects empty release assets');
    expect(server.requests()).toEqual([]);
    expect(server.releases()[0]?.assets.map((entry) => entry.content.toString())).toEqual(['previous']);

    // The stand-in answers an empty upload as GitHub does.
    const release = server.releases()[0];
    const response = await fetch(
      `${server.uploadUrl}/repos/edgeship-test/widget/releases/${release?.id}/assets?name=e`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${server.token}`,
          'content-type': 'text/plain',
          'content-length': '0',
        },
        body: Buffer.alloc(0),
      },
    );
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({
      errors: [{ resource: 'ReleaseAsset', code: 'custom', field: 'size' }],
    });
  });

  it('rejects duplicate names and unreadable files before any request', async () => {
    const server = await start();
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const duplicate = await rejection(h.stage([asset('a.txt'), asset('a.txt')]));
    expect(duplicate.message).toContain('the same asset name is listed twice');
    const missing = await rejection(h.stage([asset('missing.txt')]));
    expect(missing.message).toContain(
      "cannot read /work/out/missing.txt: ENOENT: no such file, open '/work/out/missing.txt'",
    );
    const badType = await rejection(h.stage([asset('a.txt', 'not a type')]));
    expect(badType.message).toContain('invalid content type "not a type"');
    expect(server.requests()).toEqual([]);
  });

  it('stops before uploading to an immutable release', async () => {
    const server = await start({ releases: [{ tag_name: TAG, immutable: true }] });
    const h = harness(server);
    h.files.set('/work/out/a.txt', Buffer.from('a'));

    const error = await rejection(h.stage([asset('a.txt')]));

    expect(error.message).toContain('is immutable');
    expect(server.requests().map((entry) => entry.method)).toEqual(['GET']);
  });

  it('fails when the digest GitHub stored differs from the file', async () => {
    const server = await start({ releases: [{ tag_name: TAG }] });
    const corrupting = (async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
      if (String(input).startsWith(server.uploadUrl) && init?.body instanceof Buffer) {
        return fetch(input, { ...init, body: Buffer.from('B') });
      }
      return fetch(input, init);
    }) as typeof fetch;
    const h = harness(server, { fetchImpl: corrupting });
    h.files.set('/work/out/a.txt', Buffer.from('A'));

    const error = await rejection(h.stage([asset('a.txt')]));

    expect(error.operation).toBe('upload release asset');
    expect(error.message).toMatch(
      /GitHub stored digest sha256:[0-9a-f]{64}, but \/work\/out\/a.txt has sha256:/,
    );
  });

  it('encodes tags and asset names in URLs and warns about names GitHub may rename', async () => {
    const server = await start({ releases: [{ tag_name: 'agent/v1.2.0' }] });
    const h = harness(server);
    h.files.set('/work/out/my report.json', Buffer.from('{}'));

    const result = await stageReleaseAssets(h.api, 'agent/v1.2.0', [asset('my report.json')], {
      readFile: async () => Buffer.from('{}'),
      log: { info: () => {}, warning: (line) => h.warnings.push(line) },
    });

    expect(result.created).toBe(false);
    expect(server.requests()[0]?.path).toBe('/repos/edgeship-test/widget/releases/tags/agent%2Fv1.2.0');
    expect(server.requests().at(-1)?.path).toContain('/assets?name=my%20report.json');
    expect(h.warnings[0]).toContain('Asset name my report.json has characters GitHub may rename');
  });
});
