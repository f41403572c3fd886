import { execa } from 'execa';

/** What one finished process produced. A non-zero exit is a result, not an exception. */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Set when the process could not be started at all (ENOENT, EACCES) or was killed by a timeout. */
  failure?: string;
}

export interface ExecOptions {
  cwd?: string;
  /** Extra environment variables, merged over the inherited environment. */
  env?: Record<string, string | undefined>;
  /** Inherited variables with these prefixes are not passed on (the `env` option still is). */
  dropInherited?: readonly string[];
  input?: string;
  timeoutMs?: number;
  /** Called with each line of stdout/stderr as it arrives (for streaming build logs). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/**
 * The single seam through which every external process runs. Arguments are always an argv array;
 * nothing is ever passed through a shell.
 */
export type Exec = (file: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

/**
 * Inherited variables no child process needs and none may see: the step's inputs (INPUT_SIGNING-KEY,
 * INPUT_REGISTRY-PASSWORD…) and the runner's OIDC and runtime tokens.
 */
const WITHHELD_FROM_CHILDREN = ['INPUT_', 'ACTIONS_ID_TOKEN_REQUEST_', 'ACTIONS_RUNTIME_TOKEN'];

/** The environment a child process gets: this process's, less secrets and `drop` prefixes, plus `extra`. */
export function childEnvironment(
  inherited: Record<string, string | undefined>,
  extra: Record<string, string | undefined> = {},
  drop: readonly string[] = [],
): Record<string, string> {
  const withheld = [...WITHHELD_FROM_CHILDREN, ...drop];
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(inherited)) {
    if (value !== undefined && !withheld.some((prefix) => name.startsWith(prefix))) env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

export const execProcess: Exec = async (file, args, options = {}) => {
  const child = execa(file, [...args], {
    cwd: options.cwd,
    env: childEnvironment(process.env, options.env, options.dropInherited),
    extendEnv: false,
    input: options.input,
    timeout: options.timeoutMs,
    reject: false,
    stripFinalNewline: true,
    lines: false,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : {}),
  });
  if (options.onLine) {
    const onLine = options.onLine;
    const forward = (stream: 'stdout' | 'stderr') => {
      let pending = '';
      child[stream]?.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) onLine(line, stream);
      });
      child[stream]?.on('end', () => {
        if (pending) onLine(pending, stream);
      });
    };
    forward('stdout');
    forward('stderr');
  }
  const result = await child;
  const failure = result.timedOut
    ? `timed out after ${options.timeoutMs} ms`
    : result.exitCode === undefined
      ? (result.originalMessage ?? result.shortMessage ?? 'could not start')
      : undefined;
  return {
    exitCode: result.exitCode ?? -1,
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
    ...(failure ? { failure } : {}),
  };
};

/** Formats a failed process for an error message: the command name, exit code and the last stderr lines. */
export function describeFailure(file: string, result: ExecResult, tailLines = 15): string {
  const tail = result.stderr.trim().split('\n').slice(-tailLines).join('\n');
  const head = result.failure ? `${file} ${result.failure}` : `${file} exited with code ${result.exitCode}`;
  return tail ? `${head}:\n${tail}` : head;
}
