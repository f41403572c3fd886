import { mkdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PlatformImage } from '../image/pushed-image.js';
import type { Exec } from '../process/exec.js';
import { RegistryClient } from '../registry/client.js';
import { chainResolvers, dockerConfigResolver, resolverFromInputs } from '../registry/credentials.js';
import { releaseMetadata } from '../release/metadata.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import type { Settings } from '../settings/inputs.js';
import type { ActionHost } from '../runner/host.js';
import { readSettings } from '../settings/inputs.js';
import { redactSettings } from '../settings/redact.js';
import { readRunnerContext } from '../runner/context.js';
import type { PublishResult } from '../publish/release.js';
import { digestsOutput, runBuildStage } from '../stages/build.js';
import { assertGatePassed, reportGate, runGateStage } from '../stages/gate.js';
import type { GateResult } from '../stages/gate.js';
import { gateFromRecords, recordStoreFor, uploadBuildRecords } from '../stages/records.js';
import { runPublishStep } from '../stages/publish.js';
import { runScanStage } from '../stages/scan.js';

export interface RunResult {
  settings: Settings;
  release: ReleaseMetadata;
  images: PlatformImage[];
  gate: GateResult;
  published?: PublishResult;
}

/** Reads a text file, or undefined when it does not exist. */
export function readTextIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export function createRegistryClient(
  settings: Settings,
  env: Record<string, string | undefined>,
  exec: Exec,
): RegistryClient {
  const configDir = env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker');
  const credentials = chainResolvers(
    resolverFromInputs(settings.registry, settings.registryUsername, settings.registryPassword),
    dockerConfigResolver({ readFile: (f: string) => readFile(f, 'utf8'), exec, configDir }),
  );
  return new RegistryClient({
    registry: settings.image.registry,
    credentials,
    ...(settings.registryCaFile ? { ca: readFileSync(settings.registryCaFile) } : {}),
    insecure: settings.insecureRegistries.includes(settings.image.registry),
    userAgent: 'edgeship',
  });
}

/** The main step: settings → release metadata → per-platform builds pushed by digest. */
export async function runAction(host: ActionHost): Promise<RunResult> {
  const context = readRunnerContext(host.env, readTextIfExists, host.now(), process.cwd(), os.tmpdir());
  const settings = readSettings(host.readInput, { workspace: context.workspace, env: host.env });
  if (settings.registryPassword) host.setSecret(settings.registryPassword);
  if (settings.githubToken) host.setSecret(settings.githubToken);
  if (settings.publish.signingKey) host.setSecret(settings.publish.signingKey);
  if (settings.publish.signingKeyPassword) host.setSecret(settings.publish.signingKeyPassword);
  host.log.debug(`settings: ${JSON.stringify(redactSettings(settings))}`);

  const policy = settings.gatePolicy;
  host.log.debug(`policy: ${policy.source.join('; ')}`);
  const release = releaseMetadata(context.release, settings.tags);
  for (const warning of release.warnings) host.log.warning(warning);
  host.log.info(
    `Release ${release.version || '(unversioned)'} on channel ${release.channel}; tags after the gate: ${release.tags.join(', ') || 'none'}`,
  );
  host.setOutput('version', release.version);
  host.setOutput('channel', release.channel);

  const registry = createRegistryClient(settings, host.env, host.exec);
  host.setOutput('image', settings.imageName);
  mkdirSync(context.tempDir, { recursive: true });

  let images: PlatformImage[];
  let gate: GateResult;
  if (settings.mode === 'publish') {
    const store = await recordStoreFor(settings, host.env);
    ({ images, gate } = await gateFromRecords(host, { settings, context, policy, registry, store }));
    host.setOutput('digests', digestsOutput(images));
    await reportGate(host, gate, images);
  } else {
    images = await runBuildStage(host, { settings, release, context, registry });
    const scanned = await runScanStage(host, { settings, images, tempDir: context.tempDir });
    gate = await runGateStage(host, { settings, policy, images, scanned });
    if (settings.mode === 'build') {
      const store = await recordStoreFor(settings, host.env);
      await uploadBuildRecords(host, {
        ...{ settings, context, policy, images, store },
        gate: { ...gate, tools: scanned.tools },
      });
      assertGatePassed(gate.verdict);
      host.log.info(
        'mode: build: the platforms are built, pushed by digest and gated; the publish job tags them',
      );
      return { settings, release, images, gate };
    }
  }
  assertGatePassed(gate.verdict);
  const published = await runPublishStep(host, {
    settings,
    policy,
    release,
    images,
    gate,
    context,
    registry,
    reportsDir: gate.reportsDir,
  });
  return { settings, release, images, gate, published };
}
