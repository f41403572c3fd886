/**
 * The gate's verdict, computed purely from the parsed Grype report(s), the image facts and the policy (never from
 * Grype's exit code). Anything that blocks carries the exact reason; an empty run never passes.
 *
 * Matches Grype's own rules suppressed (`ignoredMatches`: .grype.yaml ignore rules, --only-fixed, GRYPE_* env, VEX,
 * its default kernel-headers rules) are evaluated exactly like the others: they count, block and can be waived,
 * so Grype's configuration never weakens the gate; only an Edgeship waiver (with a reason and an expiry) does.
 *
 * Kept as one file: severity, fix state, KEV/EPSS, waivers and edge checks are one evaluation over one match list;
 * split, the order in which they apply would be spread over several modules.
 */
import {
  SEVERITIES,
  type FixState,
  type GrypeReport,
  type IgnoredVulnerabilityMatch,
  type Severity,
  type VulnerabilityMatch,
} from '../scan/grype-report.js';
import { type Policy, type Rules, type Waiver, formatSize, normalisePlatform, rulesFor } from './policy.js';
import type { SeverityKey } from './schema.js';
import { vexApplies, type VexStatement } from './vex.js';

export interface ImageFacts {
  /** Compressed bytes (config + layers) of the platform's image. */
  size: number;
  /** The image config's User ('' when not set). */
  user: string;
  healthcheck: boolean;
  /** The platform image's digest (VEX products may pin it). */
  digest?: string;
}

/** A VEX statement of the `vex` input about a match: `not_affected` waives it, any other status only notes it. */
export interface VexUse {
  statement: VexStatement;
  platform: string;
  matchId: string;
  packageName: string;
  packageVersion: string;
  waives: boolean;
}

export interface Finding {
  kind: 'vulnerability';
  id: string;
  relatedIds: string[];
  severity: Severity;
  packageName: string;
  packageVersion: string;
  packageType: string;
  fixedIn: string[];
  fixState: FixState;
  knownExploited: boolean;
  epss?: number;
  platform: string;
  /** e.g. 'severity High ≥ fail-on high', 'known exploited (CISA KEV)', 'EPSS 0.92 ≥ 0.5', 'High count 6 > max 5'. */
  reasons: string[];
  /**
   * Set when Grype's own rules had suppressed every occurrence of this match (it was only in `ignoredMatches`):
   * the descriptions of those rules (possibly empty). The gate evaluated it anyway.
   */
  suppressedByGrype?: string[];
}

export interface EdgeFinding {
  kind: 'edge';
  check: 'image-size' | 'non-root' | 'healthcheck';
  mode: 'fail' | 'warn';
  platform: string;
  message: string;
}

export interface WaiverUse {
  waiver: Waiver;
  platform: string;
  matchId: string;
  packageName: string;
}

export interface PlatformVerdict {
  platform: string;
  pass: boolean;
  /** All matches (deduplicated by id, package and version), before waivers. */
  counts: Record<Severity, number>;
  blocking: Finding[];
  waived: WaiverUse[];
  /** Matches only an expired waiver would have covered: they block if otherwise blocking. */
  expiredWaiverHits: WaiverUse[];
  /** VEX statements of the `vex` input about matches (present when there are any). */
  vex?: VexUse[];
  edge: EdgeFinding[];
  /**
   * How many matches Grype itself suppressed (its own ignore rules, only-fixed, VEX): the gate evaluated them anyway,
   * like every other match (they are in counts, blocking and waived).
   */
  ignoredByGrype: number;
  /** The rules Grype applied to them, most used first, with how many of its matches each suppressed. */
  grypeIgnoreRules?: Array<{ rule: string; matches: number }>;
}

export interface GateVerdict {
  pass: boolean;
  platforms: PlatformVerdict[];
  waivers: { applied: WaiverUse[]; expired: Waiver[]; unused: Waiver[] };
  /** Gate-level reasons to fail that belong to no platform (nothing scanned, a platform given twice). */
  problems: string[];
}

const SEVERITY_RANK: Record<Severity, number> = Object.fromEntries(
  SEVERITIES.map((s, i) => [s, i]),
) as Record<Severity, number>;

function severityKey(severity: Severity): SeverityKey {
  return severity.toLowerCase() as SeverityKey;
}

function failOnSeverity(rules: Rules): Severity | undefined {
  return rules.failOn === 'none' ? undefined : SEVERITIES.find((s) => s.toLowerCase() === rules.failOn);
}

/** End of the waiver's expiry day (exclusive), UTC milliseconds. */
export function waiverEnd(waiver: Waiver): number {
  const [y, m, d] = waiver.expires.split('-').map(Number) as [number, number, number];
  return Date.UTC(y, m - 1, d + 1);
}

export function waiverExpired(waiver: Waiver, now: Date): boolean {
  return now.getTime() >= waiverEnd(waiver);
}

/** root, 0, 0:0, root:staff, '' (not set) and the like: the user part is empty, root or uid 0. */
export function isRootUser(user: string): boolean {
  if (typeof user !== 'string') return true;
  const name = user.trim().split(':')[0]!.trim();
  return name === '' || name.toLowerCase() === 'root' || /^0+$/.test(name);
}

function checkNow(now: Date): void {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new TypeError(`the gate needs a valid current time, got ${String(now)}`);
  }
}

/** A match as the gate counts it: merged over paths and matchers, and over Grype's suppressed ones. */
interface Merged extends Omit<VulnerabilityMatch, 'dataSource'> {
  /** Only in Grype's `ignoredMatches`: the rules that suppressed it (undefined once seen in `matches`). */
  suppressedByGrype?: string[];
}

/** Grype's suppressed matches, which the gate evaluates anyway; refuses a report that does not carry all of them. */
function suppressedMatches(report: GrypeReport, platform: string): readonly IgnoredVulnerabilityMatch[] {
  const ignored = report.ignoredByGrype as unknown;
  const count = report.ignoredMatches as unknown;
  if (!Array.isArray(ignored) || (count !== undefined && count !== ignored.length)) {
    throw new TypeError(
      `the report for ${platform} says Grype suppressed ${String(count)} match(es) but carries ` +
        `${Array.isArray(ignored) ? ignored.length : 'none'} of them; the gate must see every match ` +
        '(read the report with parseGrypeReport)',
    );
  }
  return ignored as IgnoredVulnerabilityMatch[];
}

/**
 * The same (id, package, version) found at several paths (or by several matchers) counts once, worst case kept.
 * Matches Grype suppressed are merged in like the others.
 */
function dedupe(report: GrypeReport, platform: string): Merged[] {
  const byKey = new Map<string, Merged>();
  const add = (m: VulnerabilityMatch, ignoreRules: string[] | undefined) => {
    const key = `${m.id}\0${m.packageName}\0${m.packageVersion}`;
    const seen = byKey.get(key);
    if (!seen) {
      const merged: Merged = {
        id: m.id,
        relatedIds: [...m.relatedIds],
        severity: m.severity,
        packageName: m.packageName,
        packageVersion: m.packageVersion,
        packageType: m.packageType,
        fixState: m.fixState,
        fixedIn: [...m.fixedIn],
        knownExploited: m.knownExploited,
      };
      if (m.epss !== undefined) merged.epss = m.epss;
      if (ignoreRules) merged.suppressedByGrype = [...ignoreRules];
      byKey.set(key, merged);
      return;
    }
    if (!ignoreRules) {
      delete seen.suppressedByGrype;
    } else if (seen.suppressedByGrype) {
      for (const r of ignoreRules) if (!seen.suppressedByGrype.includes(r)) seen.suppressedByGrype.push(r);
    }
    // Unknown ranks last, so any known severity replaces it; otherwise the more severe wins.
    if (SEVERITY_RANK[m.severity] < SEVERITY_RANK[seen.severity]) seen.severity = m.severity;
    for (const r of m.relatedIds) if (!seen.relatedIds.includes(r)) seen.relatedIds.push(r);
    for (const v of m.fixedIn) if (!seen.fixedIn.includes(v)) seen.fixedIn.push(v);
    if (m.fixState === 'fixed' || seen.fixState === 'unknown') seen.fixState = m.fixState;
    seen.knownExploited ||= m.knownExploited;
    if (m.epss !== undefined && (seen.epss === undefined || m.epss > seen.epss)) seen.epss = m.epss;
  };
  for (const m of report.matches) add(m, undefined);
  for (const m of suppressedMatches(report, platform)) {
    if (!suppressedByKernelHeadersDefault(m)) add(m, m.ignoreRules ?? []);
  }
  return [...byKey.values()];
}

/**
 * Grype's built-in rules drop kernel CVEs matched indirectly on kernel *headers* packages (linux-libc-dev,
 * linux-headers-*, kernel-headers): userspace images carry the headers, not the kernel. Edgeship runs Grype
 * without any user configuration, so these built-in rules are the only ones it honours; a match suppressed by
 * any other rule is evaluated like every other.
 */
export function suppressedByKernelHeadersDefault(m: IgnoredVulnerabilityMatch): boolean {
  const rules = m.ignoreRules ?? [];
  return (
    rules.length > 0 &&
    rules.every(
      (rule) =>
        /(^| )match-type=exact-indirect-match( |$)/.test(rule) &&
        /(^| )package=(kernel-headers|linux-libc-dev|linux\S*headers\S*)( |$)/.test(rule),
    )
  );
}

/** Distinct rule descriptions over Grype's suppressed matches, most used first. */
function grypeRuleUse(report: GrypeReport): Array<{ rule: string; matches: number }> {
  const uses = new Map<string, number>();
  for (const m of report.ignoredByGrype) {
    // ignoreRules can be missing on a report built by hand rather than parsed.
    const rules = m.ignoreRules?.length ? m.ignoreRules : [UNNAMED_RULE];
    for (const rule of rules) uses.set(rule, (uses.get(rule) ?? 0) + 1);
  }
  return [...uses]
    .map(([rule, matches]) => ({ rule, matches }))
    .sort((a, b) => b.matches - a.matches || a.rule.localeCompare(b.rule));
}

const UNNAMED_RULE = 'a rule Grype did not name';

function waiverCovers(waiver: Waiver, match: Merged, platform: string): boolean {
  const id = waiver.id.toLowerCase();
  if (match.id.toLowerCase() !== id && !match.relatedIds.some((r) => r.toLowerCase() === id)) return false;
  if (waiver.package !== undefined && waiver.package !== match.packageName) return false;
  if (waiver.platforms !== undefined && !waiver.platforms.includes(platform)) return false;
  return true;
}

/** The `vex` input's statements about this match in this image. */
function vexStatements(policy: Policy, m: Merged, digest: string | undefined): VexStatement[] {
  if (!policy.vex) return [];
  const { imageName, statements } = policy.vex;
  const subject = { ...m, imageName, ...(digest ? { digest } : {}) };
  return statements.filter((st) => vexApplies(st, subject));
}

function vexUse(statement: VexStatement, platform: string, m: Merged): VexUse {
  const { id: matchId, packageName, packageVersion } = m;
  return {
    statement,
    platform,
    matchId,
    packageName,
    packageVersion,
    waives: statement.status === 'not_affected',
  };
}

function emptyCounts(): Record<Severity, number> {
  return Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
}

function edgeFindings(rules: Rules, platform: string, image: ImageFacts): EdgeFinding[] {
  const out: EdgeFinding[] = [];
  const { edge } = rules;
  if (edge.imageSize !== 'off' && edge.maxImageSize !== null) {
    const size = image.size;
    if (typeof size !== 'number' || !Number.isFinite(size) || size < 0) {
      out.push({
        kind: 'edge',
        check: 'image-size',
        mode: edge.imageSize,
        platform,
        message: `the compressed image size is not known (${String(size)}), so the limit of ${formatSize(edge.maxImageSize)} cannot be checked`,
      });
    } else if (size > edge.maxImageSize) {
      out.push({
        kind: 'edge',
        check: 'image-size',
        mode: edge.imageSize,
        platform,
        message: `the image is ${formatSize(size)} compressed, over edge.maxImageSize ${formatSize(edge.maxImageSize)}; slim the image (multi-stage build, smaller base) or raise the limit`,
      });
    }
  }
  if (edge.nonRoot !== 'off' && isRootUser(image.user)) {
    const shown =
      typeof image.user === 'string' && image.user.trim() !== '' ? `USER ${image.user.trim()}` : 'no USER';
    out.push({
      kind: 'edge',
      check: 'non-root',
      mode: edge.nonRoot,
      platform,
      message: `the image runs as root (${shown}); add a non-root USER (e.g. USER 65532:65532) to the Dockerfile`,
    });
  }
  if (edge.healthcheck !== 'off' && image.healthcheck !== true) {
    out.push({
      kind: 'edge',
      check: 'healthcheck',
      mode: edge.healthcheck,
      platform,
      message:
        'the image has no HEALTHCHECK; add one so edge devices can detect and restart a hung container',
    });
  }
  return out;
}

/** The verdict for one platform's report and image. */
export function evaluatePlatform(
  policy: Policy,
  platform: string,
  report: GrypeReport,
  image: ImageFacts,
  now: Date,
): PlatformVerdict {
  checkNow(now);
  const name = normalisePlatform(platform);
  const rules = rulesFor(policy, name);
  const matches = dedupe(report, name);

  const counts = emptyCounts();
  for (const m of matches) counts[m.severity]++;

  const { waived, expiredWaiverHits, candidates, vex } = screenMatches(policy, matches, name, image, now);
  const blocking = blockingFindings(rules, candidates, name);
  const edge = edgeFindings(rules, name, image);
  const verdict: PlatformVerdict = {
    platform: name,
    pass: blocking.length === 0 && !edge.some((e) => e.mode === 'fail'),
    counts,
    blocking,
    waived,
    expiredWaiverHits,
    edge,
    ignoredByGrype: report.ignoredByGrype.length,
    ...(vex.length ? { vex } : {}),
  };
  if (verdict.ignoredByGrype > 0) verdict.grypeIgnoreRules = grypeRuleUse(report);
  return verdict;
}

/**
 * The matches VEX or a waiver take out of the gate (not_affected, or an active waiver), and the rest: the
 * candidates the rules judge. Expired waivers that would have covered a candidate are listed as such.
 */
function screenMatches(
  policy: Policy,
  matches: readonly Merged[],
  platform: string,
  image: ImageFacts,
  now: Date,
): { waived: WaiverUse[]; expiredWaiverHits: WaiverUse[]; candidates: Merged[]; vex: VexUse[] } {
  const waived: WaiverUse[] = [];
  const expiredWaiverHits: WaiverUse[] = [];
  const candidates: Merged[] = [];
  const vex: VexUse[] = [];
  for (const m of matches) {
    const statements = vexStatements(policy, m, image.digest);
    vex.push(...statements.map((st) => vexUse(st, platform, m)));
    if (statements.some((st) => st.status === 'not_affected')) continue;
    const covering = policy.waivers.filter((w) => waiverCovers(w, m, platform));
    const active = covering.filter((w) => !waiverExpired(w, now));
    const use = (waiver: Waiver): WaiverUse => ({
      waiver,
      platform,
      matchId: m.id,
      packageName: m.packageName,
    });
    if (active.length > 0) {
      waived.push(...active.map(use));
      continue;
    }
    expiredWaiverHits.push(...covering.map(use));
    candidates.push(m);
  }
  return { waived, expiredWaiverHits, candidates, vex };
}

/**
 * The candidates that block, each with its reasons (fail-on severity, KEV, EPSS, the per-severity caps), most
 * severe first.
 */
function blockingFindings(rules: Rules, candidates: readonly Merged[], platform: string): Finding[] {
  const threshold = failOnSeverity(rules);
  // What counts toward fail-on and the max caps: not waived, and fixed when onlyFixed.
  const counted = (m: Merged) => !rules.onlyFixed || m.fixState === 'fixed';
  const countedBySeverity = emptyCounts();
  for (const m of candidates) if (counted(m)) countedBySeverity[m.severity]++;

  const blocking: Finding[] = [];
  for (const m of candidates) {
    const reasons: string[] = [];
    if (
      threshold !== undefined &&
      counted(m) &&
      m.severity !== 'Unknown' &&
      SEVERITY_RANK[m.severity] <= SEVERITY_RANK[threshold]
    ) {
      reasons.push(`severity ${m.severity} ≥ fail-on ${rules.failOn}`);
    }
    if (rules.failOnKev && m.knownExploited) reasons.push('known exploited (CISA KEV)');
    if (rules.epssThreshold !== null && m.epss !== undefined && m.epss >= rules.epssThreshold) {
      reasons.push(`EPSS ${m.epss} ≥ ${rules.epssThreshold}`);
    }
    const cap = rules.max[severityKey(m.severity)];
    const count = countedBySeverity[m.severity];
    if (counted(m) && cap !== null && count > cap) reasons.push(`${m.severity} count ${count} > max ${cap}`);
    if (reasons.length === 0) continue;
    const finding: Finding = {
      kind: 'vulnerability',
      id: m.id,
      relatedIds: m.relatedIds,
      severity: m.severity,
      packageName: m.packageName,
      packageVersion: m.packageVersion,
      packageType: m.packageType,
      fixedIn: m.fixedIn,
      fixState: m.fixState,
      knownExploited: m.knownExploited,
      platform,
      reasons,
    };
    if (m.epss !== undefined) finding.epss = m.epss;
    if (m.suppressedByGrype) finding.suppressedByGrype = m.suppressedByGrype;
    blocking.push(finding);
  }
  return blocking.sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      a.id.localeCompare(b.id) ||
      a.packageName.localeCompare(b.packageName) ||
      a.packageVersion.localeCompare(b.packageVersion),
  );
}

/** The release gate over every platform: passes only if at least one platform was evaluated and every one passed. */
export function evaluateGate(
  policy: Policy,
  perPlatform: Array<{ platform: string; report: GrypeReport; image: ImageFacts }>,
  now: Date,
): GateVerdict {
  checkNow(now);
  const problems: string[] = [];
  if (perPlatform.length === 0) {
    problems.push('no platform was scanned: the gate never passes on nothing');
  }
  const seen = new Set<string>();
  const platforms = perPlatform.map((p) => {
    const verdict = evaluatePlatform(policy, p.platform, p.report, p.image, now);
    if (seen.has(verdict.platform)) problems.push(`platform ${verdict.platform} was given to the gate twice`);
    seen.add(verdict.platform);
    return verdict;
  });
  const applied = platforms.flatMap((p) => p.waived);
  const used = new Set(applied.map((u) => u.waiver));
  const expired = policy.waivers.filter((w) => waiverExpired(w, now));
  const unused = policy.waivers.filter((w) => !waiverExpired(w, now) && !used.has(w));
  return {
    pass: problems.length === 0 && platforms.every((p) => p.pass),
    platforms,
    waivers: { applied, expired, unused },
    problems,
  };
}

function describeFinding(f: Finding): string {
  const fix =
    f.fixState === 'fixed' && f.fixedIn.length > 0
      ? `fixed in ${f.fixedIn.join(', ')}`
      : f.fixState === 'wont-fix'
        ? "won't fix"
        : f.fixState === 'not-fixed'
          ? 'no fix yet'
          : 'fix unknown';
  const version = f.packageVersion ? ` ${f.packageVersion}` : '';
  const suppressed = f.suppressedByGrype
    ? ` (suppressed by Grype's own rule${f.suppressedByGrype.length > 1 ? 's' : ''}: ` +
      `${f.suppressedByGrype.length > 0 ? f.suppressedByGrype.join('; ') : UNNAMED_RULE})`
    : '';
  return `${f.id} (${f.severity}) in ${f.packageName}${version} [${fix}]: ${f.reasons.join('; ')}${suppressed}`;
}

/** How many of Grype's rules explainGate names before summarising the rest. */
const RULES_NAMED = 5;

function describeGrypeSuppression(p: PlatformVerdict): string {
  const rules = p.grypeIgnoreRules ?? [];
  const named = rules
    .slice(0, RULES_NAMED)
    .map((r) => `${r.rule} (${r.matches})`)
    .join('; ');
  const more = rules.length > RULES_NAMED ? `; and ${rules.length - RULES_NAMED} more rule(s)` : '';
  return (
    `  note: Grype's own rules had suppressed ${p.ignoredByGrype} match(es)` +
    `${named ? ` [${named}${more}]` : ''}; Edgeship evaluated them anyway like every other match ` +
    '(waive accepted ones in the policy, with a reason and an expiry)'
  );
}

function describeWaiver(w: Waiver): string {
  const scope = [
    w.package ? `package ${w.package}` : '',
    w.platforms ? `platforms ${w.platforms.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `waivers[${w.index}] ${w.id}${scope ? ` (${scope})` : ''}`;
}

/**
 * Human-readable lines saying exactly why the gate failed (or that it passed), followed by warnings:
 * every blocking vulnerability with its reasons, every failing edge check, expired and unused waivers.
 */
export function explainGate(verdict: GateVerdict): string[] {
  const lines: string[] = [];
  lines.push(verdict.pass ? 'gate PASSED' : 'gate FAILED');
  for (const problem of verdict.problems) lines.push(`  ${problem}`);
  for (const p of verdict.platforms) {
    const failedEdge = p.edge.filter((e) => e.mode === 'fail');
    const head = p.pass
      ? `${p.platform}: pass`
      : `${p.platform}: FAIL (${p.blocking.length} blocking vulnerabilit${p.blocking.length === 1 ? 'y' : 'ies'}, ` +
        `${failedEdge.length} failed edge check${failedEdge.length === 1 ? '' : 's'})`;
    lines.push(head);
    for (const f of p.blocking) lines.push(`  ${describeFinding(f)}`);
    for (const e of failedEdge) lines.push(`  ${e.check}: ${e.message}`);
    for (const e of p.edge.filter((x) => x.mode === 'warn')) lines.push(`  warning ${e.check}: ${e.message}`);
    for (const hit of p.expiredWaiverHits) {
      lines.push(
        `  ${describeWaiver(hit.waiver)} expired on ${hit.waiver.expires} and no longer covers ${hit.matchId} in ${hit.packageName}`,
      );
    }
    if (p.ignoredByGrype > 0) lines.push(describeGrypeSuppression(p));
  }
  for (const w of verdict.waivers.expired)
    lines.push(`warning: ${describeWaiver(w)} expired on ${w.expires}`);
  for (const w of verdict.waivers.unused) {
    lines.push(`warning: ${describeWaiver(w)} matched nothing on any platform; remove it if it is obsolete`);
  }
  return lines;
}
