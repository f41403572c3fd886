import type { PlatformImage } from '../build/pushed-image.js';
import type { ReleaseMetadata } from '../release/metadata.js';

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
