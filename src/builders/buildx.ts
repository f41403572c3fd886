/**
 * The docker / buildx CLI: argv builders and output parsers (pure), and the docker runs a buildx build
 * needs (version check, login, builder instance, build, and the post step's logout and removal).
 */
import type { PhaseLog } from '../logging/phase-log.js';
import type { Exec, ExecResult } from '../process/exec.js';
import { describeFailure } from '../process/exec.js';
import { BuildError, failIfNonZero, secretEnvironment, secretEnvName } from './builder.js';

export interface BuildxBuildRequest {
  builder: string;
  platform: string;
  /** Repository to push to, e.g. ghcr.io/acme/agent (no tag). */
  imageName: string;
  context: string;
  file: string;
  metadataFile: string;
  buildArgs: ReadonlyArray<[string, string]>;
  labels: Record<string, string>;
  /** Annotations written on the platform manifest. */
  annotations: Record<string, string>;
  cacheFrom: readonly string[];
  cacheTo: readonly string[];
  target?: string;
  /** SOURCE_DATE_EPOCH, passed as the build argument BuildKit reads for reproducible timestamps. */
  sourceDateEpoch?: number;
  /** Export to this OCI layout directory instead of pushing (the `docker` driver cannot push by digest). */
  ociLayoutDir?: string;
  /** Build secrets `[id, value]`: argv names only an environment variable, the value goes in `secretEnvironment`. */
  secrets?: ReadonlyArray<[string, string]>;
  secretFiles?: ReadonlyArray<[string, string]>;
  ssh?: readonly string[];
  buildContexts?: ReadonlyArray<[string, string]>;
  noCache?: boolean;
  pull?: boolean;
}

/** How Edgeship reaches the builder: one it creates (docker-container or remote), or one that exists. */
export type BuildxBuilderPlan =
  | { kind: 'create'; name: string; image: string; buildkitdConfig?: string }
  | { kind: 'remote'; name: string; endpoint: string }
  | { kind: 'existing'; name: string };

/**
 * A docker-container builder on the host network (so it reaches registries on the runner's loopback,
 * such as a `registry:2` service), with a buildkitd config when some registries speak plain HTTP.
 */
export function createBuilderArgs(name: string, buildkitdConfig?: string, image?: string): string[] {
  return [
    'buildx',
    'create',
    '--name',
    name,
    '--driver',
    'docker-container',
    '--driver-opt',
    'network=host',
    ...(image ? ['--driver-opt', `image=${image}`] : []),
    ...(buildkitdConfig ? ['--buildkitd-config', buildkitdConfig] : []),
    '--bootstrap',
  ];
}

/** A builder on a BuildKit daemon that runs elsewhere (buildx's `remote` driver). */
export function createRemoteBuilderArgs(name: string, endpoint: string): string[] {
  return ['buildx', 'create', '--name', name, '--driver', 'remote', endpoint, '--bootstrap'];
}

export function inspectBuilderArgs(name: string): string[] {
  return ['buildx', 'inspect', name];
}

/** The driver `docker buildx inspect` names (`docker`, `docker-container`, `remote`, `kubernetes`). */
export function parseBuilderDriver(stdout: string): string | undefined {
  return /^Driver:\s+(\S+)/m.exec(stdout)?.[1];
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
      // BuildKit speaks plain HTTP to loopback hosts unless told otherwise: a TLS one must say `http = false`.
      lines.push(...(insecure.includes(host) ? ['  http = true', '  insecure = true'] : ['  http = false']));
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
    (req.ociLayoutDir
      ? `type=oci,dest=${req.ociLayoutDir},tar=false`
      : `type=image,name=${req.imageName},push-by-digest=true,name-canonical=true,push=true`) +
      (req.sourceDateEpoch !== undefined ? ',rewrite-timestamp=true' : ''),
  ];
  (req.secrets ?? []).forEach(([id], i) => args.push('--secret', `id=${id},env=${secretEnvName(i)}`));
  for (const [id, file] of req.secretFiles ?? []) args.push('--secret', `id=${id},src=${file}`);
  for (const ssh of req.ssh ?? []) args.push('--ssh', ssh);
  for (const [name, value] of req.buildContexts ?? []) args.push('--build-context', `${name}=${value}`);
  if (req.noCache) args.push('--no-cache');
  if (req.pull) args.push('--pull');
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

/** `docker buildx version`; explains what to do when Docker or the buildx plugin is missing. */
export async function checkBuildx(exec: Exec): Promise<void> {
  const version = await exec('docker', ['buildx', 'version']);
  if (version.exitCode !== 0) {
    throw new BuildError(
      `builder "buildx" needs Docker with the buildx plugin (docker buildx version: ${describeFailure('docker', version, 3)}). ` +
        'Use a GitHub-hosted runner, install buildx, or set builder: buildah.',
    );
  }
}

/** `docker login` with the password on stdin. */
export async function dockerLogin(
  exec: Exec,
  registry: string,
  username: string,
  password: string,
): Promise<void> {
  const login = await exec('docker', dockerLoginArgs(registry, username), { input: password });
  if (login.exitCode !== 0) {
    throw new BuildError(
      `docker login to ${registry} as ${username} failed: ${describeFailure('docker', login, 3)}. ` +
        (/x509|certificate/i.test(login.stderr)
          ? `The Docker daemon does not trust the certificate of ${registry}: put its CA at ` +
            `/etc/docker/certs.d/${registry}/ca.crt on the runner, or use builder: buildah (it uses registry-ca-file).`
          : 'Check registry-username and registry-password.'),
    );
  }
}

/** Creates and boots the builder a plan asks for (nothing for an existing one); returns the builder's driver. */
export async function prepareBuildxBuilder(
  exec: Exec,
  plan: BuildxBuilderPlan,
  log: PhaseLog,
): Promise<string> {
  if (plan.kind !== 'existing') {
    const args =
      plan.kind === 'remote'
        ? createRemoteBuilderArgs(plan.name, plan.endpoint)
        : createBuilderArgs(plan.name, plan.buildkitdConfig, plan.image);
    const created = await exec('docker', args, { onLine: (line) => log.info(line) });
    failIfNonZero(`creating the buildx builder ${plan.name}`, 'docker', created);
    return plan.kind === 'remote' ? 'remote' : 'docker-container';
  }
  const inspected = await exec('docker', inspectBuilderArgs(plan.name));
  const driver = inspected.exitCode === 0 ? parseBuilderDriver(inspected.stdout) : undefined;
  if (!driver) {
    throw new BuildError(
      `buildx-builder "${plan.name}" is not a builder here (docker buildx inspect: ${describeFailure('docker', inspected, 3)}). ` +
        'List the builders with docker buildx ls, or leave buildx-builder empty to let Edgeship create one.',
    );
  }
  return driver;
}

/** Runs one `docker buildx build`, its secrets in the environment; fails with BuildKit's own error line. */
async function runBuildxBuild(exec: Exec, req: BuildxBuildRequest, log: PhaseLog): Promise<void> {
  const args = buildxBuildArgs(req);
  log.debug(`docker ${args.join(' ')}`);
  const result = await exec('docker', args, {
    onLine: (line) => log.info(line),
    env: secretEnvironment(req.secrets),
  });
  failIfNonZero(`building ${req.platform} with buildx`, 'docker', result);
}

/** Builds and pushes one platform; returns what buildx's metadata file says was pushed. */
export async function buildxBuild(
  exec: Exec,
  req: BuildxBuildRequest,
  io: { log: PhaseLog; readText: (file: string) => string | undefined },
): Promise<BuildxMetadata> {
  await runBuildxBuild(exec, req, io.log);
  const text = io.readText(req.metadataFile);
  if (text === undefined) throw new BuildError(`buildx wrote no metadata file for ${req.platform}`);
  return parseBuildxMetadata(text);
}

/** Builds one platform into the OCI layout `req.ociLayoutDir` (for drivers that cannot push by digest). */
export async function buildxExport(
  exec: Exec,
  req: BuildxBuildRequest & { ociLayoutDir: string },
  log: PhaseLog,
): Promise<void> {
  await runBuildxBuild(exec, req, log);
}

/** Post step: removes the builder instance. */
export function removeBuildxBuilder(exec: Exec, name: string): Promise<ExecResult> {
  return exec('docker', removeBuilderArgs(name));
}

/** Post step: `docker logout`. */
export function dockerLogout(exec: Exec, registry: string): Promise<ExecResult> {
  return exec('docker', dockerLogoutArgs(registry));
}
