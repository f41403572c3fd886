import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { categorizeSarif, parseSarif, sarifCategory } from '../../../src/scan/sarif.js';
import { fixturePath, fixturesPresent, readFixture } from '../../shared-fixtures.js';

type Json = Record<string, unknown>;

/** Results over all runs, as parseSarif reads them. */
function countSarifResults(text: string): number {
  return parseSarif(text).runs.reduce(
    (n, run) => n + (Array.isArray(run.results) ? run.results.length : 0),
    0,
  );
}

function sarifFixtures(): string[] {
  const sarif = readdirSync(fixturePath('grype/sarif')).map((name) => `grype/sarif/${name}`);
  const reference = readdirSync(fixturePath('grype/reference'))
    .filter((name) => name.endsWith('.sarif'))
    .map((name) => `grype/reference/${name}`);
  return [...sarif, ...reference].sort();
}

function indexResults(file: string): number | undefined {
  const row = readFixture('INDEX.md')
    .split('\n')
    .find((line) => line.startsWith(`| \`${file}\``));
  const match = row ? /\bresults=(\d+)/.exec(row) : null;
  return match ? Number(match[1]) : undefined;
}

describe('sarif categories', () => {
  it('gives each platform its own category under edgeship/', () => {
    expect(sarifCategory('linux-arm64')).toBe('edgeship/linux-arm64/');
    expect(sarifCategory('linux-arm-v7')).toBe('edgeship/linux-arm-v7/');
  });
});

describe.skipIf(!fixturesPresent)('grype SARIF fixtures', () => {
  const files = fixturesPresent ? sarifFixtures() : [];

  it('covers the grype SARIF fixtures', () => {
    expect(files).toHaveLength(3);
  });

  for (const file of files) {
    it(`${file}: counts results and sets a per-platform category on every run`, () => {
      const text = readFixture(file);
      const original = JSON.parse(text) as { runs: Json[] };
      const expected = original.runs.reduce(
        (n, run) => n + ((run.results as unknown[] | undefined)?.length ?? 0),
        0,
      );
      expect(countSarifResults(text)).toBe(expected);
      expect(expected).toBe(indexResults(file));

      const categorized = categorizeSarif(text, 'edgeship/linux-arm64');
      const doc = JSON.parse(categorized) as { version: string; runs: Json[] };
      expect(doc.version).toBe('2.1.0');
      for (const run of doc.runs) expect(run.automationDetails).toEqual({ id: 'edgeship/linux-arm64/' });
      // Only automationDetails changed.
      const stripped = { ...doc, runs: doc.runs.map(({ automationDetails: _a, ...rest }) => rest) };
      expect(stripped).toEqual(original);
      expect(countSarifResults(categorized)).toBe(expected);
    });
  }

  it('re-categorizing replaces the id and keeps other automationDetails fields', () => {
    const text = readFixture('grype/sarif/empty-results_grype-0.89.0.sarif');
    const withGuid = JSON.parse(text) as { runs: Json[] };
    withGuid.runs[0]!.automationDetails = { id: 'old/', guid: '11111111-2222-3333-4444-555555555555' };
    const doc = JSON.parse(categorizeSarif(JSON.stringify(withGuid), 'edgeship/linux-amd64/')) as {
      runs: Json[];
    };
    expect(doc.runs[0]!.automationDetails).toEqual({
      id: 'edgeship/linux-amd64/',
      guid: '11111111-2222-3333-4444-555555555555',
    });
  });

  it('refuses a grype JSON report given as SARIF', () => {
    const report = readFixture('grype/json/chainguard-ruby_wolfi_arm64_grype-0.61.1.json');
    expect(() => countSarifResults(report)).toThrow(
      /has version undefined; GitHub code scanning needs SARIF 2\.1\.0/,
    );
  });

  it('refuses a truncated SARIF report', () => {
    const text = readFixture('grype/sarif/klass-web_wolfi_arm64_grype-0.114.0.sarif');
    expect(() => categorizeSarif(text.slice(0, 1000), 'edgeship/linux-arm64/')).toThrow(
      /not valid JSON .*truncated or corrupted/,
    );
  });
});

describe('SARIF validation', () => {
  it('needs version 2.1.0, runs, a driver name and results arrays', () => {
    expect(() => parseSarif(JSON.stringify({ version: '2.0.0', runs: [] }))).toThrow(/version "2\.0\.0"/);
    expect(() => parseSarif(JSON.stringify({ version: '2.1.0' }))).toThrow(/no "runs" array/);
    expect(() => parseSarif(JSON.stringify({ version: '2.1.0', runs: [{ tool: {} }] }))).toThrow(
      /run 0 has no tool\.driver\.name/,
    );
    expect(() =>
      parseSarif(
        JSON.stringify({ version: '2.1.0', runs: [{ tool: { driver: { name: 'grype' } }, results: {} }] }),
      ),
    ).toThrow(/run 0 has "results" that is not an array/);
    expect(() => categorizeSarif(JSON.stringify({ version: '2.1.0', runs: [] }), ' ')).toThrow(
      /must not be empty/,
    );
  });
});
