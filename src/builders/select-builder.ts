import { formatPlatform } from '../image/platform.js';
import { platformsNeedingEmulation } from './binfmt.js';
import { buildahBuilder } from './buildah-builder.js';
import type { Builder, BuilderDeps, BuildSettings } from './builder.js';
import { buildxBuilder } from './buildx-builder.js';

/**
 * The builder the `builder` input names, emulating (QEMU) the platforms a runner of `hostArchitecture`
 * cannot run natively, as the `qemu` input says.
 */
export function selectBuilder(
  settings: BuildSettings,
  hostArchitecture: string | undefined,
  deps: BuilderDeps,
): Builder {
  const emulated = platformsNeedingEmulation(settings.platforms, hostArchitecture, settings.qemu);
  deps.log.debug(
    `native architecture: ${hostArchitecture ?? 'unknown'}; emulated: ${emulated.map(formatPlatform).join(', ') || 'none'}`,
  );
  return settings.builder === 'buildah'
    ? buildahBuilder(settings, emulated, deps)
    : buildxBuilder(settings, emulated, deps);
}
