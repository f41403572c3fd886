/**
 * The README's input and output tables are the user's reference: they must list exactly action.yml's inputs and
 * outputs, with the same defaults and descriptions. A failure names every drift, so fixing it is mechanical.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/policy/index.js';
import {
  cellText,
  codeBlocks,
  codeSpan,
  loadAction,
  markdownSection,
  markdownTables,
  readRepoFile,
  repoPath,
} from './docs-support.js';

const readme = readRepoFile('README.md');
const action = loadAction();

interface Row {
  name: string;
  cells: Record<string, string>;
  line: number;
}

/** Rows of every table in a README section whose first column is a `code` name. */
function rows(heading: string, nameColumn: string): Row[] {
  const section = markdownSection(readme, heading);
  if (section === undefined) throw new Error(`README.md has no "${heading}" section`);
  const offset = readme.split('\n').findIndex((l) => l.trim() === heading) + 1;
  return markdownTables(section)
    .filter((t) => t.header.includes(nameColumn))
    .flatMap((t) =>
      t.rows.flatMap((r) => {
        const name = codeSpan(r.cells[nameColumn] ?? '');
        return name ? [{ name, cells: r.cells, line: r.line + offset }] : [];
      }),
    );
}

/** What the default cell says: `value`, **required**, or — for none. */
function readmeDefault(cell: string): { required: boolean; value?: string } | { invalid: string } {
  const text = cell.trim();
  if (text === '**required**') return { required: true };
  if (text === '' || text === '—') return { required: false };
  const value = codeSpan(text);
  return value === undefined ? { invalid: text } : { required: false, value };
}

function sameNames(what: string, documented: Row[], declared: string[]): string[] {
  const drift: string[] = [];
  const seen = new Map<string, number>();
  for (const row of documented) {
    if (seen.has(row.name))
      drift.push(
        `${what} ${row.name} is listed twice (README.md lines ${seen.get(row.name)} and ${row.line})`,
      );
    seen.set(row.name, row.line);
    if (!declared.includes(row.name))
      drift.push(`${what} ${row.name} (README.md line ${row.line}) is not in action.yml: remove it`);
  }
  for (const name of declared) {
    if (!seen.has(name)) drift.push(`${what} ${name} of action.yml is missing from the README tables`);
  }
  return drift;
}

describe('README.md inputs tables', () => {
  const documented = rows('## Inputs', 'input');

  it('list exactly the inputs of action.yml', () => {
    const drift = sameNames(
      'input',
      documented,
      action.inputs.map((i) => i.name),
    );
    expect(drift, drift.join('\n')).toEqual([]);
  });

  it('give the defaults of action.yml (or **required**, or — for none)', () => {
    const drift: string[] = [];
    for (const input of action.inputs) {
      const row = documented.find((r) => r.name === input.name);
      if (!row) continue;
      const shown = readmeDefault(row.cells.default ?? '');
      const expected = input.required
        ? '**required**'
        : input.default === undefined
          ? '—'
          : `\`${input.default}\``;
      if ('invalid' in shown) {
        drift.push(`input ${input.name}: default cell "${shown.invalid}" should be ${expected}`);
      } else if (shown.required !== input.required || shown.value !== input.default) {
        drift.push(
          `input ${input.name} (README.md line ${row.line}): default ${row.cells.default || '(empty)'}, action.yml says ${expected}`,
        );
      }
    }
    expect(drift, drift.join('\n')).toEqual([]);
  });

  it('give the descriptions of action.yml', () => {
    const drift: string[] = [];
    for (const input of action.inputs) {
      const row = documented.find((r) => r.name === input.name);
      if (!row) continue;
      const shown = cellText(row.cells.description ?? '');
      if (shown !== input.description)
        drift.push(
          `input ${input.name} (README.md line ${row.line}):\n  README:     ${shown}\n  action.yml: ${input.description}`,
        );
    }
    expect(drift, drift.join('\n')).toEqual([]);
  });
});

describe('README.md outputs tables', () => {
  const documented = rows('## Outputs', 'output');

  it('list exactly the outputs of action.yml', () => {
    const drift = sameNames(
      'output',
      documented,
      action.outputs.map((o) => o.name),
    );
    expect(drift, drift.join('\n')).toEqual([]);
  });

  it('give the descriptions of action.yml', () => {
    const drift: string[] = [];
    for (const output of action.outputs) {
      const row = documented.find((r) => r.name === output.name);
      if (!row) continue;
      const shown = cellText(row.cells.description ?? '');
      if (shown !== output.description)
        drift.push(
          `output ${output.name} (README.md line ${row.line}):\n  README:     ${shown}\n  action.yml: ${output.description}`,
        );
    }
    expect(drift, drift.join('\n')).toEqual([]);
  });
});

describe('README.md', () => {
  it('keeps the two commands of the quick start on your machine', () => {
    const section = markdownSection(readme, '## Quick start on your machine') ?? '';
    const commands = codeBlocks(section)
      .flatMap((b) => b.code.split('\n'))
      .map((l) => l.replace(/#.*$/, '').trim())
      .filter(Boolean);
    expect(commands).toEqual(['npm ci && npm run local-release', 'npm ci && npm test']);
  });

  it('shows policies that load', () => {
    const policies = codeBlocks(readme).filter((b) => b.lang === 'yaml' && /^kind: Policy$/m.test(b.code));
    expect(policies.length).toBeGreaterThanOrEqual(2);
    for (const block of policies) {
      expect(() =>
        loadPolicy({ policyFile: { path: `README.md:${block.line}`, text: block.code } }),
      ).not.toThrow();
    }
  });

  it('links only to files that exist and to headings it has', () => {
    const prose = readme.replace(/^(```|~~~)[\s\S]*?^\1/gm, '');
    const slugs = new Set(
      [...readme.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    const broken: string[] = [];
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      if (target.startsWith('#')) {
        if (!slugs.has(target.slice(1))) broken.push(`${target}: no such heading`);
      } else if (!existsSync(repoPath(target.split('#')[0]!))) {
        broken.push(`${target}: no such file`);
      }
    }
    expect(broken, broken.join('\n')).toEqual([]);
  });

  it('names the predicate type, the bundle file and the OIDC issuer devices verify against', () => {
    expect(readme).toContain('--type https://edgeship.dev/deployment-manifest/v1');
    expect(readme).toContain('edgeship-deployment-$VERSION.yaml.sigstore.json');
    expect(readme).toContain('https://token.actions.githubusercontent.com');
    expect(readme).toMatch(/cosign verify-attestation --type spdxjson/);
    expect(readme).toMatch(/cosign verify-attestation --type vuln/);
  });
});
