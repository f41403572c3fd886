/**
 * git, the one tool of the GitOps hand-off: argv built as arrays, output read by pure functions, every process
 * through the exec seam. The token never appears in argv: for an http(s) remote it travels as an
 * `http.extraHeader` in git's `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` environment variables,
 * which git reads as configuration and never prints.
 */
import { describeFailure, type Exec } from '../process/exec.js';

export class GitError extends Error {
  override name = 'GitError';
}

/** Who commits the hand-off (GitHub's Actions bot, so the fleet repository shows a known author). */
export const GIT_AUTHOR = {
  name: 'github-actions[bot]',
  email: '41898282+github-actions[bot]@users.noreply.github.com',
};

/** The environment git runs with: no prompt, a fixed author, and the token as an HTTP header for http(s). */
export function gitEnvironment(remote: string, token: string | undefined): Record<string, string> {
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: GIT_AUTHOR.name,
    GIT_AUTHOR_EMAIL: GIT_AUTHOR.email,
    GIT_COMMITTER_NAME: GIT_AUTHOR.name,
    GIT_COMMITTER_EMAIL: GIT_AUTHOR.email,
    GIT_CONFIG_COUNT: '0',
  };
  if (token && /^https?:\/\//i.test(remote)) {
    const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
    Object.assign(env, {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.extraHeader',
      GIT_CONFIG_VALUE_0: `AUTHORIZATION: basic ${basic}`,
    });
  }
  return env;
}

/** argv of each git step of the hand-off, in a work tree `dir`. */
export const gitArgs = {
  init: (dir: string) => ['init', '-q', dir],
  fetch: (dir: string, remote: string, branch: string) => [
    '-C',
    dir,
    'fetch',
    '-q',
    '--depth',
    '1',
    '--',
    remote,
    `refs/heads/${branch}`,
  ],
  checkout: (dir: string, branch: string) => ['-C', dir, 'checkout', '-q', '-B', branch, 'FETCH_HEAD'],
  add: (dir: string, paths: readonly string[]) => ['-C', dir, 'add', '--', ...paths],
  /** Exits 1 when the index differs from HEAD. */
  changed: (dir: string) => ['-C', dir, 'diff', '--cached', '--quiet'],
  commit: (dir: string, message: string) => ['-C', dir, 'commit', '-q', '--no-verify', '-m', message],
  push: (dir: string, remote: string, branch: string) => [
    '-C',
    dir,
    'push',
    '-q',
    '--force',
    '--',
    remote,
    `HEAD:refs/heads/${branch}`,
  ],
} as const;

/** A git client bound to one remote and its token. */
export interface Git {
  run(args: readonly string[], what: string): Promise<void>;
  /** Whether staged changes differ from HEAD. */
  hasStagedChanges(dir: string): Promise<boolean>;
}

export function gitClient(exec: Exec, remote: string, token: string | undefined): Git {
  const env = gitEnvironment(remote, token);
  const run = async (args: readonly string[], what: string) => {
    const result = await exec('git', args, { env, timeoutMs: 300_000 });
    if (result.exitCode !== 0)
      throw new GitError(`git could not ${what}: ${describeFailure('git', result, 5)}`);
    return result.exitCode;
  };
  return {
    run: async (args, what) => void (await run(args, what)),
    hasStagedChanges: async (dir) => {
      const result = await exec('git', gitArgs.changed(dir), { env });
      if (result.exitCode > 1 || result.failure)
        throw new GitError(`git could not compare the files: ${describeFailure('git', result, 5)}`);
      return result.exitCode === 1;
    },
  };
}

/** The remote of the fleet repository: a URL as given, else `owner/name` on this GitHub server. */
export function fleetRemote(repository: string, serverUrl: string): string {
  return repository.includes('://') ? repository : `${serverUrl.replace(/\/+$/, '')}/${repository}.git`;
}

/** `owner/name` of the fleet repository for the API, from `owner/name` or the URL's last two path segments. */
export function fleetApiRepository(repository: string): string {
  if (!repository.includes('://')) return repository;
  const parts = new URL(repository).pathname
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .split('/');
  return parts.slice(-2).join('/');
}
