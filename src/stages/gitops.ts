import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createGitHubClient } from '../github/client.js';
import { fleetApiRepository, fleetRemote, gitClient } from '../gitops/git.js';
import { handOff, type HandOffRequest, type HandOffResult } from '../gitops/hand-off.js';
import type { PublishResult } from '../publish/release.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import type { GitOpsSettings, Settings } from '../settings/inputs.js';
import { gitOpsPullRequestBody } from '../summary/lifecycle.js';

/**
 * The GitOps hand-off after a published release: one pull request per channel in the fleet repository (the
 * `gitops-*` inputs). Runs only after the gate passed and the release was published; nothing when not configured.
 */
export async function runGitOpsStage(
  host: ActionHost,
  input: { settings: Settings; release: ReleaseMetadata; context: RunnerContext; published: PublishResult },
): Promise<HandOffResult | undefined> {
  const { settings, release, context, published } = input;
  const gitops = settings.gitops;
  if (!gitops) return undefined;
  if (release.channel === 'dev') {
    host.log.info('GitOps: the dev channel is not handed to the fleet');
    return undefined;
  }
  const repository = fleetApiRepository(gitops.repository);
  const remote = fleetRemote(gitops.repository, context.release.serverUrl);
  const workDir = await mkdtemp(path.join(context.tempDir, 'edgeship-gitops-'));
  const api = {
    apiUrl: host.env.GITHUB_API_URL ?? 'https://api.github.com',
    token: gitops.token,
    repository,
  };
  const deps = {
    git: gitClient(host.exec, remote, gitops.token),
    pulls: { client: createGitHubClient(api, (m) => host.log.warning(m)), repository },
    log: host.log,
    workDir,
    readText: (f: string) => readFile(f, 'utf8').catch(() => undefined),
    writeText: (f: string, text: string) => writeFile(f, text),
  };
  const request = handOffRequest(settings, gitops, release, published, remote);
  try {
    const result = await host.log.group(`GitOps hand-off to ${repository} (${release.channel})`, () =>
      handOff(request, deps),
    );
    if (result.status === 'pull-request') host.setOutput('gitops-pull-request', result.url);
    return result;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The branch (one per channel), files, title and body of this release's hand-off. */
function handOffRequest(
  settings: Settings,
  gitops: GitOpsSettings,
  release: ReleaseMetadata,
  published: PublishResult,
  remote: string,
): HandOffRequest {
  const paths = gitops.paths.map((p) => p.replaceAll('{channel}', release.channel));
  return {
    remote,
    base: gitops.branch,
    head: `edgeship/${settings.image.path}/${release.channel}`,
    paths,
    imageName: settings.imageName,
    indexDigest: published.indexDigest,
    tags: published.tags,
    title: `Deploy ${settings.imageName} ${release.version} to ${release.channel}`,
    body: gitOpsPullRequestBody(settings.imageName, release, published, paths),
  };
}
