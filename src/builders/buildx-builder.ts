import path from 'node:path';
import type { Platform } from '../image/platform.js';
import { formatPlatform, platformSlug } from '../image/platform.js';
import { resolvePlatformImage } from '../image/pushed-image.js';
import { singleLayoutManifest } from '../registry/oci-layout.js';
import { installDockerBinfmt } from './binfmt.js';
import { uploadLayoutImage } from './builder.js';
import type { Builder, BuilderDeps, BuildRequest, BuildSettings } from './builder.js';
import type { BuildxBuilderPlan, BuildxBuildRequest } from './buildx.js';
import {
  buildkitdConfigToml,
  buildxBuild,
  buildxExport,
  checkBuildx,
  dockerLogin,
  prepareBuildxBuilder,
} from './buildx.js';

/**
 * Docker buildx. By default a docker-container builder of this run's own (image `buildkit-image`), or one on a
 * remote BuildKit (`buildkit-endpoint`): BuildKit pushes by digest itself. With an existing builder
 * (`buildx-builder`) whose driver is `docker`, which refuses push-by-digest, each platform is exported to an OCI
 * layout and uploaded blob by blob with Edgeship's registry client, as for buildah.
 */
export function buildxBuilder(
  settings: BuildSettings,
  emulated: readonly Platform[],
  deps: BuilderDeps,
): Builder {
  const plan = builderPlan(settings, deps);
  let driver = 'docker-container';

  const request = (platform: Platform, req: BuildRequest): BuildxBuildRequest => ({
    builder: plan.name,
    platform: formatPlatform(platform),
    imageName: settings.imageName,
    context: settings.context,
    file: settings.file,
    metadataFile: path.join(deps.workDir, `buildx-metadata-${platformSlug(platform)}.json`),
    buildArgs: settings.buildArgs,
    labels: req.labels,
    annotations: { ...req.annotations, ...settings.annotations },
    cacheFrom: settings.cacheFrom,
    cacheTo: settings.cacheTo,
    ...(settings.target ? { target: settings.target } : {}),
    ...(req.sourceDateEpoch !== undefined ? { sourceDateEpoch: req.sourceDateEpoch } : {}),
    secrets: settings.secrets,
    secretFiles: settings.secretFiles,
    ssh: settings.ssh,
    buildContexts: settings.buildContexts,
    noCache: settings.noCache,
    pull: settings.pull,
  });

  return {
    async setUp() {
      await checkBuildx(deps.exec);
      await deps.log.group('Set up buildx', async () => {
        // QEMU first: the privileged binfmt container runs before any registry credential is on disk. A remote
        // BuildKit runs its platforms natively or with its own emulators.
        if (emulated.length && plan.kind !== 'remote') {
          deps.log.info(
            `installing QEMU for ${emulated.map(formatPlatform).join(', ')} with ${settings.binfmtImage}`,
          );
          await installDockerBinfmt(deps.exec, settings.binfmtImage, emulated);
        }
        if (settings.registryUsername && settings.registryPassword) {
          await dockerLogin(
            deps.exec,
            settings.registry,
            settings.registryUsername,
            settings.registryPassword,
          );
          deps.cleanup.record((s) => (s.dockerLogout = settings.registry));
        }
        // Recorded first: a builder half created by a failed `create` is still removed by the post step.
        if (plan.kind !== 'existing') deps.cleanup.record((s) => (s.buildxBuilder = plan.name));
        driver = await prepareBuildxBuilder(deps.exec, plan, deps.log);
        deps.log.info(`buildx builder ${plan.name} (driver ${driver})`);
      });
    },

    async build(platform, req) {
      if (driver !== 'docker') {
        const metadata = await buildxBuild(deps.exec, request(platform, req), deps);
        return resolvePlatformImage(deps.registry, settings.image.path, metadata.digest, platform);
      }
      const layoutDir = path.join(deps.workDir, `layout-${platformSlug(platform)}`);
      deps.cleanup.record((s) => s.paths.push(layoutDir));
      await buildxExport(deps.exec, { ...request(platform, req), ociLayoutDir: layoutDir }, deps.log);
      const digest = await singleLayoutManifest(layoutDir, deps.readBinary);
      return uploadLayoutImage(deps, settings.image.path, layoutDir, digest, platform);
    },
  };
}

/** Which builder the inputs ask for; a created one gets a buildkitd.toml when a registry needs HTTP or a CA. */
function builderPlan(settings: BuildSettings, deps: BuilderDeps): BuildxBuilderPlan {
  if (settings.buildxBuilder) return { kind: 'existing', name: settings.buildxBuilder };
  const name = `edgeship-${deps.runKey}`;
  if (settings.buildkitEndpoint) return { kind: 'remote', name, endpoint: settings.buildkitEndpoint };
  if (!settings.insecureRegistries.length && !settings.registryCaFile)
    return { kind: 'create', name, image: settings.buildkitImage };
  const file = path.join(deps.workDir, 'buildkitd.toml');
  const caFiles = settings.registryCaFile ? { [settings.registry]: settings.registryCaFile } : {};
  deps.writePrivateFile(file, buildkitdConfigToml(settings.insecureRegistries, caFiles));
  return { kind: 'create', name, image: settings.buildkitImage, buildkitdConfig: file };
}
