import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execProcess } from '../../../src/process/exec.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The bundle the e2e runs: `dist/`, or a bundle built elsewhere (`node build.mjs --outdir <dir>`) via EDGESHIP_DIST_DIR. */
export const DIST_DIR = process.env.EDGESHIP_DIST_DIR ?? path.join(PROJECT_ROOT, 'dist');

/** What one run of a bundled entry point produced, read back the way the runner reads it. */
export interface ActionRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  /** State saved for the post step (name → value). */
  state: Record<string, string>;
  summary: string;
  /** `::error::` lines the step printed. */
  errors: string[];
}

/** Parses a GITHUB_OUTPUT / GITHUB_STATE file (`name=value` lines and `name<<DELIM` heredocs). */
export function parseFileCommands(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc;
      const value: string[] = [];
      i += 1;
      while (i < lines.length && lines[i] !== delimiter) value.push(lines[i++]!);
      result[name!] = value.join('\n');
    } else if (line.includes('=')) {
      result[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return result;
}

export interface RunOptions {
  /** Inputs by their action.yml names. */
  inputs: Record<string, string>;
  /** Extra environment (GITHUB_REF etc. have defaults). */
  env?: Record<string, string>;
  /** Saved state to hand to a post step. */
  state?: Record<string, string>;
  workspace: string;
  timeoutMs?: number;
  onLine?: (line: string) => void;
}

/**
 * Runs `dist/<entry>.js` as the GitHub runner would: inputs as INPUT_* variables, file commands in
 * fresh GITHUB_OUTPUT / GITHUB_STATE / GITHUB_STEP_SUMMARY files, saved state as STATE_* variables.
 */
export async function runBundled(entry: 'main' | 'post', options: RunOptions): Promise<ActionRun> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `edgeship-run-${entry}-`));
  const files = {
    GITHUB_OUTPUT: path.join(dir, 'output'),
    GITHUB_STATE: path.join(dir, 'state'),
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary.md'),
    GITHUB_ENV: path.join(dir, 'env'),
    GITHUB_PATH: path.join(dir, 'path'),
  };
  for (const file of Object.values(files)) await writeFile(file, '');
  const env: Record<string, string> = {
    GITHUB_ACTIONS: 'true',
    GITHUB_REF: 'refs/tags/v1.2.3',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_REPOSITORY: 'acme/edge-agent',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_WORKSPACE: options.workspace,
    RUNNER_TEMP: path.join(dir, 'runner-temp'),
    ...files,
    ...options.env,
  };
  for (const [name, value] of Object.entries(options.inputs))
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  for (const [name, value] of Object.entries(options.state ?? {})) env[`STATE_${name}`] = value;
  const result = await execProcess(process.execPath, [path.join(DIST_DIR, `${entry}.js`)], {
    cwd: options.workspace,
    env,
    timeoutMs: options.timeoutMs ?? 600_000,
    ...(options.onLine ? { onLine: options.onLine } : {}),
  });
  const outputs = parseFileCommands(await readFile(files.GITHUB_OUTPUT, 'utf8'));
  const state = parseFileCommands(await readFile(files.GITHUB_STATE, 'utf8'));
  const summary = await readFile(files.GITHUB_STEP_SUMMARY, 'utf8');
  const errors = result.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error'))
    .map((l) =>
      l
        .replace(/^::error[^:]*::/, '')
        .replace(/%0A/g, '\n')
        .replace(/%0D/g, '\r')
        .replace(/%25/g, '%'),
    );
  return {
    exitCode: result.exitCode,
    stdout: result.stdout,
    stderr: result.stderr,
    outputs,
    state,
    summary,
    errors,
  };
}
