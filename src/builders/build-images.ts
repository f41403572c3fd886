import path from 'node:path';
import type { CleanupRecorder } from '../runner/cleanup-state.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { Exec, ExecResult } from '../process/exec.js';
import { describeFailure } from '../process/exec.js';
import type { RegistryClient } from '../registry/client.js';
import { pushLayoutManifestByDigest } from '../registry/oci-layout.js';
import type { Settings } from '../settings/inputs.js';
import type { BuildahRegistryAccess } from './buildah.js';
import { buildahBuildArgs, buildahPushToLayoutArgs, parseBuildahVersion } from './buildah.js';
import {
  buildkitdConfigToml,
  buildxBuildArgs,
  createBuilderArgs,
  dockerLoginArgs,
  parseBuildxMetadata,
} from './buildx.js';
import { ensureHostEmulation, installDockerBinfmt, platformsNeedingEmulation } from './binfmt.js';
import type { Platform } from '../image/platform.js';
import { formatPlatform, platformSlug } from '../image/platform.js';
import type { PlatformImage } from '../image/pushed-image.js';
import { resolvePlatformImage } from '../image/pushed-image.js';

/** Side effects the build phase needs, injected so the logic runs in tests without a builder. */
export interface BuildDeps {
  exec: Exec;
  log: PhaseLog;
  registry: RegistryClient;
  cleanup: CleanupRecorder;
  /** A fresh private directory for this run's files (auth file, layouts, metadata). */
  workDir: string;
  hostArchitecture: string | undefined;
  readText: (file: string) => string | undefined;
  readBinary: (file: string) => Promise<Buffer>;
  writePrivateFile: (file: string, content: string) => void;
  makeDir: (dir: string) => void;
  copyFile: (from: string, to: string) => void;
  /** Unique per run, used to name the builder and local images. */
  runKey: string;
}

export interface BuildRequest {
  settings: Settings;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** SOURCE_DATE_EPOCH, for reproducible images. */
  sourceDateEpoch?: number;
}

export class BuildError extends Error {
  override name = 'BuildError';
}

/** Builds every platform and pushes each by digest with no tag; returns what the registry now holds. */
export async function buildAndPushPlatforms(req: BuildRequest, deps: BuildDeps): Promise<PlatformImage[]> {
  const { settings } = req;
  const emulated = platformsNeedingEmulation(settings.platforms, deps.hostArchitecture, settings.qemu);
  deps.log.debug(
    `native architecture: ${deps.hostArchitecture ?? 'unknown'}; emulated: ${emulated.map(formatPlatform).join(', ') || 'none'}`,
  );
  await deps.log.group('Check registry access', async () => {
    // Fails in seconds on wrong credentials or an unreachable registry instead of after the builds.
    const tags = await deps.registry.listTags(settings.image.path);
    deps.log.info(`${settings.imageName} is reachable (${tags.length} existing tag(s))`);
  });
  const build =
    settings.builder === 'buildah'
      ? await prepareBuildah(settings, emulated, deps)
      : await prepareBuildx(settings, emulated, deps);
  const images: PlatformImage[] = [];
  for (const platform of settings.platforms) {
    const name = formatPlatform(platform);
    const image = await deps.log.group(`Build ${name} (${settings.builder})`, async () => {
      const pushed = await build(platform, req);
      deps.log.info(
        `${name}: pushed ${settings.imageName}@${pushed.digest} (${pushed.size} bytes compressed, no tag)`,
      );
      return pushed;
    });
    images.push(image);
  }
  return images;
}

type PlatformBuild = (platform: Platform, req: BuildRequest) => Promise<PlatformImage>;

function streamTo(log: PhaseLog) {
  return (line: string) => log.info(line);
}

function failIfNonZero(what: string, file: string, result: ExecResult): void {
  if (result.exitCode !== 0 || result.failure)
    throw new BuildError(`${what} failed: ${describeFailure(file, result)}`);
}

async function prepareBuildx(
  settings: Settings,
  emulated: Platform[],
  deps: BuildDeps,
): Promise<PlatformBuild> {
  const version = await deps.exec('docker', ['buildx', 'version']);
  if (version.exitCode !== 0) {
    throw new BuildError(
      `builder "buildx" needs Docker with the buildx plugin (docker buildx version: ${describeFailure('docker', version, 3)}). ` +
        'Use a GitHub-hosted runner, install buildx, or set builder: buildah.',
    );
  }
  await deps.log.group('Set up buildx', async () => {
    // QEMU first: the privileged binfmt container runs before any registry credential is on disk.
    if (emulated.length) {
      deps.log.info(
        `installing QEMU for ${emulated.map(formatPlatform).join(', ')} with ${settings.binfmtImage}`,
      );
      await installDockerBinfmt(deps.exec, settings.binfmtImage, emulated);
    }
    if (settings.registryUsername && settings.registryPassword) {
      const login = await deps.exec('docker', dockerLoginArgs(settings.registry, settings.registryUsername), {
        input: settings.registryPassword,
      });
      if (login.exitCode !== 0) {
        throw new BuildError(
          `docker login to ${settings.registry} as ${settings.registryUsername} failed: ${describeFailure('docker', login, 3)}. ` +
            (/x509|certificate/i.test(login.stderr)
              ? `The Docker daemon does not trust the certificate of ${settings.registry}: put its CA at ` +
                `/etc/docker/certs.d/${settings.registry}/ca.crt on the runner, or use builder: buildah (it uses registry-ca-file).`
              : 'Check registry-username and registry-password.'),
        );
      }
      deps.cleanup.record((s) => (s.dockerLogout = settings.registry));
    }
    const builder = `edgeship-${deps.runKey}`;
    let buildkitdConfig: string | undefined;
    if (settings.insecureRegistries.length || settings.registryCaFile) {
      buildkitdConfig = path.join(deps.workDir, 'buildkitd.toml');
      const caFiles = settings.registryCaFile ? { [settings.registry]: settings.registryCaFile } : {};
      deps.writePrivateFile(buildkitdConfig, buildkitdConfigToml(settings.insecureRegistries, caFiles));
    }
    const created = await deps.exec('docker', createBuilderArgs(builder, buildkitdConfig), {
      onLine: streamTo(deps.log),
    });
    failIfNonZero(`creating the buildx builder ${builder}`, 'docker', created);
    deps.cleanup.record((s) => (s.buildxBuilder = builder));
  });
  const builder = deps.cleanup.state.buildxBuilder!;
  return async (platform, req) => {
    const slug = platformSlug(platform);
    const metadataFile = path.join(deps.workDir, `buildx-metadata-${slug}.json`);
    const args = buildxBuildArgs({
      builder,
      platform: formatPlatform(platform),
      imageName: settings.imageName,
      context: settings.context,
      file: settings.file,
      metadataFile,
      buildArgs: settings.buildArgs,
      labels: req.labels,
      annotations: req.annotations,
      cacheFrom: settings.cacheFrom,
      cacheTo: settings.cacheTo,
      ...(settings.target ? { target: settings.target } : {}),
      ...(req.sourceDateEpoch !== undefined ? { sourceDateEpoch: req.sourceDateEpoch } : {}),
    });
    deps.log.debug(`docker ${args.join(' ')}`);
    const result = await deps.exec('docker', args, { onLine: streamTo(deps.log) });
    failIfNonZero(`building ${formatPlatform(platform)} with buildx`, 'docker', result);
    const text = deps.readText(metadataFile);
    if (text === undefined)
      throw new BuildError(`buildx wrote no metadata file for ${formatPlatform(platform)}`);
    const metadata = parseBuildxMetadata(text);
    return resolvePlatformImage(deps.registry, settings.image.path, metadata.digest, platform);
  };
}

async function prepareBuildah(
  settings: Settings,
  emulated: Platform[],
  deps: BuildDeps,
): Promise<PlatformBuild> {
  const version = await deps.exec('buildah', ['--version']);
  if (version.exitCode !== 0 || version.failure) {
    throw new BuildError(
      `builder "buildah" needs buildah on PATH (${describeFailure('buildah', version, 3)}). ` +
        'Install it (apt-get install buildah) or set builder: buildx.',
    );
  }
  deps.log.debug(`buildah ${parseBuildahVersion(version.stdout) ?? version.stdout}`);
  const access: BuildahRegistryAccess = {
    tlsVerify: !settings.insecureRegistries.includes(settings.registry),
  };
  await deps.log.group('Set up buildah', async () => {
    if (emulated.length) {
      const entries = await ensureHostEmulation(emulated, {
        exec: deps.exec,
        readText: deps.readText,
        log: (line) => deps.log.info(line),
      });
      deps.log.info(`QEMU emulation enabled: ${entries.join(', ')}`);
    }
    if (settings.registryUsername && settings.registryPassword) {
      const authFile = path.join(deps.workDir, 'containers-auth.json');
      const auth = Buffer.from(`${settings.registryUsername}:${settings.registryPassword}`).toString(
        'base64',
      );
      deps.writePrivateFile(authFile, JSON.stringify({ auths: { [settings.registry]: { auth } } }));
      deps.cleanup.record((s) => s.paths.push(authFile));
      access.authFile = authFile;
    }
    if (settings.registryCaFile) {
      const certDir = path.join(deps.workDir, 'certs');
      deps.makeDir(certDir);
      deps.copyFile(settings.registryCaFile, path.join(certDir, 'ca.crt'));
      access.certDir = certDir;
    }
  });
  return async (platform, req) => {
    const slug = platformSlug(platform);
    const localName = `localhost/edgeship-${deps.runKey}:${slug}`;
    const buildArgs = buildahBuildArgs({
      platform: formatPlatform(platform),
      localName,
      context: settings.context,
      file: settings.file,
      buildArgs: settings.buildArgs,
      labels: req.labels,
      cacheFrom: settings.cacheFrom,
      cacheTo: settings.cacheTo,
      ...(settings.target ? { target: settings.target } : {}),
      ...(req.sourceDateEpoch !== undefined ? { timestamp: req.sourceDateEpoch } : {}),
      registryAccess: access,
    });
    deps.log.debug(`buildah ${buildArgs.join(' ')}`);
    const built = await deps.exec('buildah', buildArgs, { onLine: streamTo(deps.log) });
    failIfNonZero(`building ${formatPlatform(platform)} with buildah`, 'buildah', built);
    deps.cleanup.record((s) => s.buildahImages.push(localName));

    const layoutDir = path.join(deps.workDir, `layout-${slug}`);
    const digestFile = path.join(deps.workDir, `digest-${slug}`);
    deps.cleanup.record((s) => s.paths.push(layoutDir));
    const pushed = await deps.exec(
      'buildah',
      buildahPushToLayoutArgs(localName, layoutDir, slug, digestFile),
    );
    failIfNonZero(`exporting the ${formatPlatform(platform)} image`, 'buildah', pushed);
    const digest = deps.readText(digestFile)?.trim();
    if (!digest || !/^sha256:[a-f0-9]{64}$/.test(digest)) {
      throw new BuildError(`buildah push wrote no manifest digest to ${digestFile}`);
    }
    const upload = await pushLayoutManifestByDigest(
      deps.registry,
      settings.image.path,
      layoutDir,
      digest,
      deps.readBinary,
    );
    deps.log.info(`uploaded ${upload.uploadedBlobs} blob(s), ${upload.skippedBlobs} already present`);
    return resolvePlatformImage(deps.registry, settings.image.path, digest, platform);
  };
}
