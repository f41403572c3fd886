// The project's JSON schemas, compiled when the bundle is built: Ajv's standalone code for every schema a module of
// src/ gives to lazyValidator (src/validation/ajv.ts), in place of the empty src/validation/precompiled.ts. The
// bundle then neither carries Ajv's compiler nor compiles a schema when the action runs: that was about 100 ms of
// every run that reads a deployment manifest or a policy file. src/validation/ajv-compile.ts (Ajv itself) becomes a
// module that refuses to compile, so a schema left out here fails loudly instead of being compiled.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VALIDATION = path.join(ROOT, 'src', 'validation');

/** The modules of src/ that register a schema (a call of lazyValidator), as paths relative to the root. */
export function schemaModules() {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (
        file.endsWith('.ts') &&
        dir !== VALIDATION &&
        readFileSync(file, 'utf8').includes('lazyValidator(')
      )
        found.push(path.relative(ROOT, file).split(path.sep).join('/'));
    }
  };
  walk(path.join(ROOT, 'src'));
  return found.sort();
}

/**
 * The module that replaces src/validation/precompiled.ts: its `PRECOMPILED` maps each schema's name to a
 * function of the format checks that runs the schema's standalone code and returns its validator.
 */
export async function precompiledModule() {
  const modules = schemaModules();
  const entry = [
    "export { SCHEMAS, SHARED_FORMATS } from './src/validation/ajv.ts';",
    "export { standaloneValidators } from './src/validation/ajv-compile.ts';",
    ...modules.map((m) => `import './${m}';`),
  ].join('\n');
  // Bundled next to node_modules, so the packages it leaves external resolve from there.
  const outdir = path.join(ROOT, 'node_modules', '.cache', 'edgeship-build');
  mkdirSync(outdir, { recursive: true });
  const outfile = path.join(outdir, `schemas-${process.pid}-${Date.now()}.mjs`);
  await build({
    stdin: { contents: entry, resolveDir: ROOT, loader: 'ts', sourcefile: 'schemas-entry.ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile,
    logLevel: 'warning',
  });
  const { SCHEMAS, SHARED_FORMATS, standaloneValidators } = await import(pathToFileURL(outfile).href).finally(
    () => rmSync(outfile, { force: true }),
  );
  if (SCHEMAS.length < modules.length) {
    throw new Error(
      `${modules.join(', ')} registered ${SCHEMAS.length} schema(s); each module should register one`,
    );
  }
  const code = standaloneValidators(SCHEMAS, Object.keys(SHARED_FORMATS));
  const entries = Object.entries(code).map(
    ([name, body]) =>
      `${JSON.stringify(name)}: function (formats) {\nvar module = { exports: {} };\n${body}\nreturn module.exports;\n},`,
  );
  return `export const PRECOMPILED = {\n${entries.join('\n')}\n};\n`;
}

const REFUSE_TO_COMPILE =
  'export function compileSchema() { throw new Error("a schema was not compiled when the bundle was built: see build/schemas.js"); }\n';

/** The esbuild plugin: precompiled.ts filled, ajv-compile.ts refusing. */
export const precompileSchemas = {
  name: 'precompile-schemas',
  setup(b) {
    b.onLoad({ filter: /[/\\]src[/\\]validation[/\\]precompiled\.ts$/ }, async () => ({
      contents: await precompiledModule(),
      loader: 'js',
      resolveDir: ROOT,
    }));
    b.onLoad({ filter: /[/\\]src[/\\]validation[/\\]ajv-compile\.ts$/ }, () => ({
      contents: REFUSE_TO_COMPILE,
      loader: 'js',
    }));
  },
};
