import { readFile, writeFile } from 'node:fs/promises';
import type { PlatformImage } from '../image/pushed-image.js';
import type { ReleaseToPromote } from '../lifecycle/carried-signatures.js';
import type { GateResult } from '../policy/decide.js';
import { publishPromotion, type PromotionPlan } from '../publish/promote.js';
import { githubAttestationsDeps, releaseAssetsDeps, signingDeps } from '../publish/publish-deps.js';
import { publishRelease } from '../publish/release.js';
import type { PublishDeps, PublishRequest, PublishResult } from '../publish/release.js';

export type { PublishResult } from '../publish/release.js';
import type { PlatformProvenance } from '../provenance/slsa.js';
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
  provenance?: readonly PlatformProvenance[];
}

/** The publish stage: index, signatures, attestations, deployment manifest, release assets, tags; outputs. */
export async function runPublishStage(host: ActionHost, input: PublishStageInput): Promise<PublishResult> {
  const result = await publishRelease(publishRequest(input), publishDeps(host, input));
  await reportPublished(host, input.settings, result);
  return result;
}

/**
 * `mode: promote`: the release read back (`source`) and re-gated is published again under this ref's version: its
 * index is tagged, newly signed and given a deployment manifest that records where it came from; outputs as a
 * release has them.
 */
export async function runPromoteStage(
  host: ActionHost,
  input: PublishStageInput & { source: ReleaseToPromote; planned: () => Promise<PromotionPlan> },
): Promise<PublishResult> {
  const request = publishRequest(input);
  // The bytes were built from the promoted release's commit: its manifest says which.
  const built = input.source.manifest.manifest.release.revision;
  if (built !== input.context.release.sha)
    host.log.warning(
      `${input.settings.from} was built from commit ${built}, not from ${input.context.release.sha} (this ref): the promoted release records ${built}`,
    );
  const git = { ...request.git, revision: built };
  const { source, planned } = input;
  const result = await publishPromotion({ ...request, git, source, planned }, publishDeps(host, input));
  await reportPublished(host, input.settings, result);
  return result;
}

function publishRequest(input: PublishStageInput): PublishRequest {
  const { settings, release, images, gate, context, provenance } = input;
  const git = {
    ref: context.release.ref,
    revision: context.release.sha,
    workflowRun:
      context.workflowRunUrl ?? `${context.release.serverUrl}/${context.release.repository}/actions`,
  };
  return {
    settings,
    policy: settings.gatePolicy,
    release,
    images,
    gate,
    git,
    reportsDir: gate.reportsDir,
    ...(provenance ? { provenance } : {}),
  };
}

function publishDeps(
  host: ActionHost,
  { settings, release, context, registry }: PublishStageInput,
): PublishDeps {
  const run = {
    ref: context.release.ref,
    repository: context.release.repository,
    apiUrl: host.env.GITHUB_API_URL ?? 'https://api.github.com',
  };
  return {
    registry,
    log: host.log,
    ...signingDeps(settings, host.env),
    ...releaseAssetsDeps(settings, run, release, { readFile: (f) => readFile(f), log: host.log }),
    ...githubAttestationsDeps(settings, run, host.log),
    readText: (f) => readFile(f, 'utf8'),
    writeText: (f, text) => writeFile(f, text),
    now: host.now,
  };
}

async function reportPublished(host: ActionHost, settings: Settings, result: PublishResult): Promise<void> {
  host.setOutput('digest', result.indexDigest);
  host.setOutput('tags', result.tags.map((t) => `${settings.imageName}:${t}`).join('\n'));
  host.setOutput('manifest-file', result.manifestFile);
  host.setOutput('manifest-digest', result.manifestDigest);
  host.setOutput('signatures', JSON.stringify(result.signatures));
  host.setOutput('offline-bundles', JSON.stringify(result.offlineBundles ?? []));
  await host.appendSummary(publishSummary(settings.imageName, result));
}
