import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { PlatformImage } from '../image/pushed-image.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import { readRunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import { maskSecretInputs, readSettings } from '../settings/inputs.js';
import type { Settings } from '../settings/inputs.js';
import { runBuildStage } from '../stages/build.js';
import { assertGatePassed, runGateStage } from '../stages/gate.js';
import type { GateResult } from '../stages/gate.js';
import { runPublishStage } from '../stages/publish.js';
import type { PublishResult } from '../stages/publish.js';
import { runHandOverStage, runMergeStage } from '../stages/records.js';
import { registryClientFor } from '../stages/registry.js';
import { runReleaseStage } from '../stages/release.js';
import { runScanStage } from '../stages/scan.js';

export interface RunResult {
  settings: Settings;
  release: ReleaseMetadata;
  images: PlatformImage[];
  gate: GateResult;
  published?: PublishResult;
}

/**
 * The main step: runner context → settings → release → build → scan → gate → publish. `mode: build` hands its
 * platforms over after the gate; `mode: publish` starts from those hand-overs instead of building.
 */
export async function runAction(host: ActionHost): Promise<RunResult> {
  const context = readRunnerContext(host.env, readTextIfExists, host.now(), process.cwd(), os.tmpdir());
  maskSecretInputs(host.readInput, (secret) => host.setSecret(secret));
  const settings = readSettings(host.readInput, { workspace: context.workspace, env: host.env });
  const release = runReleaseStage(host, settings, context);
  const registry = registryClientFor(settings, host);
  if (settings.mode === 'publish') {
    const { images, gate } = await runMergeStage(host, { settings, context, registry });
    assertGatePassed(gate.verdict);
    const published = await runPublishStage(host, { settings, release, images, gate, context, registry });
    return { settings, release, images, gate, published };
  }
  const images = await runBuildStage(host, { settings, release, context, registry });
  const scanned = await runScanStage(host, { settings, images, tempDir: context.tempDir });
  const gate = await runGateStage(host, { settings, images, scanned });
  if (settings.mode === 'build')
    await runHandOverStage(host, {
      settings,
      context,
      images,
      gate,
      tools: scanned.tools,
      registry,
      version: release.version,
    });
  assertGatePassed(gate.verdict);
  if (settings.mode === 'build') return { settings, release, images, gate };
  const published = await runPublishStage(host, { settings, release, images, gate, context, registry });
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
