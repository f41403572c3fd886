/**
 * The docker / buildx CLI: argv builders and output parsers, all pure.
 * Processes run through the exec seam elsewhere; nothing here touches the system.
 */

export interface BuildxBuildRequest {
  builder: string;
  platform: string;
  /** Repository to push to, e.g. ghcr.io/acme/agent (no tag). */
  imageName: string;
  context: string;
  file: string;
  metadataFile: string;
  buildArgs: Array<[string, string]>;
  labels: Record<string, string>;
  /** Annotations written on the platform manifest. */
  annotations: Record<string, string>;
  cacheFrom: string[];
  cacheTo: string[];
  target?: string;
  /** SOURCE_DATE_EPOCH, passed as the build argument BuildKit reads for reproducible timestamps. */
  sourceDateEpoch?: number;
}

export function binfmtInstallArgs(binfmtImage: string, architectures: readonly string[]): string[] {
  return ['run', '--privileged', '--rm', binfmtImage, '--install', architectures.join(',')];
}

/**
 * A docker-container builder on the host network (so it reaches registries on the runner's loopback,
 * such as a `registry:2` service), with a buildkitd config when some registries speak plain HTTP.
 */
export function createBuilderArgs(name: string, buildkitdConfig?: string): string[] {
  return [
    'buildx',
    'create',
    '--name',
    name,
    '--driver',
    'docker-container',
    '--driver-opt',
    'network=host',
    ...(buildkitdConfig ? ['--buildkitd-config', buildkitdConfig] : []),
    '--bootstrap',
  ];
}

/**
 * buildkitd.toml letting BuildKit reach registries over plain HTTP (`insecure`) and trust a registry's own
 * certificate authority (`caFiles`: host → PEM file).
 */
export function buildkitdConfigToml(
  insecure: readonly string[],
  caFiles: Record<string, string> = {},
): string {
  const hosts = [...new Set([...insecure, ...Object.keys(caFiles)])];
  return hosts
    .map((host) => {
      const lines = [`[registry."${host}"]`];
      if (insecure.includes(host)) lines.push('  http = true', '  insecure = true');
      if (caFiles[host]) lines.push(`  ca = [${JSON.stringify(caFiles[host])}]`);
      return `${lines.join('\n')}\n`;
    })
    .join('\n');
}

export function removeBuilderArgs(name: string): string[] {
  return ['buildx', 'rm', name];
}

/** `docker login`; the password goes to stdin, never into argv. */
export function dockerLoginArgs(registry: string, username: string): string[] {
  return ['login', '--username', username, '--password-stdin', registry];
}

export function dockerLogoutArgs(registry: string): string[] {
  return ['logout', registry];
}

/**
 * One single-platform build pushed by digest with no tag. Provenance and SBOM attestations from
 * BuildKit are switched off: Edgeship signs and attests the images itself, and an attestation
 * manifest would turn the pushed digest into an index.
 */
export function buildxBuildArgs(req: BuildxBuildRequest): string[] {
  const args = [
    'buildx',
    'build',
    '--builder',
    req.builder,
    '--platform',
    req.platform,
    '--file',
    req.file,
    '--metadata-file',
    req.metadataFile,
    '--provenance=false',
    '--sbom=false',
    '--output',
    `type=image,name=${req.imageName},push-by-digest=true,name-canonical=true,push=true` +
      (req.sourceDateEpoch !== undefined ? ',rewrite-timestamp=true' : ''),
  ];
  for (const [key, value] of req.buildArgs) args.push('--build-arg', `${key}=${value}`);
  if (req.sourceDateEpoch !== undefined) args.push('--build-arg', `SOURCE_DATE_EPOCH=${req.sourceDateEpoch}`);
  for (const [key, value] of Object.entries(req.labels)) args.push('--label', `${key}=${value}`);
  for (const [key, value] of Object.entries(req.annotations))
    args.push('--annotation', `manifest:${key}=${value}`);
  for (const from of req.cacheFrom) args.push('--cache-from', from);
  for (const to of req.cacheTo) args.push('--cache-to', to);
  if (req.target) args.push('--target', req.target);
  args.push(req.context);
  return args;
}

export interface BuildxMetadata {
  /** Digest of what was pushed: a platform manifest, or an index when BuildKit added attestations. */
  digest: string;
  configDigest?: string;
  mediaType?: string;
  size?: number;
}

/** Reads the `--metadata-file` buildx writes; throws when it carries no pushed digest. */
export function parseBuildxMetadata(text: string): BuildxMetadata {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('the buildx metadata file is not JSON; the build probably did not finish');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new Error('the buildx metadata file is not a JSON object');
  }
  const record = doc as Record<string, unknown>;
  const digest = record['containerimage.digest'];
  if (typeof digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw new Error(
      'the buildx metadata file has no "containerimage.digest": the image was not pushed (is the builder a docker-container builder?)',
    );
  }
  const result: BuildxMetadata = { digest };
  const configDigest = record['containerimage.config.digest'];
  if (typeof configDigest === 'string') result.configDigest = configDigest;
  const descriptor = record['containerimage.descriptor'];
  if (descriptor && typeof descriptor === 'object') {
    const d = descriptor as Record<string, unknown>;
    if (typeof d.mediaType === 'string') result.mediaType = d.mediaType;
    if (typeof d.size === 'number') result.size = d.size;
  }
  return result;
}
