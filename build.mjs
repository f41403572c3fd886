// Bundles the action into dist/ (one ESM file per entry point). `node build.mjs --outdir DIR` builds elsewhere
// (used by the dist freshness check).
import { rmSync } from 'node:fs';
import { build } from 'esbuild';
import { requireBuiltins } from './build/builtins.js';
import { leaveOut } from './build/left-out.js';
import { precompileSchemas } from './build/schemas.js';

const outIndex = process.argv.indexOf('--outdir');
const outdir = outIndex > 0 ? process.argv[outIndex + 1] : 'dist';

rmSync(outdir, { recursive: true, force: true });

await build({
  entryPoints: { main: 'src/main.ts', post: 'src/post.ts' },
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  minify: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  legalComments: 'linked',
  charset: 'utf8',
  logLevel: 'warning',
  // Parts of dependencies Edgeship never runs, each checked at build time: see build/left-out.js.
  // http and https are loaded with require() (build/builtins.js); the JSON schemas are compiled now (build/schemas.js).
  plugins: [leaveOut, requireBuiltins, precompileSchemas],
  // Prefer the ES module builds dependencies ship: they tree-shake far better than their CommonJS ones.
  mainFields: ['module', 'main'],
  // yaml's exports map sends Node to its CommonJS build, which does not tree-shake; its ES module build (the same
  // code, shipped for browsers and free of Node-only paths we use) saves about 16 kB.
  alias: { yaml: './node_modules/yaml/browser/index.js' },
  // Some dependencies are CommonJS and call require(); give the ESM bundle one.
  banner: {
    js: "import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);",
  },
});
