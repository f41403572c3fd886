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
  const event = parseEvent(env.GITHUB_EVENT_PATH ? readEvent(env.GITHUB_EVENT_PATH) : undefined);
  // Unset, it is the commit's time (push events name it): two builds of one commit give the same image.
  let sourceDateEpoch: number | undefined = commitTime(event, sha);
  if (epochRaw) {
    if (!/^\d+$/.test(epochRaw)) {
      throw new RunnerContextError(
        `SOURCE_DATE_EPOCH "${epochRaw}" is not valid; expected whole seconds since 1970, e.g. $(git log -1 --format=%ct)`,
      );
    }
    sourceDateEpoch = Number(epochRaw);
  }
  if (sourceDateEpoch !== undefined) now = new Date(sourceDateEpoch * 1000);
  const repo = repositoryFromEvent(event);
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

interface EventPayload {
  repository?: Record<string, unknown>;
  head_commit?: { id?: unknown; timestamp?: unknown } | null;
}

function parseEvent(text: string | undefined): EventPayload | undefined {
  if (!text) return undefined;
  try {
    const event = JSON.parse(text) as unknown;
    return event && typeof event === 'object' ? (event as EventPayload) : undefined;
  } catch {
    return undefined;
  }
}

/** Seconds since 1970 of the pushed commit, when the event names this very commit. */
function commitTime(event: EventPayload | undefined, sha: string): number | undefined {
  const commit = event?.head_commit;
  if (!commit || commit.id !== sha || typeof commit.timestamp !== 'string') return undefined;
  const ms = Date.parse(commit.timestamp);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

function repositoryFromEvent(event: EventPayload | undefined): ReleaseContext['repo'] | undefined {
  const r = event?.repository;
  if (!r || typeof r !== 'object') return undefined;
  const license = (r.license as { spdx_id?: unknown } | null | undefined)?.spdx_id;
  const repo: NonNullable<ReleaseContext['repo']> = {};
  if (typeof r.description === 'string' && r.description) repo.description = r.description;
  if (typeof license === 'string' && license && license !== 'NOASSERTION') repo.license = license;
  if (typeof r.html_url === 'string') repo.htmlUrl = r.html_url;
  if (typeof r.name === 'string') repo.name = r.name;
  return repo;
}
