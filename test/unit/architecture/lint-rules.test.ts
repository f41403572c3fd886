/**
 * The architecture lint rules catch what they are for: a cycle (through `import type` too) and an import that
 * points up the layer table. Checked on a small tree written for the test, linted by ESLint itself.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { afterAll, describe, expect, it } from 'vitest';
import architecture from '../../../eslint-rules/architecture.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'edgeship-arch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function tree(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
}

async function lint(file: string, layers: Record<string, string[]>): Promise<string[]> {
  const eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        plugins: { architecture },
        rules: { 'architecture/no-cycle': 'error', 'architecture/layers': ['error', layers] },
      },
    ],
  });
  const [result] = await eslint.lintFiles([path.join(root, file)]);
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('architecture lint rules', () => {
  const layers = { low: [], high: ['low'] };

  it('accept imports that point down', async () => {
    tree({
      'src/low/a.ts': 'export const a = 1;\n',
      'src/high/b.ts': "import { a } from '../low/a.js';\nexport const b = a;\n",
    });
    expect(await lint('src/high/b.ts', layers)).toEqual([]);
  });

  it('report a cycle made only of type imports, naming its route', async () => {
    tree({
      'src/low/x.ts': "import type { Y } from './y.js';\nexport type X = { y?: Y };\n",
      'src/low/y.ts': "import type { X } from './x.js';\nexport type Y = { x?: X };\n",
    });
    expect(await lint('src/low/x.ts', layers)).toEqual([
      'architecture/no-cycle: Import cycle: src/low/x.ts → src/low/y.ts → src/low/x.ts',
    ]);
  });

  it('report an import that points up the layers, and a folder missing from the table', async () => {
    tree({
      'src/low/up.ts': "import { b } from '../high/b.js';\nexport const up = b;\n",
      'src/other/c.ts': "import { a } from '../low/a.js';\nexport const c = a;\n",
    });
    expect(await lint('src/low/up.ts', layers)).toEqual([
      'architecture/layers: src/low/ may not import src/high/ (it may import: nothing); layers point down only',
    ]);
    expect(await lint('src/other/c.ts', layers)).toEqual([
      'architecture/layers: src/other/ is not in the layer table (eslint-rules/layers.js): add it with what it may import',
    ]);
  });
});
