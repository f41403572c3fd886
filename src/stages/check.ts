import { createGitHubClient } from '../github/client.js';
import { PullRequestApiError, upsertComment, type Upserted } from '../github/pull-requests.js';
import type { PlatformImage } from '../image/pushed-image.js';
import { compareWithProduction, readProductionBaseline } from '../lifecycle/check.js';
import type { GateResult } from '../policy/decide.js';
import { loadTrustMaterial, releaseSigner } from '../publish/publish-deps.js';
import type { RegistryClient } from '../registry/client.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import type { Settings } from '../settings/inputs.js';
import { checkCommentBody } from '../summary/lifecycle.js';

/** The hidden marker that finds Edgeship's comment for this image again. */
export const checkMarker = (imageName: string) => `<!-- edgeship:check ${imageName} -->`;

/**
 * `mode: check` after the gate: the pull request's images next to production (size, upgrade download, new
 * findings) in the job summary and in one comment on the pull request, created once and then kept up to date.
 * Nothing is tagged or signed. Without `pull-requests: write` the comment is skipped with a warning.
 */
export async function runCheckStage(
  host: ActionHost,
  input: {
    settings: Settings;
    context: RunnerContext;
    registry: RegistryClient;
    images: readonly PlatformImage[];
    gate: GateResult;
  },
): Promise<Upserted | undefined> {
  const { settings, context, gate } = input;
  const repository = { path: settings.image.path, name: settings.imageName };
  const expected = releaseSigner(settings, context.release);
  const loadTrust = async () =>
    expected
      ? loadTrustMaterial(settings).then(
          (material) => ({ material, expected }),
          (error: Error) => void host.log.warning(`no Sigstore trust root (${error.message})`),
        )
      : undefined;
  const production = await host.log.group('Compare with production', () =>
    readProductionBaseline(input.registry, repository, loadTrust, host.log),
  );
  const platforms = compareWithProduction(input.images, gate.scans, production);
  const notes = production?.note ? [production.note] : [];
  const body = checkCommentBody(settings.imageName, gate.verdict, platforms, production, notes);
  await host.appendSummary(body);
  return commentOnPullRequest(host, settings, context, body);
}

/** Creates or updates the one comment of the pull request; a token without pull-requests: write only warns. */
async function commentOnPullRequest(
  host: ActionHost,
  settings: Settings,
  context: RunnerContext,
  body: string,
): Promise<Upserted | undefined> {
  const number = pullRequestNumber(host.env.GITHUB_REF);
  if (number === undefined || !settings.githubToken) {
    host.log.info('not a pull request (or no github-token): no comment written');
    return undefined;
  }
  const api = { apiUrl: host.env.GITHUB_API_URL ?? 'https://api.github.com', token: settings.githubToken };
  const client = createGitHubClient({ ...api, repository: context.release.repository }, (m) =>
    host.log.warning(m),
  );
  const target = { client, repository: context.release.repository };
  try {
    const comment = await host.log.group(`Comment on pull request #${number}`, () =>
      upsertComment(target, number, checkMarker(settings.imageName), body),
    );
    host.log.info(`comment ${comment.action}: ${comment.url}`);
    host.setOutput('comment-url', comment.url);
    return comment;
  } catch (error) {
    if (!(error instanceof PullRequestApiError)) throw error;
    host.log.warning(`${error.message} (the check itself is not affected)`);
    return undefined;
  }
}

/** The pull request of `refs/pull/<n>/merge` (or `/head`). */
export function pullRequestNumber(ref: string | undefined): number | undefined {
  const match = /^refs\/pull\/(\d+)\/(merge|head)$/.exec(ref ?? '');
  return match ? Number(match[1]) : undefined;
}
