/**
 * The buildah CLI: argv builders and output parsers (pure), and the buildah runs a build needs. Images
 * are built in docker format because the OCI image config has no HEALTHCHECK and buildah would drop it;
 * later stages read it from the config. Docker-format manifests carry no annotations, so the OCI
 * metadata travels as labels.
 */
import type { PhaseLog } from '../logging/phase-log.js';
import type { Exec, ExecResult } from '../process/exec.js';
import { describeFailure } from '../process/exec.js';
import { BuildError, failIfNonZero, secretEnvironment, secretEnvName } from './builder.js';

export interface BuildahBuildRequest {
  platform: string;
  /** Local name the built image gets in buildah's storage. */
  localName: string;
  context: string;
  file: string;
  buildArgs: ReadonlyArray<[string, string]>;
  labels: Record<string, string>;
  cacheFrom: readonly string[];
  cacheTo: readonly string[];
  target?: string;
  registryAccess: BuildahRegistryAccess;
  /** SOURCE_DATE_EPOCH: every file and the image get this time, so the same sources give the same digest. */
  timestamp?: number;
  /** Build secrets `[id, value]`: argv names an environment variable only (see `secretEnvironment`). */
  secrets?: ReadonlyArray<[string, string]>;
  secretFiles?: ReadonlyArray<[string, string]>;
  ssh?: readonly string[];
  buildContexts?: ReadonlyArray<[string, string]>;
  noCache?: boolean;
  pull?: boolean;
}

/** How buildah reaches registries (for FROM pulls and cache). */
export interface BuildahRegistryAccess {
  authFile?: string;
  certDir?: string;
  tlsVerify: boolean;
}

function registryAccessArgs(access: BuildahRegistryAccess): string[] {
  const args: string[] = [];
  if (access.authFile) args.push('--authfile', access.authFile);
  if (access.certDir) args.push('--cert-dir', access.certDir);
  if (!access.tlsVerify) args.push('--tls-verify=false');
  return args;
}

export function buildahBuildArgs(req: BuildahBuildRequest): string[] {
  const args = [
    'build',
    '--platform',
    req.platform,
    '--format',
    'docker',
    '--file',
    req.file,
    '--tag',
    req.localName,
    ...registryAccessArgs(req.registryAccess),
    ...(req.timestamp !== undefined ? ['--timestamp', String(req.timestamp)] : []),
  ];
  for (const [key, value] of req.buildArgs) args.push('--build-arg', `${key}=${value}`);
  for (const [key, value] of Object.entries(req.labels)) args.push('--label', `${key}=${value}`);
  if (req.cacheFrom.length || req.cacheTo.length) args.push('--layers');
  for (const from of req.cacheFrom) args.push('--cache-from', from);
  for (const to of req.cacheTo) args.push('--cache-to', to);
  if (req.target) args.push('--target', req.target);
  (req.secrets ?? []).forEach(([id], i) =>
    args.push('--secret', `id=${id},src=${secretEnvName(i)},type=env`),
  );
  for (const [id, file] of req.secretFiles ?? []) args.push('--secret', `id=${id},src=${file}`);
  for (const ssh of req.ssh ?? []) args.push('--ssh', ssh);
  for (const [name, value] of req.buildContexts ?? []) args.push('--build-context', `${name}=${value}`);
  if (req.noCache) args.push('--no-cache');
  if (req.pull) args.push('--pull=always');
  args.push(req.context);
  return args;
}

/**
 * Pushes the built image into an OCI layout directory, keeping the docker v2s2 manifest (so the
 * config keeps HEALTHCHECK) and writing the manifest digest to `digestFile`. The registry client then
 * uploads that layout by digest, so no tag is ever created in the registry.
 */
export function buildahPushToLayoutArgs(
  localName: string,
  layoutDir: string,
  layoutTag: string,
  digestFile: string,
): string[] {
  return ['push', '--format', 'v2s2', '--digestfile', digestFile, localName, `oci:${layoutDir}:${layoutTag}`];
}

export function buildahRemoveImagesArgs(localNames: readonly string[]): string[] {
  return ['rmi', '--force', ...localNames];
}

/** `buildah --version` → `1.28.2`. */
export function parseBuildahVersion(stdout: string): string | undefined {
  return /version\s+(\d+\.\d+\.\d+)/i.exec(stdout)?.[1];
}

/** The digest `buildah push --digestfile` wrote, or undefined when it is not one. */
export function parseDigestFile(text: string | undefined): string | undefined {
  const digest = text?.trim();
  return digest && /^sha256:[a-f0-9]{64}$/.test(digest) ? digest : undefined;
}

/** `buildah --version`; explains how to install buildah when it is missing. */
export async function buildahVersion(exec: Exec): Promise<string> {
  const version = await exec('buildah', ['--version']);
  if (version.exitCode !== 0 || version.failure) {
    throw new BuildError(
      `builder "buildah" needs buildah on PATH (${describeFailure('buildah', version, 3)}). ` +
        'Install it (apt-get install buildah) or set builder: buildx.',
    );
  }
  return parseBuildahVersion(version.stdout) ?? version.stdout;
}

/** Builds one platform into buildah's local storage as `req.localName`. */
export async function buildahBuild(exec: Exec, req: BuildahBuildRequest, log: PhaseLog): Promise<void> {
  const args = buildahBuildArgs(req);
  log.debug(`buildah ${args.join(' ')}`);
  const built = await exec('buildah', args, {
    onLine: (line) => log.info(line),
    env: secretEnvironment(req.secrets),
  });
  failIfNonZero(`building ${req.platform} with buildah`, 'buildah', built);
}

/** Exports a built image to an OCI layout; returns the manifest digest buildah wrote. */
export async function buildahPushToLayout(
  exec: Exec,
  req: { localName: string; layoutDir: string; layoutTag: string; digestFile: string; platform: string },
  readText: (file: string) => string | undefined,
): Promise<string> {
  const pushed = await exec(
    'buildah',
    buildahPushToLayoutArgs(req.localName, req.layoutDir, req.layoutTag, req.digestFile),
  );
  failIfNonZero(`exporting the ${req.platform} image`, 'buildah', pushed);
  const digest = parseDigestFile(readText(req.digestFile));
  if (!digest) throw new BuildError(`buildah push wrote no manifest digest to ${req.digestFile}`);
  return digest;
}

/** Post step: removes the local images this run built. */
export function removeBuildahImages(exec: Exec, localNames: readonly string[]): Promise<ExecResult> {
  return exec('buildah', buildahRemoveImagesArgs(localNames));
}
