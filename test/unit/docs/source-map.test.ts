/**
 * The README's map of src/ is what a new maintainer reads first: it must list every folder with what it may import,
 * exactly as the layer table that lint enforces (eslint-rules/layers.js) says.
 */
import { describe, expect, it } from 'vitest';
import { LAYERS } from '../../../eslint-rules/layers.js';
import { codeSpan, markdownSection, markdownTables, readRepoFile } from './docs-support.js';

const HEADING = '### Map of `src/`';

function documentedLayers(): Record<string, string[]> {
  const section = markdownSection(readRepoFile('README.md'), HEADING);
  if (section === undefined) throw new Error(`README.md has no "${HEADING}" section`);
  const table = markdownTables(section).find((t) => t.header.includes('may import'));
  if (!table) throw new Error(`the "${HEADING}" section has no table with a "may import" column`);
  return Object.fromEntries(
    table.rows.map((r) => {
      const folder =
        codeSpan(r.cells.folder ?? '')
          ?.replace(/^src\//, '')
          .replace(/\/$/, '') || '.';
      const imports = [...(r.cells['may import'] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      return [folder === 'src' ? '.' : folder, imports.sort()];
    }),
  );
}

describe('README map of src/', () => {
  it('lists every folder and what it may import, as the lint layer table does', () => {
    const expected = Object.fromEntries(Object.entries(LAYERS).map(([f, i]) => [f, [...i].sort()]));
    expect(documentedLayers()).toEqual(expected);
  });
});
