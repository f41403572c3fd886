import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { PlatformImage } from '../image/pushed-image.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import { readRunnerContext } from '../runner/context.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import { maskSecretInputs, readSettings } from '../settings/inputs.js';
import type { Settings } from '../settings/inputs.js';
import { inBackground } from '../stages/background.js';
import { runBuildStage } from '../stages/build.js';
import { runCheckStage } from '../stages/check.js';
import { assertGatePassed, runGateStage } from '../stages/gate.js';
import type { GateResult } from '../stages/gate.js';
import { runGitOpsStage } from '../stages/gitops.js';
import {
  runCarryOverStage,
  runOpenReleaseStage,
  runPlanPromotionStage,
  runReadReleaseStage,
} from '../stages/promote.js';
import { runPromoteStage, runPublishStage } from '../stages/publish.js';
import type { PublishResult, PublishStageInput } from '../stages/publish.js';
import { runProvenanceStage } from '../stages/provenance.js';
import { runHandOverStage, runMergeStage } from '../stages/records.js';
import { registryClientFor } from '../stages/registry.js';
import { runReleaseStage } from '../stages/release.js';
import { runRescanDeployedStage } from '../stages/rescan.js';
import type { RescannedRelease } from '../stages/rescan.js';
import { runGrypeSetup, runRescanStage, runScanStage } from '../stages/scan.js';

export interface RunResult {
  settings: Settings;
  release: ReleaseMetadata;
  images: readonly PlatformImage[];
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
  const run: ModeRun = { host, context, settings, release, registry };
  if (settings.mode === 'rescan') return rescanDeployed(run);
  if (settings.mode === 'promote') return promote(run);
  if (settings.mode === 'publish') return publishHandedOver(run);
  return buildAndRelease(run);
}

interface ModeRun {
  host: ActionHost;
  context: RunnerContext;
  settings: Settings;
  release: ReleaseMetadata;
  registry: ReturnType<typeof registryClientFor>;
}

/** `mode: rescan`: the deployed releases re-scanned with today's database; nothing is built or tagged. */
async function rescanDeployed({ host, context, settings, release, registry }: ModeRun): Promise<RunResult> {
  const rescan = await runRescanDeployedStage(host, { settings, context, registry });
  return { settings, release, images: [], rescan };
}

/** `mode: promote`: a published release, verified and re-scanned from its SBOMs, tagged again as this ref. */
async function promote(run: ModeRun): Promise<RunResult> {
  const { host, context, settings, release, registry } = run;
  const { tempDir } = context;
  // Grype and today's database are made ready while the release is read; the SBOMs are re-scanned and the tags and
  // baseline read while the release's signatures are verified, and what it only carries over is verified while the
  // scans end.
  const opening = runOpenReleaseStage(host, { settings, context, registry });
  const grype = inBackground(host, 'Install Grype and its database', (log) =>
    runGrypeSetup(host, { settings, tempDir }, log),
  );
  const opened = await opening;
  const rescan = inBackground(host, 'Re-scan the SBOM attestations', async (log) =>
    runRescanStage(host, { settings, sboms: opened.sbomFiles, tempDir, grype: await grype.result }, log),
  );
  const plan = inBackground(host, 'Plan the tags and read the channel baseline', (log) =>
    runPlanPromotionStage({ settings, release, registry, opened }, log),
  );
  const source = await runReadReleaseStage(host, { settings, registry, opened });
  const carryOver = inBackground(host, 'Verify what the promotion carries over', (log) =>
    runCarryOverStage({ settings, source }, log),
  );
  await grype.done();
  const scanned = await rescan.done();
  const images = source.images;
  const gate = await runGateStage(host, { settings, images, scanned });
  assertGatePassed(gate.verdict);
  const carried = () => carryOver.done();
  const promoted = { settings, release, images, gate, context, registry, planned: () => plan.done() };
  const published = await runPromoteStage(host, { ...promoted, source: { ...source, carried } });
  return handOff(run, { images, gate, published });
}

/** `mode: publish`: the platforms the build jobs of this run handed over, merged and published. */
async function publishHandedOver(run: ModeRun): Promise<RunResult> {
  const { host, context, settings, registry } = run;
  const merged = await runMergeStage(host, { settings, context, registry });
  assertGatePassed(merged.gate.verdict);
  return publishAndHandOff(run, merged);
}

/** `mode: all`, `build` and `check`: build → provenance → scan → gate, then hand over, comment or publish. */
async function buildAndRelease(run: ModeRun): Promise<RunResult> {
  const { host, context, settings, release, registry } = run;
  const startedOn = host.now();
  const images = await runBuildStage(host, { settings, release, context, registry });
  const provenance = await runProvenanceStage(host, { settings, context, registry, images, startedOn });
  const scanned = await runScanStage(host, { settings, images, tempDir: context.tempDir });
  const gate = await runGateStage(host, { settings, images, scanned });
  if (settings.mode === 'build')
    await runHandOverStage(host, {
      settings,
      context,
      images,
      gate,
      tools: scanned.tools,
      provenance,
      registry,
      version: release.version,
    });
  if (settings.mode === 'check') await runCheckStage(host, { settings, context, registry, images, gate });
  assertGatePassed(gate.verdict);
  if (settings.mode === 'build' || settings.mode === 'check') return { settings, release, images, gate };
  return publishAndHandOff(run, { images, gate, provenance });
}

/** The gated images published as this ref's release, then handed to GitOps. */
async function publishAndHandOff(
  run: ModeRun,
  gated: Pick<PublishStageInput, 'images' | 'gate' | 'provenance'>,
): Promise<RunResult> {
  const { host, context, settings, release, registry } = run;
  const published = await runPublishStage(host, { settings, release, context, registry, ...gated });
  return handOff(run, { ...gated, published });
}

/** A published release handed to GitOps (a pull request per channel, when configured): what the run reports. */
async function handOff(
  { host, context, settings, release }: ModeRun,
  done: { images: readonly PlatformImage[]; gate: GateResult; published: PublishResult },
): Promise<RunResult> {
  await runGitOpsStage(host, { settings, release, context, published: done.published });
  return { settings, release, images: done.images, gate: done.gate, published: done.published };
}

/** Reads a text file, or undefined when it does not exist (the event payload). */
function readTextIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
