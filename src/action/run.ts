import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { PlatformImage } from '../image/pushed-image.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import { readRunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import { maskSecretInputs, readSettings } from '../settings/inputs.js';
import type { Settings } from '../settings/inputs.js';
import { runBuildStage } from '../stages/build.js';
import { runCheckStage } from '../stages/check.js';
import { assertGatePassed, runGateStage } from '../stages/gate.js';
import type { GateResult } from '../stages/gate.js';
import { runGitOpsStage } from '../stages/gitops.js';
import { runReadReleaseStage } from '../stages/promote.js';
import { runPromoteStage, runPublishStage } from '../stages/publish.js';
import type { PublishResult } from '../stages/publish.js';
import { runProvenanceStage } from '../stages/provenance.js';
import { runHandOverStage, runMergeStage } from '../stages/records.js';
import { registryClientFor } from '../stages/registry.js';
import { runReleaseStage } from '../stages/release.js';
import { runRescanDeployedStage } from '../stages/rescan.js';
import type { RescannedRelease } from '../stages/rescan.js';
import { runRescanStage, runScanStage } from '../stages/scan.js';

export interface RunResult {
  settings: Settings;
  release: ReleaseMetadata;
  images: PlatformImage[];
  /** Undefined for `mode: rescan`, which judges the deployed releases instead (see `rescan`). */
  gate?: GateResult;
  published?: PublishResult;
  rescan?: RescannedRelease[];
}

/**
 * The main step: runner context → settings → release → build → scan → gate → publish → GitOps. `mode: build` hands
 * its platforms over after the gate; `mode: publish` starts from those hand-overs instead of building; `mode: promote`
 * starts from a published release (verified, re-scanned from its SBOM attestations) and publishes that same index;
 * `mode: check` compares with production and comments on the pull request instead of publishing; `mode: rescan`
 * re-scans what is deployed.
 */
export async function runAction(host: ActionHost): Promise<RunResult> {
  const context = readRunnerContext(host.env, readTextIfExists, host.now(), process.cwd(), os.tmpdir());
  maskSecretInputs(host.readInput, (secret) => host.setSecret(secret));
  const settings = readSettings(host.readInput, { workspace: context.workspace, env: host.env });
  const release = runReleaseStage(host, settings, context);
  const registry = registryClientFor(settings, host);
  if (settings.mode === 'rescan')
    return {
      settings,
      release,
      images: [],
      rescan: await runRescanDeployedStage(host, { settings, context, registry }),
    };
  if (settings.mode === 'promote') {
    const source = await runReadReleaseStage(host, { settings, context, registry });
    const scanned = await runRescanStage(host, {
      settings,
      sboms: source.sbomFiles,
      tempDir: context.tempDir,
    });
    const gate = await runGateStage(host, { settings, images: source.images, scanned });
    assertGatePassed(gate.verdict);
    const published = await runPromoteStage(host, {
      settings,
      release,
      images: source.images,
      gate,
      context,
      registry,
      source,
    });
    await runGitOpsStage(host, { settings, release, context, published });
    return { settings, release, images: source.images, gate, published };
  }
  if (settings.mode === 'publish') {
    const { images, gate, provenance } = await runMergeStage(host, { settings, context, registry });
    assertGatePassed(gate.verdict);
    const publish = { settings, release, images, gate, context, registry, provenance };
    const published = await runPublishStage(host, publish);
    await runGitOpsStage(host, { settings, release, context, published });
    return { settings, release, images, gate, published };
  }
  const startedOn = host.now();
  const images = await runBuildStage(host, { settings, release, context, registry });
  const provenance = await runProvenanceStage(host, { settings, context, registry, images, startedOn });
  const scanned = await runScanStage(host, { settings, images, tempDir: context.tempDir });
  const gate = await runGateStage(host, { settings, images, scanned });
  if (settings.mode === 'build')
    await runHandOverStage(host, { settings, context, images, gate, tools: scanned.tools, provenance });
  if (settings.mode === 'check') await runCheckStage(host, { settings, context, registry, images, gate });
  assertGatePassed(gate.verdict);
  if (settings.mode === 'build' || settings.mode === 'check') return { settings, release, images, gate };
  const publish = { settings, release, images, gate, context, registry, provenance };
  const published = await runPublishStage(host, publish);
  await runGitOpsStage(host, { settings, release, context, published });
  return { settings, release, images, gate, published };
}

/** Reads a text file, or undefined when it does not exist (the event payload). */
function readTextIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
