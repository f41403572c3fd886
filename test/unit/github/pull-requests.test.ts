import { afterEach, describe, expect, it } from 'vitest';
import { createGitHubClient } from '../../../src/github/client.js';
import { PullRequestApiError, upsertComment, upsertPullRequest } from '../../../src/github/pull-requests.js';
import {
  startGitHubApiStandIn,
  type GitHubApiStandIn,
  type StartGitHubApiStandInOptions,
} from '../../e2e/harness/github-api.js';

let standIn: GitHubApiStandIn | undefined;
afterEach(async () => {
  await standIn?.stop();
  standIn = undefined;
});

async function target(options: StartGitHubApiStandInOptions = {}) {
  standIn = await startGitHubApiStandIn(options);
  const client = createGitHubClient(
    {
      apiUrl: standIn.apiUrl,
      token: standIn.token,
      repository: standIn.repository,
      fetchImpl: fetch,
      retry: { attempts: 1 },
    },
    () => undefined,
  );
  return { client, repository: standIn.repository };
}

const MARKER = '<!-- edgeship:check ghcr.io/acme/agent -->';

describe('upsertComment', () => {
  it('creates the comment once, then updates that same comment', async () => {
    const t = await target();
    const first = await upsertComment(t, 7, MARKER, 'first verdict');
    const second = await upsertComment(t, 7, MARKER, 'second verdict');
    expect(first.action).toBe('created');
    expect(second).toMatchObject({ action: 'updated', number: first.number });
    expect(standIn!.comments()).toEqual([
      { id: first.number, issue_number: 7, body: `${MARKER}\nsecond verdict` },
    ]);
  });

  it('finds its comment among other comments on later pages', async () => {
    const t = await target();
    for (let i = 0; i < 101; i++)
      await t.client.call('seed', (o) =>
        o.rest.issues.createComment({
          owner: 'edgeship-test',
          repo: 'widget',
          issue_number: 3,
          body: `human ${i}`,
        }),
      );
    await upsertComment(t, 3, MARKER, 'one');
    const again = await upsertComment(t, 3, MARKER, 'two');
    expect(again.action).toBe('updated');
    expect(standIn!.comments().filter((c) => c.body.includes(MARKER))).toHaveLength(1);
  });

  it('names the missing permission when the token may not write', async () => {
    const t = await target({ forbidPullRequests: true });
    const error = await upsertComment(t, 7, MARKER, 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PullRequestApiError);
    expect((error as Error).message).toMatch(/comment on pull request #7 .*HTTP 403.*pull-requests: write/);
    expect((error as Error).message).not.toContain(standIn!.token);
  });
});

describe('upsertPullRequest', () => {
  it('opens one pull request per head branch and updates it on the next release', async () => {
    const t = await target();
    const pull = { head: 'edgeship/acme/agent/production', base: 'main', title: 'Deploy 1.0.0', body: 'a' };
    const first = await upsertPullRequest(t, pull);
    const second = await upsertPullRequest(t, { ...pull, title: 'Deploy 1.0.1', body: 'b' });
    expect(first.action).toBe('created');
    expect(second).toMatchObject({ action: 'updated', number: first.number });
    expect(standIn!.pulls()).toEqual([
      expect.objectContaining({
        number: first.number,
        head: pull.head,
        base: 'main',
        title: 'Deploy 1.0.1',
        body: 'b',
      }),
    ]);
  });
});
