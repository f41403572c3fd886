/**
 * Every input of action.yml, in one table: its name, its default (as action.yml documents it; a unit test checks both
 * say the same) and the parser that turns the raw string into a checked value. `readInputs` reads them all; what
 * depends on several inputs at once is checked afterwards by `readSettings`.
 */
import path from 'node:path';
import { parseRepository } from '../registry/reference.js';
import type { ImageRepository } from '../registry/reference.js';
import { parseOpenVex, type VexStatement } from '../policy/index.js';
import type { InputReader } from '../runner/host.js';
import {
  parseBuildContexts,
  parseBuilderName,
  parseBuildkitEndpoint,
  parseSecretFiles,
  parseSecrets,
  parseSsh,
  parseToolImage,
} from './build-inputs.js';
import { parseDeviceRun } from './device-run.js';
import { InputError } from './errors.js';
import {
  keyValueLines,
  lines,
  oneOf,
  parseBoolean,
  parseDuration,
  parseExistingFile,
  parseGrypeDbUrl,
  parseMaxDbAgeInput,
  parseMaxSize,
  parsePlatforms,
  parseRegistryHosts,
  parseSbomFormats,
  parseTags,
  parseToolVersion,
  parseUrl,
  parseWholeNumber,
} from './parsers.js';
import type { ParseContext } from './parsers.js';
import { SIGNATURE_FORMATS } from './settings.js';

export interface InputSpec<T> {
  /** The default action.yml documents; the parser gets it when the input is empty. */
  default?: string;
  /** A default action.yml gives as an expression the runner evaluates (e.g. `${{ github.token }}`). */
  runnerDefault?: string;
  /** Read as given (not trimmed) and never echoed in messages. */
  secret?: boolean;
  /** Masked in the job's log before anything else happens. */
  mask?: boolean;
  /** `id=value` lines: each value is masked on its own too. */
  maskValues?: boolean;
  parse: (value: string, ctx: ParseContext) => T;
}

const spec = <T>(s: InputSpec<T>): InputSpec<T> => s;
const text = spec({ parse: (v) => v || undefined });
const optional =
  <T>(parse: (v: string, ctx: ParseContext) => T) =>
  (v: string, ctx: ParseContext): T | undefined =>
    v ? parse(v, ctx) : undefined;

/** tonistiigi/binfmt pinned by digest: a floating `latest` broke QEMU for many (tonistiigi/binfmt#240). */
export const BINFMT_IMAGE =
  'docker.io/tonistiigi/binfmt:qemu-v7.0.0-28@sha256:66e11bea77a5ea9d6f0fe79b57cd2b189b5d15b93a2bdb925be22949232e4e55';
/** The BuildKit image of the docker-container builder Edgeship creates, pinned by digest (not buildx-stable-1). */
export const BUILDKIT_IMAGE =
  'docker.io/moby/buildkit:v0.31.2@sha256:2f5adac4ecd194d9f8c10b7b5d7bceb5186853db1b26e5abd3a657af0b7e26ec';

const REMOTE_CONTEXT = /^(https?:\/\/|git@|git:\/\/|ssh:\/\/)/;

export const INPUTS = {
  mode: spec({
    default: 'all',
    parse: (v) => oneOf('mode', v, ['all', 'build', 'publish', 'promote', 'check', 'rescan'] as const),
  }),
  from: spec({ parse: optional(parseFrom) }),
  'records-dir': spec({ parse: optional((v, c) => path.resolve(c.workspace, v)) }),
  'records-retention-days': spec({
    default: '7',
    parse: (v) => parseWholeNumber('records-retention-days', v, 1, 90, 'days'),
  }),
  image: spec({ parse: parseImage }),
  context: spec({ default: '.', parse: parseContext }),
  file: text,
  platforms: spec({ default: 'linux/amd64,linux/arm64', parse: parsePlatforms }),
  builder: spec({ default: 'buildx', parse: (v) => oneOf('builder', v, ['buildx', 'buildah'] as const) }),
  'build-args': spec({
    parse: (v) => keyValueLines('build-args', v, /^[A-Za-z_][A-Za-z0-9_]*$/, 'a build argument name'),
  }),
  labels: spec({
    parse: (v) =>
      Object.fromEntries(keyValueLines('labels', v, /^[A-Za-z0-9][A-Za-z0-9._\-/]*$/, 'a label key')),
  }),
  'cache-from': spec({ parse: lines }),
  'cache-to': spec({ parse: lines }),
  target: spec({ parse: optional(parseTarget) }),
  tags: spec({ parse: (v) => parseTags(v) }),
  registry: spec({ parse: optional(parseRegistry) }),
  'registry-username': text,
  'registry-password': spec({ secret: true, mask: true, parse: (v) => v || undefined }),
  'registry-ca-file': spec({
    parse: (v, c) =>
      parseExistingFile(
        'registry-ca-file',
        v,
        c,
        () => 'the path of a PEM file with the registry certificate authority',
      ),
  }),
  'insecure-registries': spec({ parse: (v) => parseRegistryHosts('insecure-registries', v) }),
  'registry-retry-budget': spec({
    default: '60s',
    parse: (v) => parseDuration('registry-retry-budget', v),
  }),
  qemu: spec({ default: 'auto', parse: parseQemu }),
  'binfmt-image': spec({ default: BINFMT_IMAGE, parse: (v) => parseToolImage('binfmt-image', v) }),
  'buildx-builder': spec({ parse: parseBuilderName }),
  'buildkit-image': spec({ default: BUILDKIT_IMAGE, parse: (v) => parseToolImage('buildkit-image', v) }),
  'buildkit-endpoint': spec({ parse: parseBuildkitEndpoint }),
  secrets: spec({ secret: true, mask: true, maskValues: true, parse: parseSecrets }),
  'secret-files': spec({ parse: parseSecretFiles }),
  ssh: spec({ parse: parseSsh }),
  'build-contexts': spec({ parse: parseBuildContexts }),
  annotations: spec({
    parse: (v) =>
      Object.fromEntries(
        keyValueLines('annotations', v, /^[A-Za-z0-9][A-Za-z0-9._\-/]*$/, 'an annotation key'),
      ),
  }),
  'no-cache': spec({ default: 'false', parse: (v) => parseBoolean('no-cache', v) }),
  pull: spec({ default: 'false', parse: (v) => parseBoolean('pull', v) }),
  'syft-version': spec({ default: 'default', parse: (v) => parseToolVersion('syft', v) }),
  'grype-version': spec({ default: 'default', parse: (v) => parseToolVersion('grype', v) }),
  'sbom-formats': spec({ default: 'spdx-json', parse: parseSbomFormats }),
  'max-db-age': spec({ default: '5d', parse: parseMaxDbAgeInput }),
  'grype-db-url': spec({ parse: parseGrypeDbUrl }),
  'scan-concurrency': spec({ default: '2', parse: (v) => parseWholeNumber('scan-concurrency', v, 1, 16) }),
  'scan-timeout': spec({ default: '15m', parse: (v) => parseDuration('scan-timeout', v) }),
  'allow-empty-sbom': spec({ default: 'false', parse: (v) => parseBoolean('allow-empty-sbom', v) }),
  'reports-dir': spec({ parse: optional((v, c) => path.resolve(c.workspace, v)) }),
  policy: spec({ parse: parsePolicyFile }),
  'fail-on': text,
  'only-fixed': text,
  'fail-on-kev': text,
  'epss-threshold': text,
  'max-image-size': text,
  'image-size-check': text,
  'non-root-check': text,
  'healthcheck-check': text,
  signing: spec({
    default: 'keyless',
    parse: (v) => oneOf('signing', v, ['keyless', 'key', 'off'] as const),
  }),
  'signing-key': spec({ mask: true, parse: (v) => v || undefined }),
  'signing-key-password': spec({ secret: true, mask: true, parse: (v) => v || undefined }),
  'fulcio-url': spec({ parse: (v) => parseUrl('fulcio-url', v) }),
  'rekor-url': spec({ parse: (v) => parseUrl('rekor-url', v) }),
  'tsa-url': spec({ parse: (v) => parseUrl('tsa-url', v, true) }),
  'trusted-root': spec({
    parse: (v, c) =>
      parseExistingFile('trusted-root', v, c, () => 'the path of a Sigstore trusted_root.json'),
  }),
  'signature-format': spec({
    default: 'both',
    parse: (v) => oneOf('signature-format', v, SIGNATURE_FORMATS),
  }),
  'certificate-identity': text,
  'certificate-oidc-issuer': text,
  overwrite: spec({ default: 'false', parse: (v) => parseBoolean('overwrite', v) }),
  'allow-downgrade': spec({ default: 'false', parse: (v) => parseBoolean('allow-downgrade', v) }),
  'release-assets': spec({
    default: 'auto',
    parse: (v) => oneOf('release-assets', v, ['auto', 'off'] as const),
  }),
  'deploy-templates': spec({ parse: parseTemplates }),
  vex: spec({ parse: parseVexFiles }),
  'github-attestations': spec({
    default: 'auto',
    parse: (v) => oneOf('github-attestations', v, ['auto', 'off', 'required'] as const),
  }),
  // Offline bundles (issue 12).
  'offline-bundles': spec({
    default: 'off',
    parse: (v) => oneOf('offline-bundles', v, ['off', 'full', 'delta', 'both'] as const),
  }),
  'offline-compression': spec({
    default: 'zstd',
    parse: (v) => oneOf('offline-compression', v, ['zstd', 'gzip'] as const),
  }),
  'offline-bundle-max-size': spec({ parse: optional((v) => parseMaxSize('offline-bundle-max-size', v)) }),
  'device-run': spec({ parse: parseDeviceRun }),
  'github-token': spec({ runnerDefault: '${{ github.token }}', mask: true, parse: (v) => v || undefined }),
  channels: spec({ default: 'production,staging', parse: (v) => parseTags(v, 'channels') }),
  'rescan-releases': spec({ default: '0', parse: (v) => parseWholeNumber('rescan-releases', v, 0, 50) }),
  'gitops-repository': spec({ parse: optional(parseGitOpsRepository) }),
  'gitops-paths': spec({ parse: lines }),
  'gitops-branch': spec({ default: 'main', parse: parseGitOpsBranch }),
  'gitops-token': spec({ secret: true, mask: true, parse: (v) => v || undefined }),
} as const;

export type InputName = keyof typeof INPUTS;
export type InputValues = { [K in InputName]: ReturnType<(typeof INPUTS)[K]['parse']> };

/** The defaults, as documented in action.yml (a test checks that both say the same). */
export const INPUT_DEFAULTS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(INPUTS).flatMap(([name, s]) =>
    'default' in s && s.default !== undefined ? [[name, s.default]] : [],
  ),
);

/** What action.yml must document as each input's default: the table's own, or the runner's expression. */
export function documentedDefault(name: InputName): string | undefined {
  const s: InputSpec<unknown> = INPUTS[name];
  return s.default ?? s.runnerDefault;
}

/** Masks every secret input as given (and trimmed), before anything could log it. */
export function maskSecretInputs(read: InputReader, setSecret: (value: string) => void): void {
  for (const [name, s] of Object.entries(INPUTS) as Array<[string, InputSpec<unknown>]>) {
    const value = read(name);
    if (s.mask && value.trim()) new Set([value, value.trim()]).forEach(setSecret);
    if (s.maskValues) {
      for (const line of value.split(/\r?\n/)) {
        const secret = line.slice(line.indexOf('=') + 1);
        if (line.includes('=') && secret.trim()) new Set([secret, secret.trim()]).forEach(setSecret);
      }
    }
  }
}

/** Reads and parses every input of the table, in its order; the first bad one throws its InputError. */
export function readInputs(read: InputReader, ctx: ParseContext): InputValues {
  const values: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(INPUTS) as Array<[string, InputSpec<unknown>]>) {
    const raw = s.secret ? read(name) : read(name).trim();
    values[name] = s.parse(raw === '' && s.default !== undefined ? s.default : raw, ctx);
  }
  return values as InputValues;
}

function parseImage(raw: string): ImageRepository {
  if (!raw) throw new InputError('image', '', 'an image repository such as ghcr.io/acme/agent');
  try {
    return parseRepository(raw);
  } catch (error) {
    throw new InputError(
      'image',
      raw,
      `an image repository without tag or digest, such as ghcr.io/acme/agent (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

/** The build context: a directory of the workspace, or a remote git URL (not checked here). */
function parseContext(raw: string, ctx: ParseContext): { path: string; remote: boolean } {
  if (REMOTE_CONTEXT.test(raw)) return { path: raw, remote: true };
  const resolved = path.resolve(ctx.workspace, raw);
  if (ctx.fileExists(resolved) !== 'directory') {
    throw new InputError(
      'context',
      raw,
      `a directory of the build context (resolved to ${resolved}, which does not exist)`,
    );
  }
  return { path: resolved, remote: false };
}

/** `from`: a tag or a digest of the image repository (the release to promote). */
function parseFrom(raw: string): string {
  const ref = raw.replace(/^@/, '');
  if (!/^sha256:[a-f0-9]{64}$/.test(ref) && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(ref)) {
    throw new InputError(
      'from',
      raw,
      'a tag (1.8.2-rc.3, staging) or a digest (sha256:<64 hex>) of the image repository, without the repository',
    );
  }
  return ref;
}

function parseTarget(raw: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(raw))
    throw new InputError('target', raw, 'the name of a build stage (letters, digits, . _ -)');
  return raw;
}

function parseRegistry(raw: string): string {
  if (/[/\s]/.test(raw) || raw.includes('://')) {
    throw new InputError(
      'registry',
      raw,
      'a registry host such as ghcr.io or registry.example.com:5000 (no scheme, no path)',
    );
  }
  return raw;
}

function parseQemu(raw: string): 'auto' | 'always' | 'off' {
  const aliases = { true: 'always', false: 'off', auto: 'auto', always: 'always', off: 'off' } as const;
  const value = raw.toLowerCase();
  if (!Object.hasOwn(aliases, value))
    throw new InputError(
      'qemu',
      value,
      'one of auto (emulate only platforms the runner cannot run), always, off',
    );
  return aliases[value as keyof typeof aliases];
}

function parsePolicyFile(raw: string, ctx: ParseContext): { path: string; text: string } | undefined {
  const resolved = parseExistingFile(
    'policy',
    raw,
    ctx,
    (p) => `the path of a policy YAML file (looked for ${p})`,
  );
  return resolved ? { path: raw, text: ctx.readText(resolved) } : undefined;
}

/** Template files (one per line) that exist and can be read as text. */
function parseTemplates(raw: string, ctx: ParseContext): string[] {
  return lines(raw).map((line) => {
    const file = path.resolve(ctx.workspace, line);
    const expected = 'files (one per line) of Kubernetes/K3s YAML or docker compose that exist';
    if (ctx.fileExists(file) !== 'file')
      throw new InputError('deploy-templates', path.relative(ctx.workspace, file), expected);
    let content: string;
    try {
      content = ctx.readText(file);
    } catch (error) {
      throw new InputError(
        'deploy-templates',
        line,
        `${expected} and can be read (${error instanceof Error ? error.message : String(error)})`,
      );
    }
    if (content.includes('\u0000'))
      throw new InputError('deploy-templates', line, `${expected} as text (this one is binary)`);
    return file;
  });
}

/** OpenVEX documents (one file per line), each read and checked against the OpenVEX specification. */
function parseVexFiles(raw: string, ctx: ParseContext): Array<{ file: string; statements: VexStatement[] }> {
  return lines(raw).map((line) => {
    const file = path.resolve(ctx.workspace, line);
    if (ctx.fileExists(file) !== 'file')
      throw new InputError('vex', line, `OpenVEX JSON files (one per line) that exist (looked for ${file})`);
    try {
      return { file, statements: parseOpenVex(ctx.readText(file), line) };
    } catch (error) {
      throw new InputError('vex', line, `an OpenVEX v0.2.0 JSON document: ${(error as Error).message}`);
    }
  });
}

/** The fleet repository: `owner/name` on this GitHub server, or a git URL (https://, http://, file://). */
function parseGitOpsRepository(raw: string): string {
  if (/^[\w.-]+\/[\w.-]+$/.test(raw) || /^(https?|file):\/\/\S+\/[\w.-]+\/[\w.-]+?(\.git)?\/?$/.test(raw))
    return raw;
  throw new InputError(
    'gitops-repository',
    raw,
    'the fleet repository as owner/name (e.g. acme/fleet) or a git URL ending in /owner/name(.git)',
  );
}

/** A branch name git accepts (no spaces, `..`, `~^:?*[\\`, leading `-`). */
function parseGitOpsBranch(raw: string): string {
  if (/^(?!-)(?!.*\.\.)[^\s~^:?*[\\]+(?<![/.])$/.test(raw)) return raw;
  throw new InputError(
    'gitops-branch',
    raw,
    'the branch of the fleet repository pull requests target, e.g. main',
  );
}
