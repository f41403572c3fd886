/**
 * What the documentation tests share: the repository's files, action.yml's inputs and outputs, workflows read
 * with GitHub's own parser (@actions/workflow-parser), and the Markdown tables and code blocks of the README.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as WorkflowParser from '@actions/workflow-parser';
import type { TemplateParseResult } from '@actions/workflow-parser';
import { parse } from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function repoPath(...segments: string[]): string {
  return path.join(ROOT, ...segments);
}

export function readRepoFile(relative: string): string {
  return readFileSync(repoPath(relative), 'utf8');
}

/** Files of a repository folder (relative to the root) whose names end with one of `extensions`, sorted. */
export function filesIn(folder: string, extensions: readonly string[]): string[] {
  const dir = repoPath(folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && extensions.some((ext) => e.name.endsWith(ext)))
    .map((e) => path.posix.join(folder, e.name))
    .sort();
}

// ---------------------------------------------------------------------------------------------------------------
// action.yml

export interface ActionInput {
  name: string;
  description: string;
  required: boolean;
  default?: string;
}

export interface ActionOutput {
  name: string;
  description: string;
}

export interface ActionDefinition {
  inputs: ActionInput[];
  outputs: ActionOutput[];
}

/** Folded and multi-line descriptions compare as one line of single spaces. */
export function normaliseText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function loadAction(): ActionDefinition {
  const doc = parse(readRepoFile('action.yml')) as {
    inputs?: Record<string, { description?: string; required?: boolean; default?: unknown }>;
    outputs?: Record<string, { description?: string }>;
  };
  return {
    inputs: Object.entries(doc.inputs ?? {}).map(([name, spec]) => ({
      name,
      description: normaliseText(spec.description ?? ''),
      required: spec.required === true,
      ...(spec.default === undefined || spec.default === null ? {} : { default: String(spec.default) }),
    })),
    outputs: Object.entries(doc.outputs ?? {}).map(([name, spec]) => ({
      name,
      description: normaliseText(spec.description ?? ''),
    })),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Workflows

type Token = NonNullable<TemplateParseResult['value']>;
type Parser = typeof WorkflowParser;

let parser: Promise<Parser> | undefined;

/** GitHub's workflow parser, loaded once (vitest inlines it: see vitest.config.ts). */
export function workflowParser(): Promise<Parser> {
  parser ??= import('@actions/workflow-parser');
  return parser;
}

/** One `uses:` of a workflow: a step's action, or a job calling a reusable workflow. */
export interface UsesSite {
  job: string;
  /** `steps[2]`, or `(job)` for a reusable-workflow job. */
  where: string;
  uses: string;
  line: number | undefined;
  /** Keys of the step's `with:` mapping. */
  withKeys: string[];
  /** `with:` values that are plain strings (expressions are left out). */
  withValues: Record<string, string>;
}

export interface ParsedWorkflow {
  name: string;
  /** Parser and converter errors, each with its position. */
  errors: string[];
  uses: UsesSite[];
  /** Job id → its `needs`. */
  needs: Record<string, string[]>;
}

function text(p: Parser, token: Token): string {
  return p.isString(token) ? token.value : token.toString();
}

function mappingKeys(p: Parser, token: Token | undefined): string[] {
  if (!token || !p.isMapping(token)) return [];
  return [...token].map((pair) => text(p, pair.key));
}

function usesSite(p: Parser, job: string, where: string, node: Token): UsesSite | undefined {
  const { isMapping, isString } = p;
  if (!isMapping(node)) return undefined;
  const uses = node.find('uses');
  if (!uses) return undefined;
  const withToken = node.find('with');
  const withValues: Record<string, string> = {};
  if (withToken && isMapping(withToken)) {
    for (const pair of withToken) {
      if (isString(pair.value)) withValues[text(p, pair.key)] = pair.value.value;
    }
  }
  return {
    job,
    where,
    uses: text(p, uses),
    line: uses.line,
    withKeys: mappingKeys(p, withToken),
    withValues,
  };
}

/** Parses a workflow with GitHub's parser and converter and collects every `uses:`. */
export async function parseWorkflowText(name: string, content: string): Promise<ParsedWorkflow> {
  const p = await workflowParser();
  const { isMapping, isSequence } = p;
  const result = p.parseWorkflow({ name, content }, new p.NoOperationTraceWriter());
  const errors = result.context.errors.getErrors().map((e) => e.message);
  const uses: UsesSite[] = [];
  const needs: Record<string, string[]> = {};
  const root = result.value;
  if (root && errors.length === 0) {
    const template = await p.convertWorkflowTemplate(result.context, root);
    errors.push(...(template.errors ?? []).map((e) => `${name}: ${e.Message}`));
    for (const job of template.jobs) needs[job.id.value] = (job.needs ?? []).map((n) => n.value);
  }
  const jobs = root && isMapping(root) ? root.find('jobs') : undefined;
  if (jobs && isMapping(jobs)) {
    for (const { key, value: job } of jobs) {
      const jobId = text(p, key);
      const reusable = usesSite(p, jobId, '(job)', job);
      if (reusable) uses.push(reusable);
      const steps = isMapping(job) ? job.find('steps') : undefined;
      if (!steps || !isSequence(steps)) continue;
      [...steps].forEach((step, i) => {
        const site = usesSite(p, jobId, `steps[${i}]`, step);
        if (site) uses.push(site);
      });
    }
  }
  return { name, errors, uses, needs };
}

/** Whether a `uses:` is Edgeship itself: the action in this repository, or the published one. */
export function isEdgeship(uses: string): boolean {
  return uses === './' || uses === '.' || /^edgeship\/edgeship(@|$)/.test(uses);
}

/** A third-party action or reusable workflow pinned to a full commit sha (`owner/repo[/path]@<40 hex>`). */
export function isPinned(uses: string): boolean {
  if (uses.startsWith('./')) return true; // this repository's own files
  if (uses.startsWith('docker://')) return /@sha256:[0-9a-f]{64}$/.test(uses);
  return /^[^@\s]+@[0-9a-f]{40}$/.test(uses);
}

// ---------------------------------------------------------------------------------------------------------------
// Markdown

/** The text of a `## heading` section (up to the next heading of the same or a higher level). */
export function markdownSection(markdown: string, heading: string): string | undefined {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return undefined;
  const level = /^#+/.exec(heading)?.[0].length ?? 2;
  const end = lines.findIndex(
    (l, i) => i > start && /^#+ /.test(l) && (/^#+/.exec(l)?.[0].length ?? 9) <= level,
  );
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** Splits a table row on unescaped pipes; cells are trimmed, the outer empty cells dropped. */
function splitRow(line: string): string[] {
  const cells = line.trim().split(/(?<!\\)\|/);
  if (cells[0]?.trim() === '') cells.shift();
  if (cells[cells.length - 1]?.trim() === '') cells.pop();
  return cells.map((c) => c.trim());
}

export interface MarkdownTable {
  header: string[];
  rows: Array<{ cells: Record<string, string>; line: number }>;
}

/** Every GFM table of a Markdown text, rows keyed by their lowercased header names. */
export function markdownTables(markdown: string): MarkdownTable[] {
  const lines = markdown.split('\n');
  const tables: MarkdownTable[] = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i]!;
    const separator = lines[i + 1]!;
    if (!head.trim().startsWith('|') || !/^\s*\|?\s*:?-{3,}/.test(separator)) continue;
    const header = splitRow(head).map((h) => h.toLowerCase());
    const rows: MarkdownTable['rows'] = [];
    let j = i + 2;
    for (; j < lines.length && lines[j]!.trim().startsWith('|'); j++) {
      const cells = splitRow(lines[j]!);
      rows.push({ cells: Object.fromEntries(header.map((h, k) => [h, cells[k] ?? ''])), line: j + 1 });
    }
    tables.push({ header, rows });
    i = j - 1;
  }
  return tables;
}

/** A table cell as plain text: Markdown backslash escapes removed, whitespace collapsed. */
export function cellText(cell: string): string {
  return normaliseText(cell.replace(/\\([\\`*_{}[\]()#+\-.!|<>~])/g, '$1'));
}

/** `` `name` `` → name; anything else → undefined. */
export function codeSpan(cell: string): string | undefined {
  const m = /^`([^`]+)`$/.exec(cell.trim());
  return m?.[1];
}

export interface CodeBlock {
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
}

/** Fenced code blocks (```lang … ```) of a Markdown text. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[2]!;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j]!.trim().startsWith(fence); j++) body.push(lines[j]!);
    blocks.push({ lang: open[3] ?? '', code: body.join('\n'), line: i + 1 });
    i = j;
  }
  return blocks;
}

/** YAML documents that are GitHub workflows (they have `on` and `jobs`). */
export function looksLikeWorkflow(code: string): boolean {
  try {
    const doc = parse(code) as unknown;
    return typeof doc === 'object' && doc !== null && 'jobs' in doc && 'on' in doc;
  } catch {
    return false;
  }
}
