/**
 * build/builtins.js: the bundle loads http and https with require(), never with an ES import, so loading the action
 * does not make Node load its own copy of undici (for http's WebSocket exports, which an ES import reads).
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REQUIRED_BUILTINS } from '../../../build/builtins.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const CHUNKS = path.join(ROOT, 'dist', 'chunks');

describe('the builtins the bundle requires', () => {
  it('are never imported as ES modules by the bundle', async () => {
    const files = (await readdir(CHUNKS)).filter((f) => f.endsWith('.js'));
    const imports = new RegExp(`(from|import)\\s*"(node:)?(${REQUIRED_BUILTINS.join('|')})"`);
    for (const file of files) {
      expect(imports.test(await readFile(path.join(CHUNKS, file), 'utf8')), file).toBe(false);
    }
    // They are required instead (through the bundle's require, under a minified name).
    const all = (await Promise.all(files.map((f) => readFile(path.join(CHUNKS, f), 'utf8')))).join('\n');
    for (const name of REQUIRED_BUILTINS) expect(all.includes(`("node:${name}")`), name).toBe(true);
  });

  it("keep Node's own undici unloaded when the action's code is loaded", async () => {
    const run = (await readdir(CHUNKS)).find((f) => /^run-.*\.js$/.test(f))!;
    const probe = [
      `await import(${JSON.stringify(path.join(CHUNKS, run))});`,
      'console.log(JSON.stringify(process.moduleLoadList.filter((m) => /undici|http/.test(m))));',
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', probe]);
    const loaded = JSON.parse(stdout) as string[];
    expect(loaded).toContain('NativeModule http');
    expect(loaded.filter((m) => m.includes('internal/deps/undici'))).toEqual([]);
    // What an ES import of node:http does: the check can fail.
    const esm = await promisify(execFile)(process.execPath, [
      '--input-type=module',
      '-e',
      "await import('node:http'); console.log(process.moduleLoadList.some((m) => m.includes('internal/deps/undici')));",
    ]);
    expect(esm.stdout.trim()).toBe('true');
  });
});
