/**
 * The matrix hand-over: `mode: build` jobs leave one record a platform; the `mode: publish` job merges them, checks
 * every image against the registry and re-evaluates the policy over all platforms.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import type { PlatformImage } from '../image/pushed-image.js';
import { evaluateScans } from '../policy/decide.js';
import type { GateResult } from '../policy/decide.js';
import { policyDigest } from '../policy/index.js';
import type { PlatformProvenance } from '../provenance/slsa.js';
import { handOverBundleParts, placeHandOverBundleParts } from '../publish/offline-bundles.js';
import { buildRecordPrefix } from '../records/build-record.js';
import { writePlatformRecord } from '../records/hand-over.js';
import { recordStoreFor } from '../records/record-store.js';
import type { RecordStore } from '../records/record-store.js';
import { chooseRecords, restorePlatform } from '../records/restore.js';
import type { RegistryClient } from '../registry/client.js';
import type { ScannerVersions } from '../scan/scanners.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import type { Settings } from '../settings/inputs.js';
import { digestsOutput } from './build.js';
import { reportGate } from './gate.js';

/** `mode: build`: one record a platform (image, files, verdict), uploaded whatever the verdict. */
export async function runHandOverStage(
  host: ActionHost,
  input: {
    settings: Settings;
    context: RunnerContext;
    images: readonly PlatformImage[];
    gate: GateResult;
    tools: ScannerVersions;
    provenance?: readonly PlatformProvenance[];
    registry: RegistryClient;
    version: string;
  },
): Promise<string[]> {
  const store = await recordStoreFor(input.settings, host.env);
  const names = await host.log.group('Upload build records', () => uploadRecords(host, input, store));
  if (input.gate.verdict.pass)
    host.log.info(
      'mode: build: the platforms are built, pushed by digest and gated; the publish job tags them',
    );
  return names;
}

/** `mode: publish`: this run's records → the images and the gate over all of them; outputs as a build would. */
export async function runMergeStage(
  host: ActionHost,
  input: { settings: Settings; context: RunnerContext; registry: RegistryClient },
): Promise<{ images: PlatformImage[]; gate: GateResult; provenance: PlatformProvenance[] }> {
  const store = await recordStoreFor(input.settings, host.env);
  const merged = await host.log.group('Merge build records', () => mergeRecords(host, input, store));
  host.setOutput('digests', digestsOutput(merged.images));
  await reportGate(host, merged.gate, merged.images);
  return merged;
}

async function uploadRecords(
  host: ActionHost,
  input: Parameters<typeof runHandOverStage>[1],
  store: RecordStore,
): Promise<string[]> {
  const { settings, context, gate } = input;
  const names: string[] = [];
  for (const image of input.images) {
    const { name, dir, files, record } = writePlatformRecord(
      {
        imageName: settings.imageName,
        run: { ...context, ...context.release, commit: context.release.sha },
        image,
        scan: gate.scans.find((s) => s.platform === image.platform)!,
        pass: gate.verdict.pass && !!gate.verdict.platforms.find((p) => p.platform === image.platform)?.pass,
        policyDigest: policyDigest(settings.gatePolicy),
        tools: input.tools,
        created: host.now(),
        provenance: input.provenance?.find((p) => p.digest === image.digest)?.predicate,
      },
      context.tempDir,
    );
    if (gate.verdict.pass)
      files.push(...(await handOverBundleParts({ ...input, log: host.log }, image, dir)));
    await store.upload(name, files, dir);
    host.log.info(`${image.platform}: record ${name} (${record.gate.verdict}) → ${store.describe()}`);
    names.push(name);
  }
  return names;
}

async function mergeRecords(
  host: ActionHost,
  input: Parameters<typeof runMergeStage>[1],
  store: RecordStore,
): Promise<{ images: PlatformImage[]; gate: GateResult; provenance: PlatformProvenance[] }> {
  const { settings, context } = input;
  const into = mkdtempSync(path.join(context.tempDir, 'edgeship-records-'));
  const downloaded = await store.downloadAll(buildRecordPrefix(settings.imageName), into);
  host.log.info(
    `${downloaded.length} record(s) from ${store.describe()}: ${downloaded.map((d) => d.name).join(', ') || 'none'}`,
  );
  const chosen = chooseRecords(downloaded, {
    image: settings.imageName,
    commit: context.release.sha,
    runId: context.runId,
    platforms: settings.platforms,
  });
  const reportsDir = settings.gate.reportsDir ?? path.join(context.tempDir, 'edgeship-reports');
  mkdirSync(reportsDir, { recursive: true });
  const restored = [];
  for (const one of chosen) {
    const repository = { path: settings.image.path, name: settings.imageName };
    restored.push(await restorePlatform(input.registry, repository, one, reportsDir));
    placeHandOverBundleParts(one.dir, reportsDir);
    host.log.info(
      `${one.record.platform}: ${one.record.digest} verified in the registry (attempt ${one.record.run.attempt})`,
    );
  }
  const images = restored.map((r) => r.image);
  const scans = restored.map((r) => r.scan);
  const verdict = evaluateScans(settings.gatePolicy, scans, images, host.now());
  const provenance = restored.flatMap((r) => (r.provenance ? [r.provenance] : []));
  return { images, gate: { verdict, scans, reportsDir }, provenance };
}
