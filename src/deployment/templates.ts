/**
 * Deployment templates pinned to the release: in Kubernetes/K3s manifests and docker compose files, every reference
 * to the published repository (`repo`, `repo:tag`, `repo@sha256:…`, `repo:tag@sha256:…`) becomes
 * `repo@<index digest>`, so every node runs exactly the signed release whatever the tags do later.
 *
 * The text is edited in place, never re-serialised: comments, quoting, indentation and key order stay as written.
 * Which parts of the text are values comes from the YAML parser (the source range of every scalar); inside a scalar
 * a regular expression anchored on image-reference boundaries finds the references. A reference is the repository
 * name NOT preceded by a name character (letter, digit, `.`, `_`, `-`, `/`, `:`, `@`, `$`) and, after its optional
 * `:tag` and `@digest`, NOT followed by one, so `repo-sidecar`, `repo/sub`, `mirror.io/repo` and `other.io/x/repo`
 * are different images and stay untouched. Comments are never changed (they are outside scalars).
 *
 * Tags and digests written with compose variables (`repo:${TAG:-latest}`, `repo@${DIGEST}`) are references too.
 *
 * Docker Hub: for `docker.io/library/x` the template may say `docker.io/library/x`, `docker.io/x`,
 * `index.docker.io/…` (replaced wherever they appear) or the short forms `library/x` and `x`; for
 * `docker.io/acme/agent`, `acme/agent`. A short form is only a reference where it is the whole value of an `image:`
 * key (a Kubernetes container or a compose service): elsewhere a bare `x` is as likely a container name, a path or a
 * word, and replacing it would break the file. The replacement keeps the name as the template wrote it
 * (`image: x:1` → `image: x@sha256:…`), which Docker, containerd and K3s resolve to the same repository.
 *
 * When the file is not valid YAML (e.g. a Helm template with `{{ }}`), it is processed line by line instead: text
 * after a `#` that starts a comment is left alone, fully qualified references are replaced elsewhere, and short
 * Docker Hub forms only directly after `image:`. A warning says so.
 *
 * Not handled (documented limits): a repository split across variables (`${REGISTRY}/acme/agent`), a registry host
 * written in a different letter case, a reference followed directly by a sentence's full stop in free text.
 */
import { isPair, isScalar, parseAllDocuments, visit, type Document } from 'yaml';
import { DOCKER_HUB, formatRepository, parseRepository } from '../registry/reference.js';

export interface TemplateOptions {
  /** The published repository (ghcr.io/acme/agent; `alpine` means docker.io/library/alpine). */
  repository: string;
  /** The release's index digest. */
  indexDigest: string;
  /** The release's tags: a template referring to another tag gets a warning (it is pinned all the same). */
  tags?: readonly string[];
}

export interface RenderedTemplate {
  text: string;
  /** Number of references now pinned to the index (an occurrence already pinned to it counts too). */
  replaced: number;
  /** Each distinct reference as the template wrote it, in order of first appearance. */
  references: string[];
  warnings: string[];
}

export class TemplateError extends Error {
  override name = 'TemplateError';
}

const INDEX_DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** Characters of an image reference: one of these next to a match means it is part of a longer name. */
const NAME_CHAR = '[\\w.\\-/:@$]';
const VARIABLE = '\\$\\{[^}\\s]*\\}|\\$[A-Za-z_]\\w*';
const TAG = `(?:\\w|${VARIABLE})(?:[\\w.-]|${VARIABLE})*`;
const DIGEST = `(?:[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}|${VARIABLE})`;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

interface Spellings {
  /** Names with a registry host: replaced wherever they appear. */
  qualified: string[];
  /** Docker Hub names without a host: only as the whole value of an `image:` key. */
  short: string[];
}

function spellings(repository: string): Spellings {
  let repo;
  try {
    repo = parseRepository(repository);
  } catch (error) {
    throw new TemplateError(`Cannot render templates: ${(error as Error).message}`);
  }
  if (repo.registry !== DOCKER_HUB) return { qualified: [formatRepository(repo)], short: [] };
  const paths = [repo.path];
  if (repo.path.startsWith('library/')) paths.push(repo.path.slice('library/'.length));
  const qualified = ['docker.io', 'index.docker.io'].flatMap((host) => paths.map((p) => `${host}/${p}`));
  return { qualified, short: paths };
}

function namesPattern(names: readonly string[]): string {
  return [...names]
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp)
    .join('|');
}

/** `name`, `:tag`, `@digest` as groups 1-3, anchored on reference boundaries. */
function referencePattern(names: readonly string[]): RegExp {
  return new RegExp(
    `(?<!${NAME_CHAR})(${namesPattern(names)})((?::${TAG})?)((?:@${DIGEST})?)(?!${NAME_CHAR})`,
    'g',
  );
}

interface Edit {
  start: number;
  end: number;
  replacement: string;
  reference: string;
  tag: string;
}

function findReferences(
  text: string,
  offset: number,
  pattern: RegExp,
  pinned: (name: string) => string,
): Edit[] {
  const edits: Edit[] = [];
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    const name = m[1] ?? '';
    edits.push({
      start: offset + m.index,
      end: offset + m.index + m[0].length,
      replacement: pinned(name),
      reference: m[0],
      tag: (m[2] ?? '').slice(1),
    });
  }
  return edits;
}

function yamlEdits(
  text: string,
  docs: Document.Parsed[],
  qualified: RegExp,
  short: RegExp | undefined,
  shortWhole: RegExp | undefined,
  pinned: (name: string) => string,
): Edit[] {
  const edits: Edit[] = [];
  for (const doc of docs) {
    visit(doc, {
      Scalar(key, node, path) {
        if (key === 'key' || !node.range) return;
        const [start, end] = node.range;
        const source = text.slice(start, end);
        const parent = path[path.length - 1];
        const imageValue =
          isPair(parent) && parent.value === node && isScalar(parent.key) && parent.key.value === 'image';
        if (
          short &&
          shortWhole &&
          imageValue &&
          typeof node.value === 'string' &&
          shortWhole.test(node.value.trim())
        ) {
          edits.push(...findReferences(source, start, short, pinned));
          return;
        }
        edits.push(...findReferences(source, start, qualified, pinned));
      },
    });
  }
  return edits;
}

/** Index of the `#` that starts a comment on this line (outside quotes, at the start or after a space). */
function commentStart(line: string): number {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (quote === '"' && c === '\\') i++;
      else if (c === quote) {
        if (quote === "'" && line[i + 1] === "'") i++;
        else quote = undefined;
      }
      continue;
    }
    const before = i === 0 ? ' ' : line[i - 1]!;
    if ((c === '"' || c === "'") && /[\s:[{,=-]/.test(before)) quote = c;
    else if (c === '#' && /\s/.test(before)) return i;
  }
  return line.length;
}

function lineEdits(
  text: string,
  qualified: RegExp,
  short: RegExp | undefined,
  pinned: (name: string) => string,
): Edit[] {
  const edits: Edit[] = [];
  let offset = 0;
  for (const line of text.split('\n')) {
    const code = line.slice(0, commentStart(line));
    const found = findReferences(code, offset, qualified, pinned);
    if (short) {
      const taken = (e: Edit) => found.some((f) => e.start < f.end && f.start < e.end);
      found.push(...findReferences(code, offset, short, pinned).filter((e) => !taken(e)));
    }
    edits.push(...found);
    offset += line.length + 1;
  }
  return edits;
}

/**
 * Pins every reference to `options.repository` in a Kubernetes/K3s manifest or docker compose file to the release's
 * index digest. See the module comment for what counts as a reference.
 */
export function renderTemplate(text: string, options: TemplateOptions): RenderedTemplate {
  if (!INDEX_DIGEST.test(options.indexDigest)) {
    throw new TemplateError(
      `Cannot render templates: index digest ${JSON.stringify(options.indexDigest)} is not sha256:<64 lowercase hex>`,
    );
  }
  const names = spellings(options.repository);
  const pinned = (name: string) => `${name}@${options.indexDigest}`;
  const qualified = referencePattern(names.qualified);
  const warnings: string[] = [];

  const docs = parseAllDocuments(text, { uniqueKeys: false });
  const list = Array.isArray(docs) ? docs : [];
  const yamlErrors = list.flatMap((d) => d.errors);
  let edits: Edit[];
  if (yamlErrors.length === 0) {
    const short = names.short.length ? referencePattern(names.short) : undefined;
    const shortWhole = names.short.length
      ? new RegExp(`^(?:${namesPattern(names.short)})(?::${TAG})?(?:@${DIGEST})?$`)
      : undefined;
    edits = yamlEdits(text, list, qualified, short, shortWhole, pinned);
  } else {
    const first = yamlErrors[0]!;
    warnings.push(
      `The template is not valid YAML (${first.message.split('\n')[0]}); references were replaced line by line, ` +
        'outside comments' +
        (names.short.length ? ', and short Docker Hub names only right after "image:"' : ''),
    );
    const short = names.short.length
      ? new RegExp(
          `(?<=(?:^|[\\s{,])image\\s*:\\s*["']?)(${namesPattern(names.short)})((?::${TAG})?)((?:@${DIGEST})?)(?=["']?\\s*(?:[,}]|$))`,
          'g',
        )
      : undefined;
    edits = lineEdits(text, qualified, short, pinned);
  }

  edits.sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const edit of edits) {
    out += text.slice(at, edit.start) + edit.replacement;
    at = edit.end;
  }
  out += text.slice(at);

  const references = [...new Set(edits.map((e) => e.reference))];
  if (edits.length === 0) {
    warnings.push(
      `The template has no reference to ${formatRepository(parseRepository(options.repository))}`,
    );
  }
  if (options.tags) {
    const known = new Set(options.tags);
    const foreign = [
      ...new Set(edits.map((e) => e.tag).filter((t) => t !== '' && !t.includes('$') && !known.has(t))),
    ];
    for (const tag of foreign) {
      warnings.push(
        `The template refers to tag "${tag}", which this release does not carry; it is pinned to this release's index all the same`,
      );
    }
  }
  return { text: out, replaced: edits.length, references, warnings };
}

/**
 * The name of a rendered template: `.pinned` before the extension of the last path segment, directories kept:
 * `k8s/agent.yaml` → `k8s/agent.pinned.yaml`, `compose.yml` → `compose.pinned.yml`, `Kustomfile` → `Kustomfile.pinned`.
 */
export function renderedFileName(original: string): string {
  const slash = Math.max(original.lastIndexOf('/'), original.lastIndexOf('\\'));
  const dir = original.slice(0, slash + 1);
  const base = original.slice(slash + 1);
  if (base === '')
    throw new TemplateError(`Cannot name the rendered template: "${original}" has no file name`);
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return `${dir}${base}.pinned`;
  return `${dir}${base.slice(0, dot)}.pinned${base.slice(dot)}`;
}
