import type { PlatformImage } from '../image/pushed-image.js';
import type { PlatformScan } from '../scan/scan-platforms.js';
import { SEVERITIES } from '../scan/grype-report.js';
import type { GateVerdict } from '../policy/index.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import type { PublishResult } from '../publish/release.js';
import path from 'node:path';

/** Human-readable byte count (1 kB = 1000 B, as registries and docker report). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export type SummaryTable = string[][];

/** The build section of the job summary: one row a platform. */
export function buildSummaryTable(imageName: string, images: readonly PlatformImage[]): SummaryTable {
  const header = ['Platform', 'Digest', 'Compressed size', 'User', 'HEALTHCHECK'];
  const rows = images.map((i) => [
    i.platform,
    `\`${imageName}@${i.digest}\``,
    formatBytes(i.size),
    i.config.user || 'root (unset)',
    i.config.healthcheck ? 'yes' : 'no',
  ]);
  return [header, ...rows];
}

export function releaseSummaryTable(release: ReleaseMetadata): SummaryTable {
  return [
    ['Version', 'Channel', 'Release tags (written after the gate)'],
    [release.version || '(none)', release.channel, release.tags.map((t) => `\`${t}\``).join(' ') || '(none)'],
  ];
}

/** Renders a table as GitHub-flavoured Markdown (cells escaped for `|`). */
export function markdownTable(table: SummaryTable): string {
  const [header, ...rows] = table;
  if (!header) return '';
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The gate section: one row a platform with counts, edge facts and the verdict. */
export function gateSummaryTable(
  verdict: GateVerdict,
  images: readonly PlatformImage[],
  scans: readonly PlatformScan[],
): SummaryTable {
  const header = ['Platform', ...SEVERITIES, 'Packages', 'Size', 'User', 'HEALTHCHECK', 'Verdict'];
  const rows = verdict.platforms.map((p) => {
    const image = images.find((i) => i.platform === p.platform);
    const scan = scans.find((s) => s.platform === p.platform);
    const edge = (check: string) => p.edge.find((e) => e.check === check);
    const mark = (check: string) => {
      const finding = edge(check);
      return finding ? ` (${finding.mode})` : '';
    };
    return [
      p.platform,
      String(p.counts.Critical),
      String(p.counts.High),
      String(p.counts.Medium),
      String(p.counts.Low),
      String(p.counts.Negligible),
      String(p.counts.Unknown),
      String(scan?.packages ?? '?'),
      (image ? formatBytes(image.size) : '?') + mark('image-size'),
      (image?.config.user || 'root (unset)') + mark('non-root'),
      (image?.config.healthcheck ? 'yes' : 'no') + mark('healthcheck'),
      p.pass ? '✅ pass' : '❌ fail',
    ];
  });
  return [header, ...rows];
}

/** Blocking findings: what must be fixed (or waived) for the release to pass. */
export function blockingFindingsTable(verdict: GateVerdict): SummaryTable {
  const rows = verdict.platforms.flatMap((p) => [
    ...p.blocking.map((f) => [
      f.id,
      f.packageName,
      f.packageVersion,
      f.fixedIn.join(', ') || `(${f.fixState})`,
      f.severity,
      p.platform,
      f.reasons.join('; '),
    ]),
    ...p.edge
      .filter((e) => e.mode === 'fail')
      .map((e) => [e.check, '', '', '', 'edge', p.platform, e.message]),
  ]);
  return rows.length
    ? [['ID', 'Package', 'Version', 'Fixed in', 'Severity', 'Platform', 'Why it blocks'], ...rows]
    : [];
}

export function waiverSummaryTable(verdict: GateVerdict): SummaryTable {
  const rows = [
    ...verdict.waivers.applied.map((u) => [
      'applied',
      u.waiver.id,
      u.packageName,
      u.platform,
      u.waiver.reason,
      u.waiver.expires,
    ]),
    ...verdict.waivers.expired.map((w) => [
      'expired',
      w.id,
      w.package ?? '',
      (w.platforms ?? []).join(', '),
      w.reason,
      w.expires,
    ]),
    ...verdict.waivers.unused.map((w) => [
      'unused',
      w.id,
      w.package ?? '',
      (w.platforms ?? []).join(', '),
      w.reason,
      w.expires,
    ]),
  ];
  return rows.length ? [['Waiver', 'ID', 'Package', 'Platform', 'Reason', 'Expires'], ...rows] : [];
}

/** The job summary of a published release: tags, per-platform upgrade deltas, manifest and signatures. */
export function publishSummary(imageName: string, result: PublishResult): string {
  return [
    `### Published ${imageName}@${result.indexDigest}`,
    markdownTable([
      ['Tag', 'Points at'],
      ...result.tags.map((t) => [`\`${imageName}:${t}\``, `\`${result.indexDigest}\``]),
    ]),
    markdownTable([
      ['Platform', 'Digest', 'Delta to upgrade', 'Baseline'],
      ...result.manifest.platforms.map((p) => [
        p.platform,
        `\`${p.digest}\``,
        `${p.delta.bytes} bytes (${p.delta.layers} layer(s))`,
        p.delta.baseline ? p.delta.baseline.version : 'none',
      ]),
    ]),
    `Deployment manifest: \`${path.basename(result.manifestFile)}\` (${result.manifestDigest})` +
      (result.releaseUrl ? `, release: ${result.releaseUrl}` : ''),
    `Signatures and attestations: ${result.signatures.length}`,
    '',
  ].join('\n\n');
}
