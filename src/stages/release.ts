import { mkdirSync } from 'node:fs';
import { releaseMetadata } from '../release/metadata.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import type { Settings } from '../settings/inputs.js';
import { redactSettings } from '../settings/redact.js';

/**
 * What this run releases: settings and policy logged for debugging, the release metadata (version,
 * channel, tags after the gate, labels) derived from the ref, and the outputs that do not wait for a build.
 */
export function runReleaseStage(
  host: ActionHost,
  settings: Settings,
  context: RunnerContext,
): ReleaseMetadata {
  host.log.debug(`settings: ${JSON.stringify(redactSettings(settings))}`);
  host.log.debug(`policy: ${settings.gatePolicy.source.join('; ')}`);
  const release = releaseMetadata(context.release, settings.tags);
  for (const warning of release.warnings) host.log.warning(warning);
  host.log.info(
    `Release ${release.version || '(unversioned)'} on channel ${release.channel}; tags after the gate: ${release.tags.join(', ') || 'none'}`,
  );
  host.setOutput('version', release.version);
  host.setOutput('channel', release.channel);
  host.setOutput('image', settings.imageName);
  mkdirSync(context.tempDir, { recursive: true });
  return release;
}
