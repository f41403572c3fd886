/**
 * The images a Dockerfile builds from: every `FROM` (and `COPY --from=<image>`) of the stages that are built, with
 * the global `ARG`s substituted (their defaults, overridden by build arguments the Dockerfile declares, plus the
 * automatic platform arguments), stage names and `scratch` left out.
 *
 * Pure: the text is read elsewhere.
 */

/** What FROM lines may use: build arguments and the platform being built. */
export interface FromContext {
  /** `build-args` (name, value); only ARGs the Dockerfile declares before its first FROM apply. */
  buildArgs: ReadonlyArray<readonly [string, string]>;
  /** `linux/arm64/v8` etc.: TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT (BUILD* likewise). */
  platform: string;
  /** The `target` stage: later stages are not built. */
  target?: string;
}

/** Image references in the order the Dockerfile names them, each once (`alpine:3.20`, `${BASE}` resolved…). */
export function dockerfileBaseImages(text: string, context: FromContext): string[] {
  const instructions = logicalLines(text);
  const args = new Map<string, string>(platformArgs(context.platform));
  const given = new Map(context.buildArgs);
  const stages: string[] = [];
  const images: string[] = [];
  const add = (reference: string) => {
    const lower = reference.toLowerCase();
    if (lower === 'scratch' || stages.includes(lower) || /^\d+$/.test(reference)) return;
    if (!images.includes(reference)) images.push(reference);
  };
  let seenFrom = false;
  for (const { keyword, rest } of instructions) {
    if (keyword === 'ARG' && !seenFrom) {
      for (const [name, value] of argDeclarations(rest)) {
        const resolved = given.get(name) ?? (value === undefined ? undefined : substitute(value, args));
        if (resolved !== undefined) args.set(name, resolved);
      }
    } else if (keyword === 'FROM') {
      if (context.target !== undefined && stages.includes(context.target.toLowerCase())) break;
      seenFrom = true;
      const words = rest.split(/\s+/).filter((w) => !w.startsWith('--'));
      const image = substitute(words[0] ?? '', args);
      if (image) add(image);
      const alias = words[1]?.toLowerCase() === 'as' ? words[2] : undefined;
      stages.push((alias ?? `#${stages.length}`).toLowerCase());
    } else if (keyword === 'COPY' && seenFrom) {
      const from = /(?:^|\s)--from=(\S+)/.exec(rest)?.[1];
      if (from) add(substitute(unquote(from), args));
    }
  }
  return images;
}

/** The automatic platform ARGs BuildKit and buildah give FROM lines (build platform = target platform here). */
function platformArgs(platform: string): Array<[string, string]> {
  const [os = 'linux', arch = '', variant = ''] = platform.split('/');
  const out: Array<[string, string]> = [];
  for (const prefix of ['TARGET', 'BUILD']) {
    out.push([`${prefix}PLATFORM`, platform], [`${prefix}OS`, os], [`${prefix}ARCH`, arch]);
    out.push([`${prefix}VARIANT`, variant]);
  }
  return out;
}

/** `ARG A=1 B "C=two words"` → [A, '1'], [B, undefined], [C, 'two words']. */
function argDeclarations(rest: string): Array<[string, string | undefined]> {
  const words = rest.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? [];
  return words.map((word) => {
    const eq = word.indexOf('=');
    if (eq === -1) return [word, undefined];
    return [word.slice(0, eq), unquote(word.slice(eq + 1))];
  });
}

function unquote(value: string): string {
  return value.replace(/^"(.*)"$/s, '$1').replace(/^'(.*)'$/s, '$1');
}

/** `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:+word}`; unknown names become '' as in Docker. */
export function substitute(value: string, args: ReadonlyMap<string, string>): string {
  return value.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (_m, braced: string | undefined, op: string | undefined, word: string | undefined, bare?: string) => {
      const current = args.get((braced ?? bare)!);
      if (op === '-') return current ? current : (word ?? '');
      if (op === '+') return current ? (word ?? '') : '';
      return current ?? '';
    },
  );
}

/** Instructions with continuation lines joined and comments dropped, honouring the `escape` directive. */
function logicalLines(text: string): Array<{ keyword: string; rest: string }> {
  const lines = text.split(/\r?\n/);
  const escape = /^#\s*escape\s*=\s*`\s*$/i.test(lines.find((l) => l.trim() !== '') ?? '') ? '`' : '\\';
  const out: Array<{ keyword: string; rest: string }> = [];
  let current = '';
  for (const raw of lines) {
    const line = raw.trim();
    if (line.startsWith('#')) continue;
    if (line.endsWith(escape)) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    const match = /^(\S+)\s*(.*)$/s.exec(current.trim());
    if (match) out.push({ keyword: match[1]!.toUpperCase(), rest: match[2]!.trim() });
    current = '';
  }
  return out;
}
