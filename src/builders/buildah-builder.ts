import path from 'node:path';
import type { Platform } from '../image/platform.js';
import { formatPlatform, platformSlug } from '../image/platform.js';
import { ensureHostEmulation } from './binfmt.js';
import { uploadLayoutImage } from './builder.js';
import type { Builder, BuilderDeps, BuildSettings } from './builder.js';
import type { BuildahRegistryAccess } from './buildah.js';
import { buildahBuild, buildahPushToLayout, buildahVersion } from './buildah.js';
import { reproducibleLayoutImage } from './reproducible.js';

/**
 * Buildah, daemonless: each platform is built into local storage, exported to an OCI layout, and
 * uploaded by digest with Edgeship's own registry client (so no tag is ever written).
 */
export function buildahBuilder(
  settings: BuildSettings,
  emulated: readonly Platform[],
  deps: BuilderDeps,
): Builder {
  /** How buildah reaches registries (FROM pulls, cache); completed by setUp. */
  const access: BuildahRegistryAccess = {
    tlsVerify: !settings.insecureRegistries.includes(settings.registry),
  };

  return {
    async setUp() {
      deps.log.debug(`buildah ${await buildahVersion(deps.exec)}`);
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
    },

    async build(platform, request) {
      const slug = platformSlug(platform);
      const localName = `localhost/edgeship-${deps.runKey}:${slug}`;
      await buildahBuild(
        deps.exec,
        {
          platform: formatPlatform(platform),
          localName,
          context: settings.context,
          file: settings.file,
          buildArgs: settings.buildArgs,
          labels: request.labels,
          cacheFrom: settings.cacheFrom,
          cacheTo: settings.cacheTo,
          ...(settings.target ? { target: settings.target } : {}),
          ...(request.sourceDateEpoch !== undefined ? { timestamp: request.sourceDateEpoch } : {}),
          registryAccess: access,
          secrets: settings.secrets,
          secretFiles: settings.secretFiles,
          ssh: settings.ssh,
          buildContexts: settings.buildContexts,
          noCache: settings.noCache,
          pull: settings.pull,
        },
        deps.log,
      );
      deps.cleanup.record((s) => s.buildahImages.push(localName));

      const layoutDir = path.join(deps.workDir, `layout-${slug}`);
      deps.cleanup.record((s) => s.paths.push(layoutDir));
      const exported = await buildahPushToLayout(
        deps.exec,
        {
          localName,
          layoutDir,
          layoutTag: slug,
          digestFile: path.join(deps.workDir, `digest-${slug}`),
          platform: formatPlatform(platform),
        },
        deps.readText,
      );
      // Same sources and SOURCE_DATE_EPOCH, same digest: the build container's identity is not part of the image.
      const digest =
        request.sourceDateEpoch !== undefined
          ? await reproducibleLayoutImage(layoutDir, exported, deps)
          : exported;
      return uploadLayoutImage(deps, settings.image.path, layoutDir, digest, platform);
    },
  };
}
