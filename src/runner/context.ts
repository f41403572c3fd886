import type { ReleaseContext } from '../release/metadata.js';

/** What the action needs from the runner's environment, read once. */
export interface RunnerContext {
  release: ReleaseContext;
  workspace: string;
  tempDir: string;
  runId: string;
  runAttempt: string;
  workflowRunUrl?: string;
  /** SOURCE_DATE_EPOCH (seconds) when set: builds and release timestamps use it, so they are reproducible. */
  sourceDateEpoch?: number;
}

export class RunnerContextError extends Error {
  override name = 'RunnerContextError';
}

/** Reads GITHUB_* / RUNNER_* variables and the event payload's repository fields. */
export function readRunnerContext(
  env: Record<string, string | undefined>,
  readEvent: (file: string) => string | undefined,
  now: Date,
  cwd: string,
  systemTemp: string,
): RunnerContext {
  const ref = env.GITHUB_REF ?? '';
  const sha = env.GITHUB_SHA ?? '';
  const repository = env.GITHUB_REPOSITORY ?? '';
  if (!ref || !sha || !repository) {
    const missing = ['GITHUB_REF', 'GITHUB_SHA', 'GITHUB_REPOSITORY'].filter((k) => !env[k]);
    throw new RunnerContextError(
      `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set: Edgeship runs as a step of a GitHub Actions workflow`,
    );
  }
  const serverUrl = (env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/+$/, '');
  const runId = env.GITHUB_RUN_ID ?? '0';
  const runAttempt = env.GITHUB_RUN_ATTEMPT ?? '1';
  const epochRaw = env.SOURCE_DATE_EPOCH?.trim();
  let sourceDateEpoch: number | undefined;
  if (epochRaw) {
    if (!/^\d+$/.test(epochRaw)) {
      throw new RunnerContextError(
        `SOURCE_DATE_EPOCH "${epochRaw}" is not valid; expected whole seconds since 1970, e.g. $(git log -1 --format=%ct)`,
      );
    }
    sourceDateEpoch = Number(epochRaw);
    now = new Date(sourceDateEpoch * 1000);
  }
  const repo = repositoryFromEvent(env.GITHUB_EVENT_PATH ? readEvent(env.GITHUB_EVENT_PATH) : undefined);
  return {
    release: { ref, sha, repository, serverUrl, runId, runAttempt, now, ...(repo ? { repo } : {}) },
    workspace: env.GITHUB_WORKSPACE || cwd,
    tempDir: env.RUNNER_TEMP || systemTemp,
    runId,
    runAttempt,
    ...(sourceDateEpoch !== undefined ? { sourceDateEpoch } : {}),
    ...(env.GITHUB_RUN_ID
      ? { workflowRunUrl: `${serverUrl}/${repository}/actions/runs/${runId}/attempts/${runAttempt}` }
      : {}),
  };
}

function repositoryFromEvent(text: string | undefined): ReleaseContext['repo'] | undefined {
  if (!text) return undefined;
  let event: { repository?: Record<string, unknown> };
  try {
    event = JSON.parse(text) as typeof event;
  } catch {
    return undefined;
  }
  const r = event.repository;
  if (!r || typeof r !== 'object') return undefined;
  const license = (r.license as { spdx_id?: unknown } | null | undefined)?.spdx_id;
  const repo: NonNullable<ReleaseContext['repo']> = {};
  if (typeof r.description === 'string' && r.description) repo.description = r.description;
  if (typeof license === 'string' && license && license !== 'NOASSERTION') repo.license = license;
  if (typeof r.html_url === 'string') repo.htmlUrl = r.html_url;
  if (typeof r.name === 'string') repo.name = r.name;
  return repo;
}
