import { mkdir, writeFile } from 'node:fs/promises';
import {
  carriedSignatures,
  PROMOTION_DEFERS,
  type CarriedSignatures,
} from '../lifecycle/carried-signatures.js';
import { readRelease, writeSbomFiles, type ReadRelease } from '../lifecycle/read-release.js';
import type { PhaseLog } from '../logging/phase-log.js';
import { expectedSourceSigner, trustMaterialFor } from '../publish/publish-deps.js';
import type { RegistryClient } from '../registry/client.js';
import type { SbomToScan } from '../scan/rescan.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import type { ExpectedSigner, TrustMaterial } from '../sign/verify.js';
import type { Settings } from '../settings/inputs.js';
import { reportsDirFor } from './scan.js';

/** The release to promote, verified as far as the promotion relies on it, with its SBOMs written for a scan. */
export interface PromotionSource extends ReadRelease {
  sbomFiles: SbomToScan[];
  trust: { material: TrustMaterial; expected: ExpectedSigner };
}

/**
 * `mode: promote`, first step: the release named by `from` is resolved, its image signatures, SBOM attestations
 * and SLSA provenance (when its manifest lists one) verified against the expected signer, and its signed
 * deployment manifest read; nothing is pulled but manifests, configs and bundles. An unsigned or foreign release
 * stops here. What it only carries over is verified by runCarryOverStage.
 */
export async function runReadReleaseStage(
  host: ActionHost,
  input: { settings: Settings; context: RunnerContext; registry: RegistryClient },
): Promise<PromotionSource> {
  const { settings, context, registry } = input;
  const from = settings.from!;
  return host.log.group(`Read and verify ${settings.imageName}:${from}`, async () => {
    const trust = {
      material: await trustMaterialFor(settings),
      expected: expectedSourceSigner(settings, host.env),
    };
    const repository = { path: settings.image.path, name: settings.imageName };
    const source = await readRelease(registry, repository, from, trust, host.log, PROMOTION_DEFERS);
    const reportsDir = reportsDirFor(settings, context.tempDir);
    await mkdir(reportsDir, { recursive: true });
    const sbomFiles = await writeSbomFiles(source.sboms, reportsDir, (f, text) => writeFile(f, text));
    return { ...source, sbomFiles, trust };
  });
}

/**
 * `mode: promote`: every other signature of the promoted digests that the source's signed manifest lists (bundles
 * the read left for later, classic `.sig`/`.att` layers), verified so the new manifest can list it again. Runs
 * beside the re-scan, logging to `log`; a listed one that is gone or does not verify refuses the promotion.
 */
export async function runCarryOverStage(
  input: { settings: Settings; registry: RegistryClient; source: PromotionSource },
  log: PhaseLog,
): Promise<CarriedSignatures> {
  const { settings, registry, source } = input;
  const repository = { path: settings.image.path, name: settings.imageName };
  const carried = await carriedSignatures(registry, repository, source, source.trust);
  log.info(
    `carried over: ${carried.bundles.length} bundle(s) and ${carried.classic.length} classic signature(s) verified`,
  );
  return carried;
}
