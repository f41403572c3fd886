/**
 * The release gate's policy: Edgeship defaults, overridden by a policy file (YAML, schema-validated), overridden by
 * action inputs. Every bad value is a PolicyError naming the file and field path, or the input, with the accepted form.
 *
 * Kept as one file: defaults, file and input overrides are one merge with one set of error positions.
 */
import { createHash } from 'node:crypto';
import { lineOf } from '../validation/yaml-position.js';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { formatPlatform, parsePlatform } from '../image/platform.js';
import { PolicyError } from './errors.js';
import {
  API_VERSION,
  CHECK_MODES,
  FAIL_ON_VALUES,
  KIND,
  SEVERITY_KEYS,
  describeValue,
  formatPath,
  schemaProblems,
  type CheckMode,
  type FailOn,
  type RawPolicyFile,
  type RawRules,
  type SchemaProblem,
  type SeverityKey,
} from './schema.js';
import { SIZE_FORM, parseSize } from './size.js';
import { closest } from './suggest.js';

import type { VexStatement } from './vex.js';

export { PolicyError } from './errors.js';
export { parseSize, formatSize } from './size.js';
export type { CheckMode, FailOn, SeverityKey } from './schema.js';
export { API_VERSION, CHECK_MODES, FAIL_ON_VALUES, KIND, SEVERITY_KEYS } from './schema.js';

export interface EdgeRules {
  /** Compressed bytes per platform; null = no limit (the image-size check is then skipped). */
  maxImageSize: number | null;
  imageSize: CheckMode;
  nonRoot: CheckMode;
  healthcheck: CheckMode;
}

/** The settings that apply to one platform. */
export interface Rules {
  failOn: FailOn;
  /** Per-severity caps on counts after waivers and onlyFixed; null = no cap. */
  max: Record<SeverityKey, number | null>;
  onlyFixed: boolean;
  failOnKev: boolean;
  /** A match with EPSS ≥ this blocks; null = off. */
  epssThreshold: number | null;
  edge: EdgeRules;
}

export interface Waiver {
  id: string;
  package?: string;
  /** Normalised platforms (linux/arm64, linux/arm/v7); absent = every platform. */
  platforms?: string[];
  reason: string;
  /** YYYY-MM-DD; the waiver is valid through the end of that day, UTC. */
  expires: string;
  /** Position in the file's waivers list, for messages (`waivers[2]`). */
  index: number;
}

/** The resolved policy: the default rules, per-platform rules (fully resolved), waivers and provenance. */
export interface Policy extends Rules {
  apiVersion: typeof API_VERSION;
  platforms: Record<string, Rules>;
  waivers: Waiver[];
  /** Where each setting came from, e.g. `failOn=critical: input "fail-on"`, `waivers: policy.yml (2)`. */
  source: string[];
  /** The `vex` input's statements and the image repository their products are matched against. */
  vex?: { imageName: string; statements: VexStatement[] };
}

export interface PolicyInputs {
  policyFile?: { path: string; text: string };
  failOn?: string;
  onlyFixed?: string;
  failOnKev?: string;
  epssThreshold?: string;
  maxImageSize?: string;
  imageSizeCheck?: string;
  nonRootCheck?: string;
  healthcheckCheck?: string;
}

const DEFAULTS: Rules = {
  failOn: 'high',
  max: { critical: null, high: null, medium: null, low: null, negligible: null, unknown: null },
  onlyFixed: false,
  failOnKev: true,
  epssThreshold: null,
  edge: { maxImageSize: null, imageSize: 'fail', nonRoot: 'warn', healthcheck: 'warn' },
};
Object.freeze(DEFAULTS.max);
Object.freeze(DEFAULTS.edge);
export const DEFAULT_RULES: Readonly<Rules> = Object.freeze(DEFAULTS);

// ---------------------------------------------------------------------------------------------------------------
// Inputs

type InputName = Exclude<keyof PolicyInputs, 'policyFile'>;

/** The action input of each policy setting. */
export const POLICY_INPUT_NAMES = {
  failOn: 'fail-on',
  onlyFixed: 'only-fixed',
  failOnKev: 'fail-on-kev',
  epssThreshold: 'epss-threshold',
  maxImageSize: 'max-image-size',
  imageSizeCheck: 'image-size-check',
  nonRootCheck: 'non-root-check',
  healthcheckCheck: 'healthcheck-check',
} as const satisfies Record<InputName, string>;

function inputError(name: InputName, raw: string, expected: string, hint = ''): PolicyError {
  return new PolicyError(
    `Input "${POLICY_INPUT_NAMES[name]}": ${JSON.stringify(raw)} is not valid; expected ${expected}${hint}`,
  );
}

function oneOf<T extends string>(name: InputName, raw: string, values: readonly T[]): T {
  const value = raw.trim().toLowerCase();
  if ((values as readonly string[]).includes(value)) return value as T;
  const hint = closest(raw.trim(), values);
  throw inputError(name, raw, `one of ${values.join(', ')}`, hint ? ` (did you mean "${hint}"?)` : '');
}

function bool(name: InputName, raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw inputError(name, raw, 'true or false');
}

function epss(name: InputName, raw: string): number {
  const text = raw.trim();
  const value = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (!(value >= 0 && value <= 1)) throw inputError(name, raw, 'a number from 0 to 1 (e.g. 0.5)');
  return value;
}

function size(name: InputName, raw: string): number {
  try {
    return parseSize(raw);
  } catch {
    throw inputError(name, raw, SIZE_FORM);
  }
}

/** The value of an input, or undefined when it is not set (absent or blank). */
function setInput(inputs: PolicyInputs, name: InputName): string | undefined {
  const raw = inputs[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw;
}

// ---------------------------------------------------------------------------------------------------------------
// Policy file

interface ParsedFile {
  label: string;
  raw: RawPolicyFile;
  /** Normalised platform → the override as written. */
  platforms: Map<string, RawRules>;
  waivers: Waiver[];
}

function lineOfProblem(doc: Document, counter: LineCounter, problem: SchemaProblem): number | undefined {
  return lineOf(doc.contents, problem.path, counter, problem.atKey);
}

function problemLine(label: string, message: string, line?: number): string {
  return `${label}: ${message}${line !== undefined ? ` (line ${line})` : ''}`;
}

/** YAML 1.1 timestamps (`%YAML 1.1` documents) come back as Dates: turn them into YYYY-MM-DD / ISO text. */
function datesToText(value: unknown): unknown {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return 'an invalid date';
    const iso = value.toISOString();
    return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso;
  }
  if (Array.isArray(value)) return value.map(datesToText);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, datesToText(v)]));
  }
  return value;
}

const MAX_PROBLEMS = 20;

function fail(label: string, problems: string[]): never {
  const shown = problems.slice(0, MAX_PROBLEMS);
  if (problems.length > MAX_PROBLEMS)
    shown.push(`${label}: … and ${problems.length - MAX_PROBLEMS} more problems`);
  const head =
    shown.length === 1
      ? shown[0]!
      : `${label}: ${problems.length} problems:\n${shown.map((p) => `  ${p}`).join('\n')}`;
  throw new PolicyError(head, shown);
}

function parseFile(file: { path: string; text: string }): ParsedFile {
  const label = file.path || 'policy file';
  const counter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(file.text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  } catch (error) {
    fail(label, [`${label}: not valid YAML: ${firstLine(error)}`]);
  }
  if (doc.errors.length > 0) {
    fail(
      label,
      doc.errors.map((e) => {
        const pos = counter.linePos(e.pos[0]);
        const what = /multiple documents/i.test(e.message)
          ? 'contains several YAML documents (a second "---"); a policy file is one document'
          : firstLine(e);
        return `${label}: not valid YAML: ${what} (line ${pos.line}, column ${pos.col})`;
      }),
    );
  }
  if (doc.contents === null) {
    fail(label, [`${label}: is empty; expected a mapping with apiVersion: ${API_VERSION} and kind: ${KIND}`]);
  }
  let data: unknown;
  try {
    data = datesToText(doc.toJS({ maxAliasCount: 100 }));
  } catch (error) {
    fail(label, [`${label}: not usable YAML: ${firstLine(error)}`]);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    fail(label, [
      `${label}: must be a mapping with apiVersion: ${API_VERSION} and kind: ${KIND}; got ${describeValue(data)}`,
    ]);
  }

  const problems = schemaProblems(data).map((p) =>
    problemLine(label, `${formatPath(p.path)}: ${p.message}`, lineOfProblem(doc, counter, p)),
  );
  const raw = data as RawPolicyFile;

  // Platform keys: normalised, and no platform twice (linux/arm64 and linux/arm64/v8 are the same).
  const platforms = new Map<string, RawRules>();
  const keyOrigin = new Map<string, string>();
  if (raw.platforms && typeof raw.platforms === 'object' && !Array.isArray(raw.platforms)) {
    for (const [key, rules] of Object.entries(raw.platforms)) {
      const at = { path: ['platforms', key], atKey: true, message: '' };
      try {
        const normal = formatPlatform(parsePlatform(key));
        const earlier = keyOrigin.get(normal);
        if (earlier !== undefined) {
          problems.push(
            problemLine(
              label,
              `${formatPath(at.path)}: is the same platform as "${earlier}" (${normal}); merge the two`,
              lineOfProblem(doc, counter, at),
            ),
          );
        }
        keyOrigin.set(normal, key);
        platforms.set(normal, rules);
      } catch (error) {
        problems.push(
          problemLine(
            label,
            `${formatPath(at.path)}: is not a platform: ${firstLine(error)}`,
            lineOfProblem(doc, counter, at),
          ),
        );
      }
    }
  }
  if (problems.length > 0) fail(label, problems);

  const waivers = (raw.waivers ?? []).map((w, index): Waiver => {
    const waiver: Waiver = { id: w.id.trim(), reason: w.reason.trim(), expires: w.expires, index };
    if (w.package !== undefined) waiver.package = w.package.trim();
    if (w.platforms !== undefined) {
      waiver.platforms = [...new Set(w.platforms.map((p) => formatPlatform(parsePlatform(p))))];
    }
    return waiver;
  });
  return { label, raw, platforms, waivers };
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.trim();
}

// ---------------------------------------------------------------------------------------------------------------
// Resolution

function cloneRules(rules: Readonly<Rules>): Rules {
  return { ...rules, max: { ...rules.max }, edge: { ...rules.edge } };
}

/** Applies a file's rule block onto `target`, recording which settings it set. */
function applyRaw(target: Rules, raw: RawRules, set: (setting: string) => void): void {
  if (raw.failOn !== undefined) {
    target.failOn = raw.failOn.trim().toLowerCase() as FailOn;
    set('failOn');
  }
  if (raw.max !== undefined) {
    for (const key of SEVERITY_KEYS) {
      const value = raw.max[key];
      if (value !== undefined) {
        target.max[key] = value;
        set(`max.${key}`);
      }
    }
  }
  if (raw.onlyFixed !== undefined) {
    target.onlyFixed = raw.onlyFixed;
    set('onlyFixed');
  }
  if (raw.failOnKev !== undefined) {
    target.failOnKev = raw.failOnKev;
    set('failOnKev');
  }
  if (raw.epssThreshold !== undefined) {
    target.epssThreshold = raw.epssThreshold;
    set('epssThreshold');
  }
  const edge = raw.edge;
  if (edge !== undefined) {
    if (edge.maxImageSize !== undefined) {
      const v = edge.maxImageSize;
      target.edge.maxImageSize = v === null ? null : typeof v === 'number' ? v : parseSize(v);
      set('edge.maxImageSize');
    }
    for (const key of ['imageSize', 'nonRoot', 'healthcheck'] as const) {
      const v = edge[key];
      if (v !== undefined) {
        target.edge[key] = v.trim().toLowerCase() as CheckMode;
        set(`edge.${key}`);
      }
    }
  }
}

interface InputOverride {
  setting: string;
  input: InputName;
  apply: (rules: Rules) => void;
  shown: string;
}

function inputOverrides(inputs: PolicyInputs): InputOverride[] {
  const out: InputOverride[] = [];
  const add = <T>(
    input: InputName,
    setting: string,
    parse: (raw: string) => T,
    put: (r: Rules, v: T) => void,
  ) => {
    const raw = setInput(inputs, input);
    if (raw === undefined) return;
    const value = parse(raw);
    out.push({ setting, input, apply: (r) => put(r, value), shown: String(value) });
  };
  add(
    'failOn',
    'failOn',
    (r) => oneOf('failOn', r, FAIL_ON_VALUES),
    (r, v) => (r.failOn = v),
  );
  add(
    'onlyFixed',
    'onlyFixed',
    (r) => bool('onlyFixed', r),
    (r, v) => (r.onlyFixed = v),
  );
  add(
    'failOnKev',
    'failOnKev',
    (r) => bool('failOnKev', r),
    (r, v) => (r.failOnKev = v),
  );
  add(
    'epssThreshold',
    'epssThreshold',
    (r) => epss('epssThreshold', r),
    (r, v) => (r.epssThreshold = v),
  );
  add(
    'maxImageSize',
    'edge.maxImageSize',
    (r) => size('maxImageSize', r),
    (r, v) => (r.edge.maxImageSize = v),
  );
  add(
    'imageSizeCheck',
    'edge.imageSize',
    (r) => oneOf('imageSizeCheck', r, CHECK_MODES),
    (r, v) => (r.edge.imageSize = v),
  );
  add(
    'nonRootCheck',
    'edge.nonRoot',
    (r) => oneOf('nonRootCheck', r, CHECK_MODES),
    (r, v) => (r.edge.nonRoot = v),
  );
  add(
    'healthcheckCheck',
    'edge.healthcheck',
    (r) => oneOf('healthcheckCheck', r, CHECK_MODES),
    (r, v) => (r.edge.healthcheck = v),
  );
  return out;
}

/**
 * Resolves the policy: defaults ← policy file (top level, then `platforms.<p>` for that platform) ← inputs.
 * An input that is set overrides the file everywhere, including the file's per-platform overrides.
 */
export function loadPolicy(inputs: PolicyInputs): Policy {
  // Inputs first: a bad input is reported even when the file is fine.
  const overrides = inputOverrides(inputs);
  const file = inputs.policyFile ? parseFile(inputs.policyFile) : undefined;

  const origin = new Map<string, string>();
  const base = cloneRules(DEFAULT_RULES);
  if (file) applyRaw(base, file.raw, (s) => origin.set(s, file.label));

  const platforms: Record<string, Rules> = {};
  const platformNotes: string[] = [];
  const shadowed = new Map<string, string[]>();
  if (file) {
    for (const [platform, raw] of [...file.platforms].sort(([a], [b]) => a.localeCompare(b))) {
      const rules = cloneRules(base);
      const settings: string[] = [];
      applyRaw(rules, raw, (s) => {
        settings.push(s);
        shadowed.set(s, [...(shadowed.get(s) ?? []), `platforms["${platform}"].${s}`]);
      });
      platforms[platform] = rules;
      platformNotes.push(`platforms["${platform}"]: ${settings.join(', ') || 'nothing'} from ${file.label}`);
    }
  }
  for (const o of overrides) {
    o.apply(base);
    for (const rules of Object.values(platforms)) o.apply(rules);
    const replaced = [
      origin.has(o.setting) ? `${file?.label} ${o.setting}` : '',
      ...(shadowed.get(o.setting) ?? []),
    ]
      .filter(Boolean)
      .join(', ');
    origin.set(
      o.setting,
      `input "${POLICY_INPUT_NAMES[o.input]}"${replaced ? ` (overrides ${replaced})` : ''}`,
    );
  }

  const source: string[] = [];
  const value = (setting: string): unknown =>
    setting.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], base);
  const settings = [
    'failOn',
    ...SEVERITY_KEYS.map((k) => `max.${k}`),
    'onlyFixed',
    'failOnKev',
    'epssThreshold',
    'edge.maxImageSize',
    'edge.imageSize',
    'edge.nonRoot',
    'edge.healthcheck',
  ];
  for (const setting of settings) {
    const where = origin.get(setting);
    if (setting.startsWith('max.') && where === undefined) continue; // uncapped by default: not worth a line
    source.push(`${setting}=${JSON.stringify(value(setting))}: ${where ?? 'default'}`);
  }
  source.push(...platformNotes);
  if (file) source.push(`waivers: ${file.waivers.length} from ${file.label}`);

  return { apiVersion: API_VERSION, ...base, platforms, waivers: file?.waivers ?? [], source };
}

/** The rules for a platform: its resolved override if the policy has one, else the policy's default rules. */
export function rulesFor(policy: Policy, platform: string): Rules {
  const key = normalisePlatform(platform);
  const own = policy.platforms[key];
  if (own) return own;
  const { failOn, max, onlyFixed, failOnKev, epssThreshold, edge } = policy;
  return { failOn, max, onlyFixed, failOnKev, epssThreshold, edge };
}

/** linux/arm64/v8 → linux/arm64, aarch64 → arm64; anything unparseable is returned trimmed, as given. */
export function normalisePlatform(platform: string): string {
  try {
    return formatPlatform(parsePlatform(platform));
  } catch {
    return platform.trim();
  }
}

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}

/**
 * `sha256:<hex>` of a canonical JSON (sorted keys, no whitespace) of the resolved policy: rules, per-platform rules
 * and waivers. `source` (provenance) and waiver positions are left out: the same rules give the same digest however
 * they were written.
 */
export function policyDigest(policy: Policy): string {
  const { source: _source, waivers, ...rest } = policy;
  const body = { ...rest, waivers: waivers.map(({ index: _index, ...w }) => w) };
  return `sha256:${createHash('sha256').update(canonical(body)).digest('hex')}`;
}
