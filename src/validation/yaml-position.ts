/** Where a path of a YAML document is written: the line messages about policy files and manifests point at. */
import { isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';

/**
 * The 1-based line of the value at `path`, or of the key itself with `atKey` (an unknown key). Where the path does
 * not exist, the line of the deepest part that does (for a missing key, the mapping that lacks it).
 */
export function lineOf(
  root: Node | null | undefined,
  path: ReadonlyArray<string | number>,
  lines: LineCounter,
  atKey = false,
): number | undefined {
  const lineAt = (n: unknown): number | undefined => {
    const range = (n as { range?: [number, number, number] } | null | undefined)?.range;
    return range ? lines.linePos(range[0]).line : undefined;
  };
  let node: unknown = root;
  let best = lineAt(node);
  for (const [i, seg] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && item.key.value === seg);
      if (!pair) break;
      best = lineAt(pair.key) ?? best;
      if (atKey && i === path.length - 1) return best;
      node = pair.value;
      best = lineAt(node) ?? best;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      best = lineAt(node) ?? best;
    } else break;
  }
  return best;
}
