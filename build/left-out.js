// What the bundle leaves out: the bundle must stay under 3 MB (bench/run.mjs), and some dependencies load far more
// than Edgeship runs. Each entry names the modules allowed to import the package (paths under node_modules/); any
// other importer fails the build, so a dependency update cannot reach a left-out path unnoticed.
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const LEFT_OUT = {
  // Not bundled at all: require() fails as it does when an optional dependency is missing. minipass-fetch (used by
  // @sigstore/sign) loads it in a try/catch for textConverted() alone, which nothing calls; it is half a megabyte.
  'iconv-lite': {
    importers: ['minipass-fetch/lib/body.js'],
    external: true,
  },
  // Bundled as a stub that throws, naming the package, when anything in it is used.
  glob: {
    importers: ['archiver-utils/file.js', 'cacache/lib/util/glob.js'],
    serves:
      "archiver-utils' file helpers (archiver never calls them) and cacache's rm.all() and verify() (make-fetch-happen calls neither)",
  },
  'readdir-glob': {
    importers: ['archiver/lib/core.js'],
    serves: 'archiver.glob() and archiver.directory() (@actions/artifact adds files one by one)',
  },
  'tar-stream': {
    importers: ['archiver/lib/plugins/tar.js'],
    serves: "archiver's tar format (@actions/artifact uploads zips)",
  },
  // Replaced by the part of it the bundle uses (see that file). An ES import of a name it lacks fails the build by
  // itself; `importers` lists the CommonJS modules that require() it.
  undici: {
    subset: 'build/undici.js',
    importers: ['@actions/github/node_modules/@actions/http-client/lib/index.js'], // uses ProxyAgent
  },
};

// es-shims polyfills whose own getPolyfill() picks Node's built-in on Node 24 (test/unit/build/left-out.test.ts
// checks it), so their implementation.js never runs: it is bundled as a stub that throws. Package → built-in.
export const BUILT_IN = {
  // traverse (through unzip-stream: @actions/artifact's download) copies typed arrays with it; its implementation
  // pulls 40 kB of es-abstract.
  'typedarray.prototype.slice': 'TypedArray.prototype.slice',
};

/** The esbuild plugin that applies LEFT_OUT and BUILT_IN. */
export const leaveOut = {
  name: 'leave-out',
  setup(build) {
    const modules = realpathSync(path.join(ROOT, 'node_modules'));
    const filter = new RegExp(`^(${Object.keys(LEFT_OUT).join('|')})$`);
    build.onResolve({ filter }, ({ path: name, importer, kind }) => {
      const { subset, external, importers, serves } = LEFT_OUT[name];
      const from = path.relative(modules, importer).split(path.sep).join('/');
      if (!importers.includes(from) && !(subset && kind === 'import-statement')) {
        const shown = from.startsWith('../') ? path.relative(ROOT, importer) : from;
        return {
          errors: [{ text: `${shown} imports ${name}, which the bundle leaves out: see build/left-out.js` }],
        };
      }
      if (external) return { path: name, external };
      if (subset) return { path: path.join(ROOT, subset) };
      return { path: name, namespace: 'left-out', pluginData: serves };
    });
    build.onLoad({ filter: /[/\\]implementation\.js$/ }, ({ path: file }) => {
      const name = path.basename(path.dirname(file));
      if (!Object.hasOwn(BUILT_IN, name)) return undefined;
      const message = `${name}'s polyfill is not in Edgeship's bundle; Node's ${BUILT_IN[name]} is used`;
      return { contents: `module.exports = () => { throw new Error(${JSON.stringify(message)}); };` };
    });
    build.onLoad({ filter: /.*/, namespace: 'left-out' }, ({ path: name, pluginData: serves }) => ({
      contents:
        `const fail = () => { throw new Error(${JSON.stringify(`${name} is not in Edgeship's bundle; it serves only ${serves}`)}); };` +
        "module.exports = new Proxy(fail, { get: (_, key) => (key === '__esModule' ? false : fail) });",
    }));
  },
};
