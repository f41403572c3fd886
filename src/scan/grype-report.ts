/**
 * Strict, fast reader of `grype -o json` reports.
 *
 * The report can be hundreds of megabytes, so it is never turned into one string: a byte-level scanner walks the
 * top-level object, hands each element of `matches` and of `ignoredMatches` (and each other top-level value) to
 * `JSON.parse` as its own slice, and keeps only the fields the gate needs. Anything that is not a complete,
 * well-formed report is refused with a ReportError naming the file, what is wrong and what to do: the gate must
 * never pass on a report it could only partly read.
 *
 * `ignoredMatches` (matches Grype's own rules suppressed: `.grype.yaml` ignore rules, --only-fixed, GRYPE_* env,
 * VEX documents, its default kernel-headers rules) are read exactly as strictly as `matches`, because the gate
 * evaluates them too: Grype's configuration must never be a way around Edgeship's policy and its waivers.
 *
 * Kept as one file: the byte scanner and the field readers share one strict notion of a complete report.
 */
import { isUtf8 } from 'node:buffer';
import { isRecord } from '../validation/json.js';

export type Severity = 'Critical' | 'High' | 'Medium' | 'Low' | 'Negligible' | 'Unknown';

/** Most to least severe; Unknown last. */
export const SEVERITIES: readonly Severity[] = Object.freeze([
  'Critical',
  'High',
  'Medium',
  'Low',
  'Negligible',
  'Unknown',
] as const);

const SEVERITY_BY_LOWER: ReadonlyMap<string, Severity> = new Map(SEVERITIES.map((s) => [s.toLowerCase(), s]));

/** Case-insensitive; anything that is not one of the six severities is 'Unknown'. */
export function parseSeverity(raw: unknown): Severity {
  if (typeof raw !== 'string') return 'Unknown';
  return SEVERITY_BY_LOWER.get(raw.trim().toLowerCase()) ?? 'Unknown';
}

export type FixState = 'fixed' | 'not-fixed' | 'wont-fix' | 'unknown';

export const FIX_STATES: readonly FixState[] = Object.freeze([
  'fixed',
  'not-fixed',
  'wont-fix',
  'unknown',
] as const);

/** Grype's `fix.state`; '' (seen on NVD/CPE matches), a missing state and any unrecognised text are 'unknown'. */
export function parseFixState(raw: unknown): FixState {
  if (typeof raw !== 'string') return 'unknown';
  const s = raw.trim().toLowerCase();
  return s === 'fixed' || s === 'not-fixed' || s === 'wont-fix' ? s : 'unknown';
}

export interface VulnerabilityMatch {
  id: string;
  relatedIds: string[];
  severity: Severity;
  packageName: string;
  packageVersion: string;
  packageType: string;
  fixState: FixState;
  fixedIn: string[];
  /** grype's vulnerability.knownExploited (a non-empty array) and/or that of a related vulnerability. */
  knownExploited: boolean;
  /** Highest EPSS score found on the vulnerability or its related vulnerabilities. */
  epss?: number;
  dataSource?: string;
}

/** A match Grype's own rules moved to `ignoredMatches`; read exactly like a match. */
export interface IgnoredVulnerabilityMatch extends VulnerabilityMatch {
  /**
   * Short descriptions of Grype's `appliedIgnoreRules`, one per rule, each its conditions as `key=value` joined by
   * spaces: 'vulnerability=CVE-2024-1234', 'fix-state=not-fixed', 'namespace=vex vulnerability=CVE-2024-1
   * vex-status=not_affected', 'package=linux-libc-dev package.type=deb package.upstream-name=linux
   * match-type=exact-indirect-match'. Empty when Grype listed no rule.
   */
  ignoreRules: string[];
}

export interface GrypeReport {
  matches: VulnerabilityMatch[];
  /** The entries of `ignoredMatches`, parsed as strictly as `matches` (the gate evaluates them too). */
  ignoredByGrype: IgnoredVulnerabilityMatch[];
  /** How many matches Grype's own rules suppressed: always `ignoredByGrype.length`. */
  ignoredMatches: number;
  grypeVersion?: string;
  dbBuilt?: string;
  /** Where the database came from (`descriptor.db.status.from`: the archive URL Grype imported). */
  dbSource?: string;
  source?: { type: string; target: string };
}

export class ReportError extends Error {
  override name = 'ReportError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`Grype report ${file}: ${message}`);
  }
}

const RERUN =
  'run grype again with `-o json --file <report>` (or redirect only stdout) and check that it finished';

// Byte values used by the scanner.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isWs(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Parses `grype -o json` output; throws ReportError for anything but a complete, well-formed report. */
export function parseGrypeReport(data: Buffer | string, file: string): GrypeReport {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return new Scanner(buf, file).report();
}

interface RawTopLevel {
  matches?: VulnerabilityMatch[];
  ignoredMatches?: IgnoredVulnerabilityMatch[];
  descriptor?: unknown;
  source?: unknown;
}

/** What an array of matches is called in messages, and whether its entries carry `appliedIgnoreRules`. */
interface MatchList {
  key: 'matches' | 'ignoredMatches';
  /** 'match' or 'ignored match', followed by ` #<index>`. */
  entry: string;
}

const MATCHES: MatchList = { key: 'matches', entry: 'match' };
const IGNORED_MATCHES: MatchList = { key: 'ignoredMatches', entry: 'ignored match' };

class Scanner {
  private readonly end: number;
  /** One string per distinct rule description, shared by every ignored match it applies to. */
  private readonly ruleTexts = new Map<string, string>();

  constructor(
    private readonly buf: Buffer,
    private readonly file: string,
  ) {
    this.end = buf.length;
  }

  private fail(message: string): never {
    throw new ReportError(this.file, message);
  }

  /** 1-based line of a byte offset, for messages (only computed on error). */
  private where(offset: number): string {
    let line = 1;
    let at = this.buf.indexOf(0x0a);
    while (at !== -1 && at < offset) {
      line++;
      at = this.buf.indexOf(0x0a, at + 1);
    }
    return `byte ${offset}, line ${line}`;
  }

  /** The text of the line at `offset` (from its start, or from `offset` itself), trimmed and quoted. */
  private lineAt(offset: number, fromOffset = false): string {
    const start = fromOffset ? offset : this.buf.lastIndexOf(0x0a, Math.max(0, offset - 1)) + 1;
    let stop = this.buf.indexOf(0x0a, offset);
    if (stop === -1) stop = this.end;
    const text = this.buf
      .toString('utf8', start, Math.min(stop, start + 120))
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\[[0-9;]*m/g, '')
      .trim();
    return JSON.stringify(text);
  }

  private skipWs(i: number): number {
    const buf = this.buf;
    const end = this.end;
    while (i < end && isWs(buf[i])) i++;
    return i;
  }

  private truncated(context: string): never {
    this.fail(
      `the JSON is truncated: it ends (at byte ${this.end}) ${context}; the file is incomplete ` +
        `(grype killed, disk full or an interrupted upload): ${RERUN}`,
    );
  }

  private stderrMixedIn(offset: number, before: boolean): never {
    this.fail(
      `the report has non-JSON text ${before ? 'before' : 'after'} the JSON object (${this.where(offset)}: ` +
        `${this.lineAt(offset, !before)}); stderr was probably mixed into the report (2>&1). ` +
        `Refusing it rather than guessing: ${RERUN}`,
    );
  }

  /** Index just after the JSON value starting at `start` (which is not whitespace), or -1 if the data ends first. */
  private valueEnd(start: number): number {
    const buf = this.buf;
    const end = this.end;
    const first = buf[start];
    let i = start;
    if (first === QUOTE) {
      i++;
      while (i < end) {
        const c = buf[i++];
        if (c === BACKSLASH) i++;
        else if (c === QUOTE) return i;
      }
      return -1;
    }
    if (first === LBRACE || first === LBRACKET) {
      let depth = 0;
      while (i < end) {
        const c = buf[i++]!;
        if (c === QUOTE) {
          // Skip the string: a quote preceded by a backslash escape does not end it.
          for (;;) {
            if (i >= end) return -1;
            const s = buf[i++];
            if (s === QUOTE) break;
            if (s === BACKSLASH) i++;
          }
        } else if (c === LBRACE || c === LBRACKET) {
          depth++;
        } else if (c === RBRACE || c === RBRACKET) {
          if (--depth === 0) return i;
        }
      }
      return -1;
    }
    // A number, true, false or null: up to the next delimiter. JSON.parse validates it.
    while (i < end) {
      const c = buf[i];
      if (c === COMMA || c === RBRACE || c === RBRACKET || isWs(c)) return i;
      i++;
    }
    return i;
  }

  private parseSlice(start: number, stop: number, what: string): unknown {
    const text = this.buf.toString('utf8', start, stop);
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
      return this.fail(
        `${what} is not valid JSON (starting at ${this.where(start)}): ${detail}; the file is corrupt: ${RERUN}`,
      );
    }
  }

  report(): GrypeReport {
    const { top, keys } = this.topLevel();
    return reportFrom(top, keys, (message) => this.fail(message));
  }

  /** The top-level object: `matches` and `ignoredMatches` parsed match by match, `descriptor` and `source` whole. */
  private topLevel(): { top: RawTopLevel; keys: string[] } {
    const buf = this.buf;
    if (this.end === 0) this.fail(`is empty (0 bytes): grype wrote nothing; ${RERUN}`);
    if (!isUtf8(buf)) {
      this.fail(
        `is not UTF-8 text (a binary or differently encoded file?); expected the output of grype -o json`,
      );
    }
    let i = 0;
    if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) i = 3; // UTF-8 byte order mark
    i = this.skipWs(i);
    if (i >= this.end) this.fail(`contains only whitespace: grype wrote nothing; ${RERUN}`);
    if (buf[i] !== LBRACE) this.notAnObject(i);

    const top: RawTopLevel = {};
    const seen = new Set<string>();
    i = this.skipWs(i + 1);
    if (buf[i] === RBRACE) {
      i++;
    } else {
      for (;;) {
        if (i >= this.end) this.truncated('inside the top-level object');
        if (buf[i] !== QUOTE) this.unexpected(i, 'a key (a string in double quotes) in the top-level object');
        const keyEnd = this.valueEnd(i);
        if (keyEnd < 0) this.truncated('inside a top-level key');
        const key = this.parseSlice(i, keyEnd, 'a top-level key') as string;
        if (seen.has(key)) {
          this.fail(
            `the top-level key "${key}" appears twice (${this.where(i)}); the report is ambiguous: ${RERUN}`,
          );
        }
        seen.add(key);
        i = this.skipWs(keyEnd);
        if (i >= this.end) this.truncated(`after the top-level key "${key}"`);
        if (buf[i] !== COLON) this.unexpected(i, `":" after the top-level key "${key}"`);
        i = this.skipWs(i + 1);
        if (i >= this.end) this.truncated(`before the value of the top-level key "${key}"`);
        if (key === 'matches') {
          if (buf[i] !== LBRACKET) {
            const stop = this.valueEnd(i);
            const value = stop < 0 ? undefined : this.parseSlice(i, stop, '"matches"');
            this.fail(
              `"matches" is ${describe(value)}, not an array; this is not grype -o json output (or it is corrupt)`,
            );
          }
          const [matches, after] = this.matchesArray(i, MATCHES);
          top.matches = matches;
          i = after;
        } else if (key === 'ignoredMatches' && buf[i] === LBRACKET) {
          const [ignored, after] = this.matchesArray(i, IGNORED_MATCHES);
          top.ignoredMatches = ignored as IgnoredVulnerabilityMatch[];
          i = after;
        } else {
          const stop = this.valueEnd(i);
          if (stop < 0) this.truncated(`inside the value of the top-level key "${key}"`);
          const value = this.parseSlice(i, stop, `the value of "${key}"`);
          if (key === 'ignoredMatches' && value !== null) {
            // null is read as none (Go's nil slice); anything else that is not an array is not grype's output.
            this.fail(`"ignoredMatches" is ${describe(value)}, not an array; ${RERUN}`);
          }
          if (key === 'descriptor' || key === 'source') top[key] = value;
          i = stop;
        }
        i = this.skipWs(i);
        if (i >= this.end) this.truncated('inside the top-level object (no closing "}")');
        if (buf[i] === COMMA) {
          i = this.skipWs(i + 1);
          continue;
        }
        if (buf[i] === RBRACE) {
          i++;
          break;
        }
        this.unexpected(i, '"," or "}" in the top-level object');
      }
    }
    const rest = this.skipWs(i);
    if (rest < this.end) this.stderrMixedIn(rest, false);
    return { top, keys: [...seen] };
  }

  private notAnObject(i: number): never {
    const buf = this.buf;
    const c = buf[i]!;
    const kind =
      c === LBRACKET
        ? 'an array'
        : c === QUOTE
          ? 'a string'
          : c === 0x2d || (c >= 0x30 && c <= 0x39)
            ? 'a number'
            : c === 0x74 || c === 0x66
              ? 'a boolean'
              : c === 0x6e
                ? 'null'
                : undefined;
    if (kind) {
      // A whole JSON value that is not an object (but "[0000]  WARN ..." is a log line, not an array).
      const stop = this.valueEnd(i);
      if (stop > 0 && this.skipWs(stop) === this.end) {
        this.fail(`the top level is ${kind}, not an object; expected the output of grype -o json`);
      }
    }
    // Log lines ("[0000]  WARN ...", "error ...") and then the report: stderr mixed in.
    if (buf.indexOf('\n{', i) !== -1) this.stderrMixedIn(i, true);
    this.fail(
      `is not JSON: it starts with ${this.lineAt(i)}; expected the output of grype -o json ` +
        '(was it written with -o table, or is it a log?)',
    );
  }

  private unexpected(i: number, expected: string): never {
    const found = String.fromCharCode(this.buf[i]!);
    this.fail(
      `is not valid JSON: expected ${expected} at ${this.where(i)} but found ${JSON.stringify(found)}; ${RERUN}`,
    );
  }

  /**
   * Parses the `matches` or `ignoredMatches` array starting at `[`; returns its matches (for `ignoredMatches`,
   * each with its `ignoreRules`) and the index after `]`.
   */
  private matchesArray(start: number, list: MatchList): [VulnerabilityMatch[], number] {
    const buf = this.buf;
    const { key, entry } = list;
    const matches: VulnerabilityMatch[] = [];
    let i = this.skipWs(start + 1);
    if (i >= this.end) this.truncated(`inside the "${key}" array`);
    if (buf[i] === RBRACKET) return [matches, i + 1];
    for (;;) {
      if (buf[i] !== LBRACE) this.unexpected(i, `${entry} #${matches.length} (an object) in "${key}"`);
      const stop = this.valueEnd(i);
      if (stop < 0) this.truncated(`inside ${entry} #${matches.length} of the "${key}" array`);
      const raw = this.parseSlice(i, stop, `${entry} #${matches.length}`);
      matches.push(this.toMatch(raw, list, matches.length, i));
      i = this.skipWs(stop);
      if (i >= this.end) this.truncated(`after ${entry} #${matches.length - 1} of the "${key}" array`);
      const c = buf[i];
      if (c === RBRACKET) return [matches, i + 1];
      if (c !== COMMA) this.unexpected(i, `"," or "]" in the "${key}" array`);
      i = this.skipWs(i + 1);
      if (i >= this.end) this.truncated(`after ${entry} #${matches.length - 1} of the "${key}" array`);
    }
  }

  private toMatch(raw: unknown, list: MatchList, index: number, offset: number): VulnerabilityMatch {
    const bad: (what: string) => never = (what) =>
      this.fail(
        `${list.entry} #${index}${list === MATCHES ? '' : ` of "${list.key}"`} (${this.where(offset)}) ${what}; ` +
          `the gate refuses a report it cannot read completely rather than drop a match: ${RERUN}`,
      );
    const match = asObject(raw) ?? bad('is not an object');
    const vuln = asObject(match.vulnerability) ?? bad('has no "vulnerability" object');
    const id = vuln.id;
    if (typeof id !== 'string' || id.trim() === '') bad('has no vulnerability id ("vulnerability.id")');
    const artifact = asObject(match.artifact) ?? bad(`(${id}) has no "artifact" object`);
    const name = artifact.name;
    if (typeof name !== 'string' || name === '') bad(`(${id}) has no package name ("artifact.name")`);
    const version = artifact.version ?? '';
    if (typeof version !== 'string') bad(`(${id}) has a non-string "artifact.version"`);
    const type = artifact.type ?? '';
    if (typeof type !== 'string') bad(`(${id}) has a non-string "artifact.type"`);

    let fixState: FixState = 'unknown';
    let fixedIn: string[] = [];
    const fix = vuln.fix;
    if (fix !== undefined && fix !== null) {
      const fixObject = asObject(fix) ?? bad(`(${id}) has a "vulnerability.fix" that is not an object`);
      fixState = parseFixState(fixObject.state);
      const versions = fixObject.versions ?? [];
      if (!Array.isArray(versions) || !versions.every((v) => typeof v === 'string')) {
        bad(`(${id}) has "vulnerability.fix.versions" that is not an array of strings`);
      }
      fixedIn = versions as string[];
    } else if (vuln.fixedInVersion !== undefined && vuln.fixedInVersion !== null) {
      // Legacy (2021, grype ≤ 0.2x) schema: one fixedInVersion string instead of fix{}.
      const legacy = vuln.fixedInVersion;
      if (typeof legacy !== 'string') bad(`(${id}) has a non-string "vulnerability.fixedInVersion"`);
      if (legacy.trim() !== '') {
        fixState = 'fixed';
        fixedIn = [legacy];
      }
    }

    const result: VulnerabilityMatch = {
      id,
      relatedIds: [],
      severity: parseSeverity(vuln.severity),
      packageName: name,
      packageVersion: version,
      packageType: type,
      fixState,
      fixedIn,
      knownExploited: hasEntries(vuln.knownExploited),
    };
    let epss = maxEpss(vuln.epss);
    const related = match.relatedVulnerabilities;
    if (related !== undefined && related !== null) {
      if (!Array.isArray(related)) bad(`(${id}) has "relatedVulnerabilities" that is not an array`);
      for (const entry of related) {
        const rel = asObject(entry);
        if (!rel) continue;
        if (
          typeof rel.id === 'string' &&
          rel.id !== '' &&
          rel.id !== id &&
          !result.relatedIds.includes(rel.id)
        ) {
          result.relatedIds.push(rel.id);
        }
        if (hasEntries(rel.knownExploited)) result.knownExploited = true;
        const relEpss = maxEpss(rel.epss);
        if (relEpss !== undefined && (epss === undefined || relEpss > epss)) epss = relEpss;
      }
    }
    if (epss !== undefined) result.epss = epss;
    if (typeof vuln.dataSource === 'string' && vuln.dataSource !== '') result.dataSource = vuln.dataSource;
    if (list === IGNORED_MATCHES) {
      (result as IgnoredVulnerabilityMatch).ignoreRules = this.ignoreRules(match.appliedIgnoreRules, id, bad);
    }
    return result;
  }

  /** Descriptions of an ignored match's `appliedIgnoreRules` (null or missing: none), each distinct once. */
  private ignoreRules(value: unknown, id: string, bad: (what: string) => never): string[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) bad(`(${id}) has "appliedIgnoreRules" that is not an array`);
    const out: string[] = [];
    for (const entry of value) {
      const rule =
        asObject(entry) ?? bad(`(${id}) has an entry of "appliedIgnoreRules" that is not an object`);
      const described = describeIgnoreRule(rule);
      let text = this.ruleTexts.get(described);
      if (text === undefined) {
        text = described;
        this.ruleTexts.set(text, text);
      }
      if (!out.includes(text)) out.push(text);
    }
    return out;
  }
}

/** Whitespace and control characters (C0, DEL, C1): a rule's text is shown on one log line. */
// eslint-disable-next-line no-control-regex
const CONTROL_OR_SPACE = /[\s\x00-\x1f\x7f-\x9f]+/g;

/** A rule's value for a description: one line, no control characters, at most 100 characters. */
function ruleValue(value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return '';
  const text = String(value).replace(CONTROL_OR_SPACE, ' ').trim();
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

/**
 * One of Grype's IgnoreRule objects (grype/presenter/models/ignore.go) as its non-empty conditions,
 * `key=value` joined by spaces, e.g. 'vulnerability=CVE-2024-1 package=openssl package.type=deb'.
 */
function describeIgnoreRule(rule: Record<string, unknown>): string {
  const parts: string[] = [];
  const add = (key: string, raw: unknown) => {
    const value = ruleValue(raw);
    if (value !== '') parts.push(`${key}=${value}`);
  };
  add('vulnerability', rule.vulnerability);
  const pkg = asObject(rule.package);
  if (pkg) {
    add('package', pkg.name);
    add('package.version', pkg.version);
    add('package.type', pkg.type);
    add('package.language', pkg.language);
    add('package.location', pkg.location);
    add('package.upstream-name', pkg['upstream-name']);
  }
  add('fix-state', rule['fix-state']);
  add('vex-status', rule['vex-status']);
  add('vex-justification', rule['vex-justification']);
  add('match-type', rule['match-type']);
  add('namespace', rule.namespace);
  add('reason', rule.reason);
  return parts.length > 0 ? parts.join(' ') : 'a rule with no conditions';
}

/** The report from the top-level members: what the gate reads, and what Grype says of itself and its input. */
function reportFrom(
  top: RawTopLevel,
  keys: readonly string[],
  fail: (message: string) => never,
): GrypeReport {
  if (!top.matches) {
    fail(
      `has no "matches" array (top-level keys: ${keys.join(', ') || 'none'}); ` +
        'expected the output of `grype -o json` (not table, SARIF or CycloneDX)',
    );
  }
  const ignoredByGrype = top.ignoredMatches ?? [];
  const report: GrypeReport = {
    matches: top.matches,
    ignoredByGrype,
    ignoredMatches: ignoredByGrype.length,
  };
  const descriptor = asObject(top.descriptor);
  if (descriptor) {
    if (typeof descriptor.version === 'string' && descriptor.version)
      report.grypeVersion = descriptor.version;
    const db = asObject(descriptor.db);
    const built = db?.built ?? asObject(db?.status)?.built;
    if (typeof built === 'string' && built) report.dbBuilt = built;
    const from = asObject(db?.status)?.from;
    if (typeof from === 'string' && from) report.dbSource = from;
  }
  const source = asObject(top.source);
  if (source && typeof source.type === 'string') {
    const target = source.target;
    const objectTarget = asObject(target);
    const name =
      typeof target === 'string'
        ? target
        : typeof objectTarget?.userInput === 'string'
          ? objectTarget.userInput
          : '';
    report.source = { type: source.type, target: name };
  }
  return report;
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}

function hasEntries(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

function maxEpss(value: unknown): number | undefined {
  if (!Array.isArray(value)) return undefined;
  let best: number | undefined;
  for (const entry of value) {
    const score = asObject(entry)?.epss;
    if (typeof score === 'number' && Number.isFinite(score) && (best === undefined || score > best))
      best = score;
  }
  return best;
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value} (${JSON.stringify(value).slice(0, 40)})`;
}
