/**
 * Turning ajv's errors into "path: what is wrong" problems: the path of an error as keys and array indexes of the
 * document, how a path and a value read in a message, and the run of a validator that collects one problem per
 * distinct path and message. What each error says is up to the schema module (its `translate`).
 */
import type { ErrorObject, ValidateFunction } from 'ajv';

/** A problem at a path of the document (segments as in the data: keys and array indexes). */
export interface SchemaProblem {
  path: Array<string | number>;
  message: string;
}

/** A key that reads as `.key` in a path; any other key reads as `["key"]`. */
export const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `waivers[2].expires`, `platforms["linux/arm/v7"].failOn`; `(top level)` for the root. */
export function formatPath(path: ReadonlyArray<string | number>, plainKey: RegExp = PLAIN_KEY): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (plainKey.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out || '(top level)';
}

/** How a value reads in a message; a string longer than `maxStringLength` is cut and ends in `...`. */
export function describeValue(value: unknown, maxStringLength = Infinity): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    if (value.trim() === '') return 'an empty string';
    return JSON.stringify(
      value.length > maxStringLength ? `${value.slice(0, maxStringLength - 3)}...` : value,
    );
  }
  return String(value);
}

/** The segments of an ajv `instancePath` (JSON pointer) in `root`: numbers where the data is a list. */
export function problemPath(instancePath: string, root: unknown): Array<string | number> {
  if (instancePath === '') return [];
  const out: Array<string | number> = [];
  let node: unknown = root;
  for (const raw of instancePath.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      out.push(Number(seg));
      node = node[Number(seg)];
    } else {
      out.push(seg);
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

/**
 * Validates `document` and translates each ajv error (`undefined`: the error says nothing of its own), keeping the
 * first problem of each path and message. Empty when the document is valid.
 */
export function collectSchemaProblems<P extends SchemaProblem>(
  validate: ValidateFunction,
  document: unknown,
  translate: (error: ErrorObject, root: unknown) => P | undefined,
): P[] {
  if (validate(document)) return [];
  const problems: P[] = [];
  const seen = new Set<string>();
  for (const error of validate.errors ?? []) {
    const problem = translate(error, document);
    if (!problem) continue;
    const key = `${formatPath(problem.path)}\0${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}
