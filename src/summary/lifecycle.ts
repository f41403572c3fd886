/**
 * The markdown of the release lifecycle: the GitOps pull request's body, the pull-request check's comment and the
 * rescan's report. Pure: everything is passed in.
 */
import type { Finding, GateVerdict } from '../policy/index.js';
import type { PublishResult } from '../publish/release.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import type { VulnerabilityMatch } from '../scan/grype-report.js';
import { blockingFindingsTable, formatBytes, markdownTable } from './tables.js';

/** Counts per severity as `2 critical, 1 high`, or `none`. */
export function severityCounts(counts: Readonly<Record<string, number>>): string {
  const text = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([severity, n]) => `${n} ${severity}`)
    .join(', ');
  return text || 'none';
}

/** The GitOps pull request: the new digest, the deployment manifest's summary and the upgrade per platform. */
export function gitOpsPullRequestBody(
  imageName: string,
  release: Pick<ReleaseMetadata, 'version' | 'channel'>,
  published: Pick<PublishResult, 'indexDigest' | 'tags' | 'manifest' | 'manifestDigest' | 'releaseUrl'>,
  files: readonly string[],
): string {
  const { manifest } = published;
  const baseline = manifest.baseline;
  return [
    `Edgeship released **${imageName} ${release.version}** on the **${release.channel}** channel. ` +
      'Merging this pull request rolls it out to the fleet.',
    `- Index: \`${imageName}@${published.indexDigest}\``,
    `- Tags: ${published.tags.map((t) => `\`${t}\``).join(' ') || 'none'}`,
    `- Upgrades from: ${baseline ? `${baseline.version} (\`${baseline.index}\`)` : 'nothing (first release of the channel)'}`,
    `- Gate: ${manifest.gate.verdict}, policy \`${manifest.gate.policyDigest}\`; signatures: ${manifest.signatures.mode}`,
    `- Deployment manifest: \`${published.manifestDigest}\`${published.releaseUrl ? ` (${published.releaseUrl})` : ''}`,
    markdownTable([
      ['Platform', 'Image', 'Size', 'Upgrade download', 'Vulnerabilities'],
      ...manifest.platforms.map((p) => [
        p.platform,
        `\`${p.digest}\``,
        formatBytes(p.size),
        `${formatBytes(p.delta.bytes)} (${p.delta.layers} layer(s))`,
        severityCounts(p.vulnerabilities),
      ]),
    ]),
    `Pinned files: ${files.map((f) => `\`${f}\``).join(', ')}`,
    '',
  ].join('\n\n');
}

/** One platform of a pull-request check against the production release. */
export interface CheckPlatform {
  platform: string;
  /** Compressed bytes of the image the pull request builds. */
  size: number;
  /** The same platform in production; undefined when production has no such image (or there is no production). */
  production?: {
    size: number;
    /** What a device running production downloads to run this image. */
    upgradeBytes: number;
    /** Findings production's recorded scan does not have; undefined when they could not be compared. */
    newFindings?: readonly VulnerabilityMatch[];
  };
}

const signed = (n: number) => (n > 0 ? `+${formatBytes(n)}` : n < 0 ? `−${formatBytes(-n)}` : '±0 B');

/** The pull-request check: verdict, size and upgrade change per platform, new findings against production. */
export function checkCommentBody(
  imageName: string,
  verdict: GateVerdict,
  platforms: readonly CheckPlatform[],
  production: { version: string; digest: string } | undefined,
  notes: readonly string[] = [],
): string {
  const blocking = blockingFindingsTable(verdict);
  const added = platforms.flatMap((p) =>
    (p.production?.newFindings ?? []).map((f) => [
      p.platform,
      f.id,
      f.severity,
      f.packageName,
      f.packageVersion,
      f.fixedIn.join(', ') || `(${f.fixState})`,
    ]),
  );
  const verdictOf = (platform: string) =>
    verdict.platforms.find((v) => v.platform === platform)?.pass ? '✅ pass' : '❌ fail';
  return [
    `### Edgeship check of ${imageName}: ${verdict.pass ? '✅ the gate passes' : '❌ the gate fails'}`,
    production
      ? `Compared with production ${production.version || '(unversioned)'} (\`${production.digest}\`).`
      : 'No production release to compare with yet.',
    markdownTable([
      ['Platform', 'Gate', 'Size', 'Size change', 'Upgrade download from production', 'New findings'],
      ...platforms.map((p) => [
        p.platform,
        verdictOf(p.platform),
        formatBytes(p.size),
        p.production ? signed(p.size - p.production.size) : 'new platform',
        p.production ? formatBytes(p.production.upgradeBytes) : formatBytes(p.size),
        p.production?.newFindings ? String(p.production.newFindings.length) : 'not compared',
      ]),
    ]),
    ...verdict.problems.map((p) => `- ${p}`),
    ...(blocking.length ? ['#### Blocking findings', markdownTable(blocking)] : []),
    ...(added.length
      ? [
          '#### New findings against production',
          markdownTable([['Platform', 'ID', 'Severity', 'Package', 'Version', 'Fixed in'], ...added]),
        ]
      : []),
    ...notes.map((n) => `> ${n}`),
    '',
  ].join('\n\n');
}

/** What the rescan report shows of one platform of a rescanned release. */
export interface RescanRow {
  release: string;
  references: readonly string[];
  platform: string;
  digest: string;
  added: readonly VulnerabilityMatch[];
  fixed: readonly VulnerabilityMatch[];
  blocking: readonly Finding[];
  attestation?: string;
}

const findingList = (matches: readonly VulnerabilityMatch[]) =>
  matches.map((m) => `${m.id} (${m.severity}, ${m.packageName} ${m.packageVersion})`).join('<br>') || '—';

/** The rescan's job summary: one row a platform of each deployed release, new and fixed findings named. */
export function rescanSummary(imageName: string, rows: readonly RescanRow[], scannedAt: Date): string {
  const blocked = rows.some((r) => r.blocking.length > 0);
  return [
    `## Edgeship rescan of ${imageName}: ${blocked ? '❌ a deployed release is blocked by the current policy' : '✅ every deployed release still passes'}`,
    `Scanned ${scannedAt.toISOString()} with today's vulnerability database, compared with the scan recorded at release time.`,
    rows.length
      ? markdownTable([
          ['Release', 'Tags', 'Platform', 'New', 'Fixed', 'Blocking today', 'New findings', 'Fixed findings'],
          ...rows.map((r) => [
            r.release,
            r.references.map((t) => `\`${t}\``).join(' '),
            r.platform,
            String(r.added.length),
            String(r.fixed.length),
            String(r.blocking.length),
            findingList(r.added),
            findingList(r.fixed),
          ]),
        ])
      : 'No deployed release found under the channel tags.',
    '',
  ].join('\n\n');
}
