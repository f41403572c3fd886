// Architecture rules for src/, enforced by lint:
// - `architecture/no-cycle`: no import cycle between modules; `import type` counts (a cycle of types is still a
//   tangle of responsibilities).
// - `architecture/layers`: a folder of src/ imports only the folders its layer table entry allows; the table
//   (`layers.js`) lists each folder's allowed imports and must itself be free of cycles (a unit test checks it,
//   and that the README's map of src/ says the same).
import { readFileSync } from 'node:fs';
import path from 'node:path';

const RELATIVE_SPECIFIER = /\bfrom\s*'(\.{1,2}\/[^']+)'|\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;

/** Relative imports of a module read from disk (the linted file's own come from its syntax tree). */
const importsCache = new Map();
function importsOf(file) {
  let found = importsCache.get(file);
  if (!found) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // A missing target is another rule's business.
    }
    found = [...text.matchAll(RELATIVE_SPECIFIER)].map((m) => resolveSpecifier(file, m[1] ?? m[2]));
    importsCache.set(file, found);
  }
  return found;
}

function resolveSpecifier(from, specifier) {
  return path.resolve(path.dirname(from), specifier).replace(/\.js$/, '.ts');
}

/** The path from `start` back to `target`, or undefined when there is none. */
function pathBack(start, target) {
  const seen = new Set();
  const stack = [[start, [start]]];
  while (stack.length > 0) {
    const [file, route] = stack.pop();
    if (file === target) return route;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const next of importsOf(file)) stack.push([next, [...route, next]]);
  }
  return undefined;
}

function sourceNodes(node) {
  return node.source && typeof node.source.value === 'string' && node.source.value.startsWith('.')
    ? [node.source]
    : [];
}

function visitRelativeImports(check) {
  const visit = (node) => sourceNodes(node).forEach((source) => check(source));
  return {
    ImportDeclaration: visit,
    ExportNamedDeclaration: visit,
    ExportAllDeclaration: visit,
    ImportExpression: visit,
  };
}

const noCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'forbid import cycles between modules, type imports included' },
    schema: [],
    messages: { cycle: 'Import cycle: {{route}}' },
  },
  create(context) {
    const file = context.physicalFilename;
    const root = context.cwd;
    return visitRelativeImports((source) => {
      const target = resolveSpecifier(file, source.value);
      const route = pathBack(target, file);
      if (!route) return;
      const shown = [file, ...route].map((f) => path.relative(root, f)).join(' → ');
      context.report({ node: source, messageId: 'cycle', data: { route: shown } });
    });
  },
};

const layers = {
  meta: {
    type: 'problem',
    docs: { description: 'a folder of src/ imports only the folders its layer allows' },
    schema: [{ type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } }],
    messages: {
      unknown:
        'src/{{folder}}/ is not in the layer table (eslint-rules/layers.js): add it with what it may import',
      upward:
        'src/{{folder}}/ may not import src/{{target}}/ (it may import: {{allowed}}); layers point down only',
    },
  },
  create(context) {
    const table = context.options[0] ?? {};
    const src = path.join(context.cwd, 'src');
    const folderOf = (file) => {
      const rel = path.relative(src, file);
      if (rel.startsWith('..')) return undefined;
      return rel.includes(path.sep) ? rel.split(path.sep)[0] : '.';
    };
    const folder = folderOf(context.physicalFilename);
    if (folder === undefined) return {};
    return {
      ...visitRelativeImports((source) => {
        const target = folderOf(resolveSpecifier(context.physicalFilename, source.value));
        if (target === undefined || target === folder) return;
        const allowed = table[folder];
        if (!allowed) {
          context.report({ node: source, messageId: 'unknown', data: { folder } });
        } else if (!allowed.includes(target)) {
          context.report({
            node: source,
            messageId: 'upward',
            data: { folder, target, allowed: allowed.join(', ') || 'nothing' },
          });
        }
      }),
    };
  },
};

export default { rules: { 'no-cycle': noCycle, layers } };
