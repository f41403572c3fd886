/** The layer table that lint enforces is itself sound: it covers every folder of src/ and has no cycle. */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LAYERS } from '../../../eslint-rules/layers.js';

const srcFolders = readdirSync(new URL('../../../src/', import.meta.url), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name);

describe('the layers of src/', () => {
  it('name every folder of src/, and only those', () => {
    expect(Object.keys(LAYERS).sort()).toEqual(['.', ...srcFolders].sort());
    for (const [folder, allowed] of Object.entries(LAYERS)) {
      for (const target of allowed) expect(LAYERS, `${folder} may import ${target}`).toHaveProperty(target);
    }
  });

  it('point down only: the table has no cycle', () => {
    const order: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (folder: string, route: string[]): void => {
      if (state.get(folder) === 'done') return;
      if (state.get(folder) === 'visiting') throw new Error(`layer cycle: ${[...route, folder].join(' → ')}`);
      state.set(folder, 'visiting');
      for (const below of LAYERS[folder] ?? []) visit(below, [...route, folder]);
      state.set(folder, 'done');
      order.push(folder);
    };
    for (const folder of Object.keys(LAYERS)) visit(folder, []);
    expect(order).toHaveLength(Object.keys(LAYERS).length);
    expect(order.at(-1)).toBe('.');
  });
});
