/**
 * The buildah CLI: argv builders, all pure. Images are built in docker format because the OCI
 * image config has no HEALTHCHECK and buildah would drop it; later stages read it from the config.
 * Docker-format manifests carry no annotations, so the OCI metadata travels as labels.
 */

export interface BuildahBuildRequest {
  platform: string;
  /** Local name the built image gets in buildah's storage. */
  localName: string;
  context: string;
  file: string;
  buildArgs: Array<[string, string]>;
  labels: Record<string, string>;
  cacheFrom: string[];
  cacheTo: string[];
  target?: string;
  registryAccess: BuildahRegistryAccess;
  /** SOURCE_DATE_EPOCH: every file and the image get this time, so the same sources give the same digest. */
  timestamp?: number;
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
