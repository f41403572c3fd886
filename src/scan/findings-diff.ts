/**
 * Findings of two scans of one platform compared: what is new and what is gone. A finding is a vulnerability in a
 * package (its id and the package's name; the version may change, as it does when a pull request bumps a package
 * that is still vulnerable). Pure.
 */
import { SEVERITIES, type VulnerabilityMatch } from './grype-report.js';

export interface FindingsDiff {
  /** In `after` and not in `before`, most severe first. */
  added: VulnerabilityMatch[];
  /** In `before` and not in `after` (fixed, or no longer matched), most severe first. */
  fixed: VulnerabilityMatch[];
}

const key = (m: VulnerabilityMatch) => `${m.id}\u0000${m.packageName}`;
const rank = (m: VulnerabilityMatch) => SEVERITIES.indexOf(m.severity);

function distinct(matches: readonly VulnerabilityMatch[]): Map<string, VulnerabilityMatch> {
  const map = new Map<string, VulnerabilityMatch>();
  for (const m of matches) if (!map.has(key(m))) map.set(key(m), m);
  return map;
}

export function diffFindings(
  before: readonly VulnerabilityMatch[],
  after: readonly VulnerabilityMatch[],
): FindingsDiff {
  const was = distinct(before);
  const now = distinct(after);
  const bySeverity = (a: VulnerabilityMatch, b: VulnerabilityMatch) =>
    rank(a) - rank(b) || a.id.localeCompare(b.id) || a.packageName.localeCompare(b.packageName);
  return {
    added: [...now]
      .filter(([k]) => !was.has(k))
      .map(([, m]) => m)
      .sort(bySeverity),
    fixed: [...was]
      .filter(([k]) => !now.has(k))
      .map(([, m]) => m)
      .sort(bySeverity),
  };
}
