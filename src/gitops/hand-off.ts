/**
 * The GitOps hand-off: after a release reaches a channel, the fleet repository gets one branch per channel whose
 * files pin the image to the new index digest (rewritten exactly like the deployment templates), and one pull
 * request from that branch, opened or updated. The branch is rebuilt from the base branch on every release, so the
 * pull request always shows exactly one change: this release.
 */
import path from 'node:path';
import { renderTemplate } from '../deployment/templates.js';
import { upsertPullRequest, type PullRequestTarget, type Upserted } from '../github/pull-requests.js';
import type { PhaseLog } from '../logging/phase-log.js';
import { gitArgs, type Git } from './git.js';

export interface HandOffRequest {
  /** git remote of the fleet repository. */
  remote: string;
  /** Branch the pull request targets, and the branch it comes from (one per channel). */
  base: string;
  head: string;
  /** Files of the fleet repository (relative paths) to pin. */
  paths: readonly string[];
  imageName: string;
  indexDigest: string;
  tags: readonly string[];
  title: string;
  body: string;
}

export interface HandOffDeps {
  git: Git;
  pulls: PullRequestTarget;
  log: PhaseLog;
  /** An empty directory for the work tree. */
  workDir: string;
  readText: (file: string) => Promise<string | undefined>;
  writeText: (file: string, text: string) => Promise<void>;
}

export type HandOffResult = { status: 'unchanged' } | ({ status: 'pull-request' } & Upserted);

export class HandOffError extends Error {
  override name = 'HandOffError';
}

/** Pins the files on a fresh `head` from `base`, pushes it, and opens or updates its pull request. */
export async function handOff(req: HandOffRequest, deps: HandOffDeps): Promise<HandOffResult> {
  const { git, workDir: dir, log } = deps;
  await git.run(gitArgs.init(dir), 'create a work tree');
  await git.run(gitArgs.fetch(dir, req.remote, req.base), `fetch branch ${req.base} of the fleet repository`);
  await git.run(gitArgs.checkout(dir, req.head), `start branch ${req.head}`);
  for (const file of req.paths) await pinFile(req, deps, file);
  await git.run(gitArgs.add(dir, req.paths), 'stage the pinned files');
  if (!(await git.hasStagedChanges(dir))) {
    log.info(`${req.base} already runs ${req.imageName}@${req.indexDigest}: no pull request needed`);
    return { status: 'unchanged' };
  }
  await git.run(gitArgs.commit(dir, `${req.title}\n\n${req.imageName}@${req.indexDigest}`), 'commit');
  await git.run(gitArgs.push(dir, req.remote, req.head), `push branch ${req.head}`);
  log.info(`pushed ${req.head} with ${req.paths.length} pinned file(s)`);
  const pull = await upsertPullRequest(deps.pulls, {
    head: req.head,
    base: req.base,
    title: req.title,
    body: req.body,
  });
  log.info(`pull request #${pull.number} ${pull.action}: ${pull.url}`);
  return { status: 'pull-request', ...pull };
}

async function pinFile(req: HandOffRequest, deps: HandOffDeps, file: string): Promise<void> {
  const full = path.resolve(deps.workDir, file);
  if (!full.startsWith(deps.workDir + path.sep))
    throw new HandOffError(`gitops-paths: ${file} is outside the fleet repository`);
  const text = await deps.readText(full);
  if (text === undefined)
    throw new HandOffError(
      `gitops-paths: ${file} does not exist on branch ${req.base} of the fleet repository; add it there first`,
    );
  const out = renderTemplate(text, {
    repository: req.imageName,
    indexDigest: req.indexDigest,
    tags: req.tags,
  });
  for (const warning of out.warnings) deps.log.warning(`${file}: ${warning}`);
  await deps.writeText(full, out.text);
  deps.log.info(`${file}: pinned ${out.replaced} reference(s) to ${req.imageName}@${req.indexDigest}`);
}
