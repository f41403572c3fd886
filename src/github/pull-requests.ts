/**
 * Pull requests through Octokit: the one comment Edgeship keeps up to date on a pull request (found again by a
 * hidden marker in its body), and the one pull request per head branch it keeps open in a fleet repository.
 * A failed call throws PullRequestApiError naming the operation, the repository and what to fix; never the token.
 */
import { GitHubCallError, type GitHubClient, type Octokit } from './client.js';

export interface PullRequestTarget {
  client: GitHubClient;
  /** `owner/name`. */
  repository: string;
}

export class PullRequestApiError extends Error {
  override name = 'PullRequestApiError';
}

/** What a kept comment or pull request ended as. */
export interface Upserted {
  action: 'created' | 'updated';
  number: number;
  url: string;
}

/**
 * Creates the comment on pull request `number` whose body carries `marker` (an HTML comment), or updates the
 * one already there: a pull request has at most one such comment, however often its checks run.
 */
export async function upsertComment(
  target: PullRequestTarget,
  number: number,
  marker: string,
  body: string,
): Promise<Upserted> {
  const [owner, repo] = split(target.repository);
  const text = body.includes(marker) ? body : `${marker}\n${body}`;
  const existing = await send(target, `list the comments of pull request #${number}`, async (octokit) => {
    const parameters = { owner, repo, issue_number: number, per_page: 100 };
    for await (const page of octokit.paginate.iterator(octokit.rest.issues.listComments, parameters)) {
      const found = page.data.find((c) => c.body?.includes(marker));
      if (found) return found;
    }
    return undefined;
  });
  if (existing) {
    const { data } = await send(target, `update comment ${existing.id}`, (octokit) =>
      octokit.rest.issues.updateComment({ owner, repo, comment_id: existing.id, body: text }),
    );
    return { action: 'updated', number: data.id, url: data.html_url };
  }
  const { data } = await send(target, `comment on pull request #${number}`, (octokit) =>
    octokit.rest.issues.createComment({ owner, repo, issue_number: number, body: text }),
  );
  return { action: 'created', number: data.id, url: data.html_url };
}

/** Opens a pull request from `head` into `base`, or updates the title and body of the open one. */
export async function upsertPullRequest(
  target: PullRequestTarget,
  pull: { head: string; base: string; title: string; body: string },
): Promise<Upserted> {
  const [owner, repo] = split(target.repository);
  const open = await send(target, `find the open pull request from ${pull.head}`, async (octokit) => {
    const { data } = await octokit.rest.pulls.list({
      owner,
      repo,
      head: `${owner}:${pull.head}`,
      state: 'open',
    });
    return data.find((p) => p.head.ref === pull.head);
  });
  if (open) {
    const { data } = await send(target, `update pull request #${open.number}`, (octokit) =>
      octokit.rest.pulls.update({
        owner,
        repo,
        pull_number: open.number,
        title: pull.title,
        body: pull.body,
      }),
    );
    return { action: 'updated', number: data.number, url: data.html_url };
  }
  const { data } = await send(target, `open a pull request from ${pull.head} into ${pull.base}`, (octokit) =>
    octokit.rest.pulls.create({ owner, repo, ...pull }),
  );
  return { action: 'created', number: data.number, url: data.html_url };
}

function split(repository: string): [string, string] {
  const [owner = '', repo = ''] = repository.split('/');
  return [owner, repo];
}

async function send<T>(
  target: PullRequestTarget,
  operation: string,
  call: (octokit: Octokit) => Promise<T>,
): Promise<T> {
  try {
    return await target.client.call(`${operation} (${target.repository})`, call);
  } catch (error) {
    if (!(error instanceof GitHubCallError)) throw error;
    const { failure } = error;
    const why =
      failure.kind === 'network'
        ? `cannot reach ${failure.host} (${failure.failure.description})`
        : `HTTP ${failure.status}${messageOf(failure.data)}`;
    const hint =
      failure.kind === 'answer' && (failure.status === 403 || failure.status === 404)
        ? ': the token needs pull-requests: write (and contents: write to push a branch) on this repository'
        : failure.kind === 'answer' && failure.status === 401
          ? ': the token was refused; check the token input'
          : '';
    throw new PullRequestApiError(`Could not ${operation} in ${target.repository}: ${why}${hint}`, {
      cause: error,
    });
  }
}

function messageOf(data: unknown): string {
  const message = typeof data === 'object' && data !== null ? (data as { message?: unknown }).message : data;
  return typeof message === 'string' && message ? ` "${message}"` : '';
}
