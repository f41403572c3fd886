import path from 'node:path';
import type { Platform } from '../image/platform.js';
import { formatPlatform, platformSlug } from '../image/platform.js';
import { resolvePlatformImage } from '../image/pushed-image.js';
import { installDockerBinfmt } from './binfmt.js';
import type { Builder, BuilderDeps, BuildSettings } from './builder.js';
import { buildkitdConfigToml, buildxBuild, checkBuildx, createBuildxBuilder, dockerLogin } from './buildx.js';

/** Docker buildx with a docker-container builder of this run's own; BuildKit pushes by digest itself. */
export function buildxBuilder(
  settings: BuildSettings,
  emulated: readonly Platform[],
  deps: BuilderDeps,
): Builder {
  const name = `edgeship-${deps.runKey}`;

  /** A buildkitd.toml when some registry speaks plain HTTP or has its own CA; written to the work dir. */
  const buildkitdConfig = (): string | undefined => {
    if (!settings.insecureRegistries.length && !settings.registryCaFile) return undefined;
    const file = path.join(deps.workDir, 'buildkitd.toml');
    const caFiles = settings.registryCaFile ? { [settings.registry]: settings.registryCaFile } : {};
    deps.writePrivateFile(file, buildkitdConfigToml(settings.insecureRegistries, caFiles));
    return file;
  };

  return {
    async setUp() {
      await checkBuildx(deps.exec);
      await deps.log.group('Set up buildx', async () => {
        // QEMU first: the privileged binfmt container runs before any registry credential is on disk.
        if (emulated.length) {
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
        await createBuildxBuilder(deps.exec, name, buildkitdConfig(), deps.log);
        deps.cleanup.record((s) => (s.buildxBuilder = name));
      });
    },

    async build(platform, request) {
      const metadata = await buildxBuild(
        deps.exec,
        {
          builder: name,
          platform: formatPlatform(platform),
          imageName: settings.imageName,
          context: settings.context,
          file: settings.file,
          metadataFile: path.join(deps.workDir, `buildx-metadata-${platformSlug(platform)}.json`),
          buildArgs: settings.buildArgs,
          labels: request.labels,
          annotations: request.annotations,
          cacheFrom: settings.cacheFrom,
          cacheTo: settings.cacheTo,
          ...(settings.target ? { target: settings.target } : {}),
          ...(request.sourceDateEpoch !== undefined ? { sourceDateEpoch: request.sourceDateEpoch } : {}),
        },
        deps,
      );
      return resolvePlatformImage(deps.registry, settings.image.path, metadata.digest, platform);
    },
  };
}
