import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { formatPlatform, parsePlatform, PlatformError, PLATFORM_FORM, splitList } from '../image/platform.js';
import type { Platform } from '../image/platform.js';
import { formatRepository, isValidTag, parseRepository } from '../registry/reference.js';
import type { ImageRepository } from '../registry/reference.js';
import type { InputReader } from '../runner/host.js';
import type { PolicyInputs } from '../policy/index.js';
import { parseMaxDbAge } from '../scan/grype-db.js';
import type { SbomFormat } from '../scan/syft.js';
import { parseSbomFormats } from '../scan/syft.js';
import { parseVersionInput } from '../tools/install.js';

export type BuilderKind = 'buildx' | 'buildah';
/** all: build, gate and publish in one job; build: this job's platforms only (matrix); publish: merge the build jobs. */
export type RunMode = 'all' | 'build' | 'publish';
export type QemuMode = 'auto' | 'always' | 'off';

/** Everything the action was asked to do, read once from the step's inputs and validated. */
export interface Settings {
  mode: RunMode;
  image: ImageRepository;
  /** `host/path` of the image repository, as shown to users. */
  imageName: string;
  context: string;
  /** Path of the Dockerfile/Containerfile. */
  file: string;
  platforms: Platform[];
  builder: BuilderKind;
  buildArgs: Array<[string, string]>;
  labels: Record<string, string>;
  cacheFrom: string[];
  cacheTo: string[];
  target?: string;
  /** Extra tags asked for on top of the release tags. */
  tags: string[];
  /** Registry host the credentials are for (defaults to the image's registry). */
  registry: string;
  registryUsername?: string;
  registryPassword?: string;
  /** PEM file of an extra certificate authority trusted for the registry. */
  registryCaFile?: string;
  /** Registries that may be reached over plain HTTP. Loopback registries always may. */
  insecureRegistries: string[];
  qemu: QemuMode;
  binfmtImage: string;
  githubToken?: string;
  gate: GateSettings;
  publish: PublishSettings;
  /** Directory for build records (mode build/publish) instead of workflow artifacts. */
  recordsDir?: string;
  /** Days build-record artifacts are kept (a publish job must run within them). */
  recordsRetentionDays: number;
  /** Policy settings as given (the policy is resolved and validated by the policy module). */
  policy: PolicyInputs;
}

export type SigningMode = 'keyless' | 'key' | 'off';

/** How the gated release is published, signed and verified. */
export interface PublishSettings {
  signing: SigningMode;
  /** PEM private key (signing: key). */
  signingKey?: string;
  signingKeyPassword?: string;
  fulcioUrl?: string;
  rekorUrl?: string;
  /** Timestamp authority; `off` for none. */
  tsaUrl?: string;
  /** trusted_root.json to verify against; default: the Sigstore public-good root through TUF. */
  trustedRootFile?: string;
  /** Expected certificate identity (exact, or a /regex/); default: the identity the run signed with. */
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
  overwrite: boolean;
  allowDowngrade: boolean;
  releaseAssets: 'auto' | 'off';
  /** Kubernetes/K3s/compose files whose references to the image are pinned to the index digest. */
  deployTemplates: string[];
}

/** How the supply-chain gate scans. */
export interface GateSettings {
  /** `default`, `path` or a version, per tool. */
  syftVersion: string;
  grypeVersion: string;
  sbomFormats: SbomFormat[];
  /** The max-db-age input as given (e.g. `5d`); validated here. */
  maxDbAge: string;
  scanConcurrency: number;
  scanTimeoutMs: number;
  allowEmptySbom: boolean;
  /** Directory the SBOMs, reports and SARIF files are written to. */
  reportsDir?: string;
}

/** The defaults, as documented in action.yml (a test checks that both say the same). */
export const INPUT_DEFAULTS = {
  mode: 'all',
  context: '.',
  platforms: 'linux/amd64,linux/arm64',
  builder: 'buildx',
  qemu: 'auto',
  'binfmt-image': 'docker.io/tonistiigi/binfmt:latest',
  'syft-version': 'default',
  'grype-version': 'default',
  'sbom-formats': 'spdx-json',
  'max-db-age': '5d',
  'scan-concurrency': '2',
  'scan-timeout': '15m',
  'allow-empty-sbom': 'false',
  signing: 'keyless',
  overwrite: 'false',
  'allow-downgrade': 'false',
  'release-assets': 'auto',
  'records-retention-days': '7',
} as const;

export class InputError extends Error {
  override name = 'InputError';
  constructor(
    readonly input: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(
      `Input "${input}": ${value === '' ? 'no value was given' : `"${value}" is not valid`}; expected ${expected}`,
    );
  }
}

export interface SettingsEnvironment {
  /** Working directory relative paths resolve against (GITHUB_WORKSPACE). */
  workspace: string;
  fileExists?: (p: string) => 'file' | 'directory' | 'missing';
  /** Reads a text file (the policy file); defaults to fs. */
  readText?: (p: string) => string;
}

const defaultFileExists = (p: string): 'file' | 'directory' | 'missing' => {
  if (!existsSync(p)) return 'missing';
  return statSync(p).isDirectory() ? 'directory' : 'file';
};

const REMOTE_CONTEXT = /^(https?:\/\/|git@|git:\/\/|ssh:\/\/)/;

export function readSettings(read: InputReader, env: SettingsEnvironment): Settings {
  const input = (name: string): string => read(name).trim();
  const withDefault = (name: keyof typeof INPUT_DEFAULTS): string => input(name) || INPUT_DEFAULTS[name];
  const fileExists = env.fileExists ?? defaultFileExists;

  const imageRaw = input('image');
  if (!imageRaw) throw new InputError('image', '', 'an image repository such as ghcr.io/acme/agent');
  let image: ImageRepository;
  try {
    image = parseRepository(imageRaw);
  } catch (error) {
    throw new InputError(
      'image',
      imageRaw,
      `an image repository without tag or digest, such as ghcr.io/acme/agent (${message(error)})`,
    );
  }

  const contextRaw = withDefault('context');
  const remote = REMOTE_CONTEXT.test(contextRaw);
  const context = remote ? contextRaw : path.resolve(env.workspace, contextRaw);
  if (!remote && fileExists(context) !== 'directory') {
    throw new InputError(
      'context',
      contextRaw,
      `a directory of the build context (resolved to ${context}, which does not exist)`,
    );
  }
  const fileRaw = input('file');
  const file = fileRaw
    ? path.resolve(env.workspace, fileRaw)
    : remote
      ? 'Dockerfile'
      : path.join(context, 'Dockerfile');
  if (!(remote && !fileRaw) && fileExists(file) !== 'file') {
    throw new InputError(
      'file',
      fileRaw || path.relative(env.workspace, file) || file,
      `a Dockerfile or Containerfile that exists (looked for ${file}); set "file" or "context"`,
    );
  }

  const platforms = readPlatforms(withDefault('platforms'));

  const builder = oneOf('builder', withDefault('builder'), ['buildx', 'buildah'] as const);
  const qemuRaw = withDefault('qemu').toLowerCase();
  const qemuAliases: Record<string, QemuMode> = {
    true: 'always',
    false: 'off',
    auto: 'auto',
    always: 'always',
    off: 'off',
  };
  const qemu = qemuAliases[qemuRaw];
  if (!qemu)
    throw new InputError(
      'qemu',
      qemuRaw,
      'one of auto (emulate only platforms the runner cannot run), always, off',
    );

  const buildArgs = keyValueLines(
    'build-args',
    read('build-args'),
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    'a build argument name',
  );
  const labels = Object.fromEntries(
    keyValueLines('labels', read('labels'), /^[A-Za-z0-9][A-Za-z0-9._\-/]*$/, 'a label key'),
  );

  const tags = splitList(read('tags'));
  for (const tag of tags) {
    if (!isValidTag(tag)) {
      throw new InputError(
        'tags',
        tag,
        'tag names (letters, digits, _ . -, not starting with . or -, at most 128 characters), comma or newline separated',
      );
    }
  }

  const target = input('target') || undefined;
  if (target !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(target)) {
    throw new InputError('target', target, 'the name of a build stage (letters, digits, . _ -)');
  }

  const registry = input('registry') || image.registry;
  if (/[/\s]/.test(registry) || registry.includes('://')) {
    throw new InputError(
      'registry',
      registry,
      'a registry host such as ghcr.io or registry.example.com:5000 (no scheme, no path)',
    );
  }
  const registryUsername = input('registry-username') || undefined;
  const registryPassword = read('registry-password') || undefined;
  if (registryPassword !== undefined && registryUsername === undefined) {
    throw new InputError('registry-username', '', 'a user name whenever registry-password is set');
  }
  if (registryUsername !== undefined && registryPassword === undefined) {
    throw new InputError('registry-password', '', 'a password or token whenever registry-username is set');
  }

  const caRaw = input('registry-ca-file');
  const registryCaFile = caRaw ? path.resolve(env.workspace, caRaw) : undefined;
  if (registryCaFile && fileExists(registryCaFile) !== 'file') {
    throw new InputError(
      'registry-ca-file',
      caRaw,
      'the path of a PEM file with the registry certificate authority',
    );
  }

  const insecureRegistries = splitList(read('insecure-registries'));
  for (const host of insecureRegistries) {
    if (/[/\s]/.test(host))
      throw new InputError(
        'insecure-registries',
        host,
        'registry hosts such as registry.lan:5000, comma or newline separated',
      );
  }

  const gate = readGateSettings(input, withDefault, env.workspace);
  const publish = readPublishSettings(read, input, withDefault, env.workspace, fileExists);
  const policy = readPolicyInputs(read, env, fileExists);

  return {
    mode: oneOf('mode', withDefault('mode'), ['all', 'build', 'publish'] as const),
    image,
    imageName: formatRepository(image),
    context,
    file,
    platforms,
    builder,
    buildArgs,
    labels,
    cacheFrom: lines(read('cache-from')),
    cacheTo: lines(read('cache-to')),
    ...(target ? { target } : {}),
    tags,
    registry,
    ...(registryUsername ? { registryUsername } : {}),
    ...(registryPassword ? { registryPassword } : {}),
    ...(registryCaFile ? { registryCaFile } : {}),
    insecureRegistries,
    qemu,
    binfmtImage: withDefault('binfmt-image'),
    ...(read('github-token').trim() ? { githubToken: read('github-token').trim() } : {}),
    gate,
    publish,
    ...(input('records-dir') ? { recordsDir: path.resolve(env.workspace, input('records-dir')) } : {}),
    recordsRetentionDays: readRetention(withDefault('records-retention-days')),
    policy,
  };
}

function readPublishSettings(
  read: InputReader,
  input: (name: string) => string,
  withDefault: (name: keyof typeof INPUT_DEFAULTS) => string,
  workspace: string,
  fileExists: (p: string) => 'file' | 'directory' | 'missing',
): PublishSettings {
  const signing = oneOf('signing', withDefault('signing'), ['keyless', 'key', 'off'] as const);
  const signingKey = read('signing-key').trim() || undefined;
  if (signing === 'key' && !signingKey) {
    throw new InputError(
      'signing-key',
      '',
      'a PEM private key (e.g. ${{ secrets.EDGESHIP_SIGNING_KEY }}) when signing is key',
    );
  }
  if (signingKey && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(signingKey)) {
    throw new InputError(
      'signing-key',
      '(hidden)',
      'a PEM private key (-----BEGIN PRIVATE KEY----- or ENCRYPTED PRIVATE KEY)',
    );
  }
  const url = (name: string): string | undefined => {
    const value = input(name);
    if (!value) return undefined;
    if (name === 'tsa-url' && value === 'off') return value;
    if (!/^https?:\/\/[^\s/]+/.test(value))
      throw new InputError(name, value, 'an http(s) URL such as https://fulcio.sigstore.dev');
    return value.replace(/\/+$/, '');
  };
  const trustedRaw = input('trusted-root');
  const trustedRootFile = trustedRaw ? path.resolve(workspace, trustedRaw) : undefined;
  if (trustedRootFile && fileExists(trustedRootFile) !== 'file') {
    throw new InputError('trusted-root', trustedRaw, 'the path of a Sigstore trusted_root.json');
  }
  const templates = lines(read('deploy-templates')).map((t) => path.resolve(workspace, t));
  for (const t of templates) {
    if (fileExists(t) !== 'file') {
      throw new InputError(
        'deploy-templates',
        path.relative(workspace, t),
        'files (one per line) of Kubernetes/K3s YAML or docker compose that exist',
      );
    }
  }
  const settings: PublishSettings = {
    signing,
    overwrite: parseBoolean('overwrite', withDefault('overwrite')),
    allowDowngrade: parseBoolean('allow-downgrade', withDefault('allow-downgrade')),
    releaseAssets: oneOf('release-assets', withDefault('release-assets'), ['auto', 'off'] as const),
    deployTemplates: templates,
  };
  if (signingKey) settings.signingKey = signingKey;
  const password = read('signing-key-password');
  if (password) settings.signingKeyPassword = password;
  const fulcio = url('fulcio-url');
  if (fulcio) settings.fulcioUrl = fulcio;
  const rekor = url('rekor-url');
  if (rekor) settings.rekorUrl = rekor;
  const tsa = url('tsa-url');
  if (tsa) settings.tsaUrl = tsa;
  if (trustedRootFile) settings.trustedRootFile = trustedRootFile;
  const ownSigstore = (['fulcio-url', 'rekor-url', 'tsa-url'] as const).find(
    (name) => input(name) && input(name) !== 'off' && !isPublicSigstore(input(name)),
  );
  if (ownSigstore && signing !== 'off' && !trustedRootFile) {
    throw new InputError(
      'trusted-root',
      '',
      `the trusted_root.json of your Sigstore instance whenever ${ownSigstore} points at it (${input(ownSigstore)}); ` +
        'without it the signatures are checked against the public-good root and fail',
    );
  }
  const identity = input('certificate-identity');
  if (identity) settings.certificateIdentity = identity;
  const issuer = input('certificate-oidc-issuer');
  if (issuer) settings.certificateOidcIssuer = issuer;
  return settings;
}

function readGateSettings(
  input: (name: string) => string,
  withDefault: (name: keyof typeof INPUT_DEFAULTS) => string,
  workspace: string,
): GateSettings {
  const syftVersion = withDefault('syft-version');
  const grypeVersion = withDefault('grype-version');
  parseVersionInput('syft', syftVersion);
  parseVersionInput('grype', grypeVersion);
  const maxDbAge = withDefault('max-db-age');
  parseMaxDbAge(maxDbAge);
  const concurrencyRaw = withDefault('scan-concurrency');
  const scanConcurrency = Number(concurrencyRaw);
  if (!/^\d+$/.test(concurrencyRaw) || scanConcurrency < 1 || scanConcurrency > 16) {
    throw new InputError('scan-concurrency', concurrencyRaw, 'a whole number from 1 to 16');
  }
  const reportsDir = input('reports-dir');
  return {
    syftVersion,
    grypeVersion,
    sbomFormats: parseSbomFormats(withDefault('sbom-formats')),
    maxDbAge,
    scanConcurrency,
    scanTimeoutMs: parseDuration('scan-timeout', withDefault('scan-timeout')),
    allowEmptySbom: parseBoolean('allow-empty-sbom', withDefault('allow-empty-sbom')),
    ...(reportsDir ? { reportsDir: path.resolve(workspace, reportsDir) } : {}),
  };
}

function readPolicyInputs(
  read: InputReader,
  env: SettingsEnvironment,
  fileExists: (p: string) => 'file' | 'directory' | 'missing',
): PolicyInputs {
  const value = (name: string) => read(name).trim() || undefined;
  const policyPath = value('policy');
  let policyFile: PolicyInputs['policyFile'];
  if (policyPath) {
    const resolved = path.resolve(env.workspace, policyPath);
    if (fileExists(resolved) !== 'file') {
      throw new InputError('policy', policyPath, `the path of a policy YAML file (looked for ${resolved})`);
    }
    policyFile = {
      path: policyPath,
      text: (env.readText ?? ((p: string) => readFileSync(p, 'utf8')))(resolved),
    };
  }
  const inputs: PolicyInputs = {};
  if (policyFile) inputs.policyFile = policyFile;
  const map: Array<[keyof Omit<PolicyInputs, 'policyFile'>, string]> = [
    ['failOn', 'fail-on'],
    ['onlyFixed', 'only-fixed'],
    ['failOnKev', 'fail-on-kev'],
    ['epssThreshold', 'epss-threshold'],
    ['maxImageSize', 'max-image-size'],
    ['imageSizeCheck', 'image-size-check'],
    ['nonRootCheck', 'non-root-check'],
    ['healthcheckCheck', 'healthcheck-check'],
  ];
  for (const [key, name] of map) {
    const v = value(name);
    if (v !== undefined) inputs[key] = v;
  }
  return inputs;
}

function readRetention(raw: string): number {
  const days = Number(raw);
  if (!/^\d+$/.test(raw) || days < 1 || days > 90) {
    throw new InputError('records-retention-days', raw, 'a whole number of days from 1 to 90');
  }
  return days;
}

function isPublicSigstore(url: string): boolean {
  return /^https:\/\/(fulcio|rekor|timestamp)\.sigstore\.dev\/?/.test(url);
}

/** `true`/`false` (any case); anything else names the input. */
export function parseBoolean(name: string, raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InputError(name, raw, 'true or false');
}

/** `90s`, `15m`, `1h` (or plain seconds) → milliseconds. */
export function parseDuration(name: string, raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/i.exec(raw.trim());
  const amount = match ? Number(match[1]) : NaN;
  if (!match || !(amount > 0)) throw new InputError(name, raw, 'a duration such as 90s, 15m or 1h');
  const unit = (match[2] ?? 's').toLowerCase();
  return amount * (unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : 1000);
}

function readPlatforms(raw: string): Platform[] {
  const items = splitList(raw);
  if (items.length === 0) throw new InputError('platforms', raw, `one or more platforms, ${PLATFORM_FORM}`);
  const seen = new Set<string>();
  return items.map((item) => {
    let platform: Platform;
    try {
      platform = parsePlatform(item);
    } catch (error) {
      if (error instanceof PlatformError) throw new InputError('platforms', item, PLATFORM_FORM);
      throw error;
    }
    const key = formatPlatform(platform);
    if (seen.has(key)) throw new InputError('platforms', item, `each platform once (${key} is listed twice)`);
    seen.add(key);
    return platform;
  });
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  const lower = value.toLowerCase();
  const hit = allowed.find((a) => a === lower);
  if (!hit) throw new InputError(name, value, `one of ${allowed.join(', ')}`);
  return hit;
}

/** Non-empty lines of a multi-line input; lines starting with # are comments. */
function lines(raw: string): string[] {
  return raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

function keyValueLines(
  name: string,
  raw: string,
  keyPattern: RegExp,
  keyWhat: string,
): Array<[string, string]> {
  return lines(raw).map((line) => {
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq).trim();
    if (eq <= 0 || !keyPattern.test(key)) {
      throw new InputError(name, line, `one KEY=VALUE per line, KEY being ${keyWhat}`);
    }
    return [key, line.slice(eq + 1)];
  });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
