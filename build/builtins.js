// Node's http and https modules are loaded with require(), never with an ES import. For an ES import Node builds a
// facade module by reading every export once, and http's WebSocket, CloseEvent and MessageEvent exports are getters
// that load Node's own copy of undici: about 45 ms at every start of the action, for classes it never uses.
// test/unit/build/builtins.test.ts checks the bundle keeps it that way.
export const REQUIRED_BUILTINS = ['http', 'https'];

/** The esbuild plugin: an import of one of REQUIRED_BUILTINS becomes a CommonJS module that require()s it. */
export const requireBuiltins = {
  name: 'require-builtins',
  setup(build) {
    const filter = new RegExp(`^(node:)?(${REQUIRED_BUILTINS.join('|')})$`);
    build.onResolve({ filter }, ({ path: name, namespace }) => {
      const builtin = `node:${name.replace(/^node:/, '')}`;
      if (namespace === 'required-builtin') return { path: builtin, external: true };
      return { path: builtin, namespace: 'required-builtin' };
    });
    build.onLoad({ filter: /.*/, namespace: 'required-builtin' }, ({ path: builtin }) => ({
      contents: `module.exports = require(${JSON.stringify(builtin)});`,
      loader: 'js',
    }));
  },
};
