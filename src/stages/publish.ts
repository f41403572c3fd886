import { readFile, writeFile } from 'node:fs/promises';
import type { PlatformImage } from '../image/pushed-image.js';
import type { GateResult } from '../policy/decide.js';
import { releaseAssetsDeps, signingDeps } from '../publish/publish-deps.js';
import { publishRelease } from '../publish/release.js';
import type { PublishResult } from '../publish/release.js';

export type { PublishResult } from '../publish/release.js';
import type { RegistryClient } from '../registry/client.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import type { Settings } from '../settings/inputs.js';
import { publishSummary } from '../summary/tables.js';

export interface PublishStageInput {
  settings: Settings;
  release: ReleaseMetadata;
  images: readonly PlatformImage[];
  gate: GateResult;
  context: RunnerContext;
  registry: RegistryClient;
}

/** The publish stage: index, signatures, attestations, deployment manifest, release assets, tags; outputs. */
export async function runPublishStage(host: ActionHost, input: PublishStageInput): Promise<PublishResult> {
  const { settings, release, context, gate } = input;
  const run = {
    ref: context.release.ref,
    repository: context.release.repository,
    apiUrl: host.env.GITHUB_API_URL ?? 'https://api.github.com',
  };
  const git = {
    ref: context.release.ref,
    revision: context.release.sha,
    workflowRun:
      context.workflowRunUrl ?? `${context.release.serverUrl}/${context.release.repository}/actions`,
  };
  const result = await publishRelease(
    {
      settings,
      policy: settings.gatePolicy,
      release,
      images: input.images,
      gate,
      git,
      reportsDir: gate.reportsDir,
    },
    {
      registry: input.registry,
      log: host.log,
      ...signingDeps(settings, host.env),
      ...releaseAssetsDeps(settings, run, release, { readFile: (f) => readFile(f), log: host.log }),
      readText: (f) => readFile(f, 'utf8'),
      writeText: (f, text) => writeFile(f, text),
      now: host.now,
    },
  );
  host.setOutput('digest', result.indexDigest);
  host.setOutput('tags', result.tags.map((t) => `${settings.imageName}:${t}`).join('\n'));
  host.setOutput('manifest-file', result.manifestFile);
  host.setOutput('manifest-digest', result.manifestDigest);
  host.setOutput('signatures', JSON.stringify(result.signatures));
  host.setOutput('offline-bundles', JSON.stringify(result.offlineBundles ?? []));
  await host.appendSummary(publishSummary(settings.imageName, result));
  return result;
}
