/** "did you mean" support: the closest candidate by edit distance (case-insensitive), if it is close enough. */

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions cost 1. */
function distance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

export function closest(input: string, candidates: readonly string[]): string | undefined {
  const needle = input.toLowerCase().replace(/[-_\s]/g, '');
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of candidates) {
    const hay = candidate.toLowerCase().replace(/[-_\s]/g, '');
    const score = hay === needle ? 0 : distance(needle, hay);
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(needle.length / 3)));
  return best !== undefined && bestScore <= limit ? best : undefined;
}

/** `; did you mean "x"?` or ''. */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const hit = closest(input, candidates);
  return hit === undefined ? '' : `; did you mean "${hit}"?`;
}
