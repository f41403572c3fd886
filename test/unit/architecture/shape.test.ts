/**
 * The shape the developers' guide asks for, measured on the source: the main step and the publish phase fit on one
 * screen, each stage is short, and a file of src/ over 400 lines says in its opening comment why it is one file.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../../../src/', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, SRC), 'utf8');

/** Lines of `function name` from its first line to its closing brace (a brace alone at column 0). */
function functionLines(file: string, name: string): number {
  const lines = read(file).split('\n');
  const start = lines.findIndex((l) => new RegExp(`^export (async )?function ${name}\\b`).test(l));
  if (start < 0) throw new Error(`${file} has no exported function ${name}`);
  const end = lines.findIndex((l, i) => i > start && l === '}');
  return end - start + 1;
}

describe('the shape of src/', () => {
  it('runAction and publishRelease each fit on one screen (≤ 60 lines)', () => {
    expect(functionLines('action/run.ts', 'runAction')).toBeLessThanOrEqual(60);
    expect(functionLines('publish/release.ts', 'publishRelease')).toBeLessThanOrEqual(60);
  });

  it('every stage function is a short script (≤ 45 lines)', () => {
    const stages = readdirSync(new URL('stages/', SRC)).filter((f) => f.endsWith('.ts'));
    const found: string[] = [];
    for (const file of stages) {
      for (const m of read(`stages/${file}`).matchAll(/^export (?:async )?function (run\w+Stage)\b/gm)) {
        found.push(m[1]!);
        expect(functionLines(`stages/${file}`, m[1]!), `${file} ${m[1]}`).toBeLessThanOrEqual(45);
      }
    }
    expect(found.sort()).toEqual([
      'runBuildStage',
      'runCarryOverStage',
      'runCheckStage',
      'runGateStage',
      'runGitOpsStage',
      'runHandOverStage',
      'runMergeStage',
      'runOpenReleaseStage',
      'runPlanPromotionStage',
      'runPromoteStage',
      'runProvenanceStage',
      'runPublishStage',
      'runReadReleaseStage',
      'runReleaseStage',
      'runRescanDeployedStage',
      'runRescanStage',
      'runScanStage',
    ]);
  });

  it('a file over 400 lines says why it is kept as one file', () => {
    const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const long = files.filter((f) => read(f).split('\n').length > 400);
    expect(long.length).toBeGreaterThan(0);
    for (const file of long) {
      const opening = /^\/\*\*[\s\S]*?\*\//.exec(read(file))?.[0] ?? '';
      expect(opening, `${path.join('src', file)} is over 400 lines`).toMatch(/Kept as one file: \S/);
    }
  });
});
