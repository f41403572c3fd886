/**
 * What every builder (buildx, buildah) offers the build stage: set up once, then build one platform at a
 * time, each pushed by digest with no tag. What a builder leaves behind (a buildx instance, a docker
 * login, local images, files) is recorded as it goes and undone by the post step, which runs even when
 * the main step dies midway.
 */
import type { Platform } from '../image/platform.js';
import { resolvePlatformImage } from '../image/pushed-image.js';
import type { PlatformImage } from '../image/pushed-image.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { Exec, ExecResult } from '../process/exec.js';
import { describeFailure } from '../process/exec.js';
import type { RegistryClient } from '../registry/client.js';
import { pushLayoutManifestByDigest } from '../registry/oci-layout.js';
import type { CleanupRecorder } from '../runner/cleanup-state.js';
import type { QemuMode } from './binfmt.js';

export interface Builder {
  /** Checks the tool is there, enables QEMU for emulated platforms, and gives the builder registry access. */
  setUp(): Promise<void>;
  /** Builds one platform and pushes it by digest (no tag); returns what the registry now holds. */
  build(platform: Platform, request: BuildRequest): Promise<PlatformImage>;
}

/** What the builders read of the action's settings (Settings has it all). */
export interface BuildSettings {
  builder: 'buildx' | 'buildah';
  /** The repository path in the registry (`acme/agent`). */
  image: { path: string };
  /** The repository to push to, as users see it (`ghcr.io/acme/agent`). */
  imageName: string;
  platforms: readonly Platform[];
  context: string;
  file: string;
  buildArgs: ReadonlyArray<[string, string]>;
  cacheFrom: readonly string[];
  cacheTo: readonly string[];
  target?: string;
  /** Registry host the credentials are for. */
  registry: string;
  registryUsername?: string;
  registryPassword?: string;
  registryCaFile?: string;
  insecureRegistries: readonly string[];
  qemu: QemuMode;
  binfmtImage: string;
  /** An existing buildx builder to use instead of creating one. */
  buildxBuilder?: string;
  buildkitImage: string;
  /** A BuildKit daemon for buildx's remote driver. */
  buildkitEndpoint?: string;
  /** Build secrets `[id, value]`; values reach the builder through its environment only. */
  secrets: ReadonlyArray<[string, string]>;
  secretFiles: ReadonlyArray<[string, string]>;
  ssh: readonly string[];
  buildContexts: ReadonlyArray<[string, string]>;
  /** Extra manifest annotations (buildx). */
  annotations: Record<string, string>;
  noCache: boolean;
  pull: boolean;
}

/** What goes into every platform's image besides the Dockerfile. */
export interface BuildRequest {
  labels: Record<string, string>;
  /** Annotations of the platform manifest (buildah, whose manifests are docker format, has none). */
  annotations: Record<string, string>;
  /** SOURCE_DATE_EPOCH, for reproducible images. */
  sourceDateEpoch?: number;
}

/** Side effects a builder needs, injected so the logic runs in tests without a builder. */
export interface BuilderDeps {
  exec: Exec;
  log: PhaseLog;
  registry: RegistryClient;
  cleanup: Pick<CleanupRecorder, 'record'>;
  /** A fresh private directory for this run's files (auth file, layouts, metadata). */
  workDir: string;
  /** Returns a file's text, or undefined when it does not exist. */
  readText: (file: string) => string | undefined;
  readBinary: (file: string) => Promise<Buffer>;
  writePrivateFile: (file: string, content: string) => void;
  writeBinary: (file: string, content: Buffer) => void;
  makeDir: (dir: string) => void;
  copyFile: (from: string, to: string) => void;
  /** Unique per run, used to name the builder and local images. */
  runKey: string;
}

/**
 * Uploads one platform's image from the OCI layout a builder exported, by digest (no tag), and returns it as the
 * registry now holds it.
 */
export async function uploadLayoutImage(
  deps: Pick<BuilderDeps, 'registry' | 'readBinary' | 'log'>,
  repository: string,
  layoutDir: string,
  digest: string,
  platform: Platform,
): Promise<PlatformImage> {
  const upload = await pushLayoutManifestByDigest(
    deps.registry,
    repository,
    layoutDir,
    digest,
    deps.readBinary,
  );
  deps.log.info(`uploaded ${upload.uploadedBlobs} blob(s), ${upload.skippedBlobs} already present`);
  return resolvePlatformImage(deps.registry, repository, digest, platform);
}

/** The environment variable carrying the `index`th build secret to buildx or buildah. */
export function secretEnvName(index: number): string {
  return `EDGESHIP_BUILD_SECRET_${index}`;
}

/** The environment a build needs for its secrets (never put into argv or logs). */
export function secretEnvironment(secrets: ReadonlyArray<[string, string]> = []): Record<string, string> {
  return Object.fromEntries(secrets.map(([, value], i) => [secretEnvName(i), value]));
}

export class BuildError extends Error {
  override name = 'BuildError';
}

/**
 * Fails with the builder's own error line first (`Error: …` from buildah, `ERROR: …` from BuildKit), then how the
 * process ended and its last lines: the cause is what a user reads first, not the log of pulls before it.
 */
export function failIfNonZero(what: string, file: string, result: ExecResult): void {
  if (result.exitCode === 0 && !result.failure) return;
  const cause = builderErrorLine(result.stderr);
  throw new BuildError(`${what} failed: ${cause ? `${cause}\n` : ''}${describeFailure(file, result)}`);
}

/** The last line in which the builder states its error, without timestamps or log-level decoration. */
export function builderErrorLine(stderr: string): string | undefined {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/^(Error|ERROR|error)(:| )/.test(lines[i]!)) return lines[i];
  }
  return undefined;
}
