/**
 * In-memory stand-ins for the runner: a PhaseLog that keeps its lines, an ActionHost that records
 * outputs, state, secrets and the job summary, and a fake `exec` that answers each command from a
 * handler and records every call. No vitest import: bench/ bundles this file too.
 */
import type { PhaseLog } from '../../../src/logging/phase-log.js';
import type { Exec, ExecOptions, ExecResult } from '../../../src/process/exec.js';
import type { ActionHost } from '../../../src/runner/host.js';

export type MemoryLog = PhaseLog & { lines: string[] };

/** A PhaseLog that keeps every line: `warning: …`, `debug: …`, `::group::name` … `::endgroup::`. */
export function memoryLog(): MemoryLog {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => void lines.push(m),
    warning: (m) => void lines.push(`warning: ${m}`),
    debug: (m) => void lines.push(`debug: ${m}`),
    group: async (name, fn) => {
      lines.push(`::group::${name}`);
      try {
        return await fn();
      } finally {
        lines.push('::endgroup::');
      }
    },
  };
}

/** The names of the log groups, in the order they were opened. */
export function groupsOf(log: MemoryLog): string[] {
  return log.lines.filter((l) => l.startsWith('::group::')).map((l) => l.slice('::group::'.length));
}

/** The lines logged inside the (first) group called `name`. */
export function linesOfGroup(log: MemoryLog, name: string): string[] {
  const start = log.lines.indexOf(`::group::${name}`);
  if (start === -1) return [];
  const end = log.lines.indexOf('::endgroup::', start);
  return log.lines.slice(start + 1, end === -1 ? undefined : end);
}

/** One process run, as the fake exec saw it. */
export interface ExecCall {
  file: string;
  args: string[];
  options: ExecOptions;
  /** `file args…` joined with spaces, for readable assertions. */
  line: string;
}

/** Answers one call; return undefined to fall through to the next handler. */
export type ExecHandler = (
  call: ExecCall,
) => Promise<Partial<ExecResult> | undefined> | Partial<ExecResult> | undefined;

export type FakeExec = Exec & { calls: ExecCall[] };

/**
 * An Exec that asks `handlers` in turn and answers the first result (missing fields: exit code 0, empty
 * output). A call no handler answers exits 127 like a missing program, so a test sees the surprise.
 */
export function fakeExec(...handlers: ExecHandler[]): FakeExec {
  const calls: ExecCall[] = [];
  const exec = async (
    file: string,
    args: readonly string[],
    options: ExecOptions = {},
  ): Promise<ExecResult> => {
    const call: ExecCall = { file, args: [...args], options, line: [file, ...args].join(' ') };
    calls.push(call);
    for (const handler of handlers) {
      const answer = await handler(call);
      if (answer) {
        const result: ExecResult = { exitCode: 0, stdout: '', stderr: '', ...answer };
        for (const line of result.stdout ? result.stdout.split('\n') : []) options.onLine?.(line, 'stdout');
        for (const line of result.stderr ? result.stderr.split('\n') : []) options.onLine?.(line, 'stderr');
        return result;
      }
    }
    return { exitCode: 127, stdout: '', stderr: `${file}: command not found (fake exec)` };
  };
  return Object.assign(exec, { calls });
}

export interface MemoryHost extends ActionHost {
  log: MemoryLog;
  exec: FakeExec;
  outputs: Record<string, string>;
  state: Record<string, string>;
  secrets: string[];
  summary: string[];
}

/** An ActionHost that keeps everything in memory. */
export function memoryHost(
  options: {
    inputs?: Record<string, string>;
    env?: Record<string, string | undefined>;
    exec?: FakeExec;
    now?: () => Date;
  } = {},
): MemoryHost {
  const outputs: Record<string, string> = {};
  const state: Record<string, string> = {};
  const secrets: string[] = [];
  const summary: string[] = [];
  return {
    readInput: (name) => options.inputs?.[name] ?? '',
    setOutput: (name, value) => void (outputs[name] = value),
    setSecret: (value) => void secrets.push(value),
    saveState: (name, value) => void (state[name] = value),
    appendSummary: async (markdown) => void summary.push(markdown),
    log: memoryLog(),
    exec: options.exec ?? fakeExec(),
    env: options.env ?? {},
    now: options.now ?? (() => new Date('2026-01-02T03:04:05Z')),
    outputs,
    state,
    secrets,
    summary,
  };
}
