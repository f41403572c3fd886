/**
 * The JSON schemas compiled when the bundle is built (build/schemas.js): every module of src/ that registers a
 * schema is found, each schema's standalone code judges documents exactly as Ajv compiling it at run time does
 * (same verdict, same errors), and the bundle carries that code and refuses to compile anything else.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { precompiledModule, schemaModules } from '../../../build/schemas.js';
import type { PrecompiledValidator } from '../../../src/validation/precompiled.js';
import { compileSchema } from '../../../src/validation/ajv-compile.js';
import { SCHEMAS, SHARED_FORMATS } from '../../../src/validation/ajv.js';
// Loading the modules registers their schemas.
import '../../../src/deployment/schema.js';
import '../../../src/policy/schema.js';
import '../../../src/policy/vex.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

const manifest = parse(await readFile(path.join(ROOT, 'examples', 'edgeship-deployment-1.8.2.yaml'), 'utf8'));
const policy = parse(await readFile(path.join(ROOT, 'examples', 'policy.yml'), 'utf8'));
const vex = {
  '@context': 'https://openvex.dev/ns/v0.2.0',
  '@id': 'https://example.com/vex/1',
  author: 'Edge team',
  timestamp: '2026-12-01T10:00:00Z',
  statements: [
    {
      vulnerability: { name: 'CVE-2026-1234' },
      products: [{ '@id': 'pkg:oci/agent' }],
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
    },
  ],
};
const clone = <T>(v: T): T => structuredClone(v);

/** Documents each schema must judge: a valid one, then broken ones (wrong forms, missing and unknown keys). */
const SAMPLES: Record<string, unknown[]> = {
  'deployment-manifest': [
    manifest,
    { ...clone(manifest), kind: 'Manifest' },
    (() => {
      const m = clone(manifest);
      m.image.index.digest = 'sha256:short';
      delete m.release.version;
      m.extra = true;
      return m;
    })(),
    (() => {
      const m = clone(manifest);
      m.release.created = '2026-13-45T99:00:00Z';
      m.platforms[0].delta.bytes = -1;
      return m;
    })(),
    [],
  ],
  policy: [
    policy,
    { ...clone(policy), failOn: 'severe' },
    { ...clone(policy), edge: { maxImageSize: 'big', imageSize: 'loud' }, unknown: 1 },
    { apiVersion: 'edgeship/v1' },
  ],
  openvex: [
    vex,
    { ...clone(vex), statements: [{ vulnerability: {}, status: 'affected' }] },
    { ...clone(vex), '@context': 'https://example.com', timestamp: 'yesterday' },
    'not a document',
  ],
};

async function loadPrecompiled(code: string): Promise<Record<string, PrecompiledValidator>> {
  // The bundle gives the code a require(); here it resolves from the project.
  const dir = path.join(ROOT, 'node_modules', '.cache', 'edgeship-build');
  const file = path.join(dir, `precompiled-test-${process.pid}.mjs`);
  await writeFile(
    file,
    `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${code}`,
  );
  try {
    return ((await import(pathToFileURL(file).href)) as { PRECOMPILED: Record<string, PrecompiledValidator> })
      .PRECOMPILED;
  } finally {
    await rm(file, { force: true });
  }
}

const errorsOf = (errors: unknown) =>
  ((errors ?? []) as Array<{ instancePath: string; keyword: string; message?: string; params: unknown }>).map(
    (e) => ({ instancePath: e.instancePath, keyword: e.keyword, message: e.message, params: e.params }),
  );

describe('the schemas compiled at build time', () => {
  it('finds every module of src/ that registers a schema', () => {
    expect(schemaModules()).toEqual([
      'src/deployment/schema.ts',
      'src/policy/schema.ts',
      'src/policy/vex.ts',
    ]);
  });

  it('judges every sample as Ajv compiling the schema at run time does', async () => {
    const precompiled = await loadPrecompiled(await precompiledModule());
    const registered = SCHEMAS.filter((s) => Object.hasOwn(SAMPLES, s.name));
    expect(registered.map((s) => s.name).sort()).toEqual(Object.keys(SAMPLES).sort());
    expect(Object.keys(precompiled).sort()).toEqual(Object.keys(SAMPLES).sort());
    for (const { name, schema, options } of registered) {
      const formats = { ...SHARED_FORMATS, ...options.formats };
      const atBuild = precompiled[name]!(
        Object.fromEntries(Object.entries(formats).map(([k, validate]) => [k, { validate }])),
      );
      const atRun = compileSchema(schema, options, formats);
      const verdicts = SAMPLES[name]!.map((doc, i) => {
        const ok = atBuild(doc);
        expect(atRun(doc), `${name} sample ${i}`).toBe(ok);
        expect(errorsOf(atBuild.errors), `${name} sample ${i}`).toEqual(errorsOf(atRun.errors));
        return ok;
      });
      // The first sample is valid, every other one is not: the comparison covers both verdicts.
      expect(verdicts, name).toEqual(SAMPLES[name]!.map((_, i) => i === 0));
    }
  });

  it('is what the bundle carries, with Ajv left out', async () => {
    const chunks = path.join(ROOT, 'dist', 'chunks');
    const texts = await Promise.all(
      (await readdir(chunks))
        .filter((f) => f.endsWith('.js'))
        .map((f) => readFile(path.join(chunks, f), 'utf8')),
    );
    const all = texts.join('\n');
    expect(all).toContain('a schema was not compiled when the bundle was built');
    expect(all).toContain('"deployment-manifest":function(');
    // Ajv's compiler (its code generator) is not in the bundle.
    expect(all).not.toContain('CodeGen: not in self-balancing block');
  });
});
