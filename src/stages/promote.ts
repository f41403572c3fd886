import { mkdir, writeFile } from 'node:fs/promises';
import {
  carriedSignatures,
  prefetchCarried,
  PROMOTION_DEFERS,
  type CarriedSignatures,
} from '../lifecycle/carried-signatures.js';
import { writeSbomFiles, type ReleaseTrust } from '../lifecycle/read-release.js';
import {
  openRelease,
  verifyOpenedRelease,
  type OpenedRelease,
  type ReadRelease,
} from '../lifecycle/release-reader.js';
import type { PhaseLog } from '../logging/phase-log.js';
import { planPromotion, type PromotionPlan } from '../publish/promote.js';
import { expectedSourceSigner, loadSigningFor, trustMaterialFor } from '../publish/publish-deps.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import type { RegistryClient } from '../registry/client.js';
import type { SbomToScan } from '../scan/rescan.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import type { Settings } from '../settings/inputs.js';
import { reportsDirFor } from './scan.js';

/** The release to promote, resolved, its SBOM attestations verified and written where a scan writes them. */
export interface OpenedSource extends OpenedRelease, SourceFiles {}

/** The release to promote, verified as far as the promotion relies on it, with its SBOMs written for a scan. */
export interface PromotionSource extends ReadRelease, SourceFiles {}

/** What the promotion's stages hand on beside the release: its SBOM files and what it verifies against. */
interface SourceFiles {
  sbomFiles: SbomToScan[];
  trust: ReleaseTrust;
}

/**
 * `mode: promote`, first step: the release named by `from` is resolved, its deployment manifests and its images'
 * manifests and configs read, and its SBOM attestations verified against the expected signer and written where a
 * scan writes them, so the re-scan can start; nothing is pulled but manifests, configs and bundles.
 */
export async function runOpenReleaseStage(
  host: ActionHost,
  input: { settings: Settings; context: RunnerContext; registry: RegistryClient },
): Promise<OpenedSource> {
  const { settings, context, registry } = input;
  const from = settings.from!;
  return host.log.group(`Read ${settings.imageName}:${from} and its SBOM attestations`, async () => {
    // The trust material loads (through TUF for the public-good root) while the release is read.
    const trusted = trustMaterialFor(settings).then((material) => ({
      material,
      expected: expectedSourceSigner(settings, host.env),
    }));
    trusted.catch(() => undefined); // raised where it is awaited; a failed read says why first
    const opened = await openRelease(registry, repositoryOf(settings), from, trusted, host.log);
    void prefetchCarried(opened.reads, settings.image.path, opened);
    const trust = await trusted;
    const reportsDir = reportsDirFor(settings, context.tempDir);
    await mkdir(reportsDir, { recursive: true });
    const sbomFiles = await writeSbomFiles(opened.sboms, reportsDir, (f, text) => writeFile(f, text));
    return { ...opened, sbomFiles, trust };
  });
}

/**
 * `mode: promote`, second step (beside the re-scan): the image signatures and the SLSA provenance its manifest
 * lists verified against the expected signer, and its signed deployment manifest picked. An unsigned or foreign
 * release stops here. What it only carries over is verified by runCarryOverStage.
 */
export async function runReadReleaseStage(
  host: ActionHost,
  input: { settings: Settings; registry: RegistryClient; opened: OpenedSource },
): Promise<PromotionSource> {
  const { settings, registry, opened } = input;
  return host.log.group(`Verify ${settings.imageName}:${settings.from!}`, async () => {
    const repository = repositoryOf(settings);
    const source = await verifyOpenedRelease(
      registry,
      repository,
      opened,
      opened.trust,
      host.log,
      PROMOTION_DEFERS,
    );
    return { ...source, sbomFiles: opened.sbomFiles, trust: opened.trust };
  });
}

function repositoryOf(settings: Settings) {
  return { path: settings.image.path, name: settings.imageName };
}

/**
 * `mode: promote`: every other signature of the promoted digests that the source's signed manifest lists (bundles
 * the read left for later, classic `.sig`/`.att` layers), verified so the new manifest can list it again. Runs
 * beside the re-scan, logging to `log`; a listed one that is gone or does not verify refuses the promotion.
 */
export async function runCarryOverStage(
  input: { settings: Settings; source: PromotionSource },
  log: PhaseLog,
): Promise<CarriedSignatures> {
  const { settings, source } = input;
  const carried = await carriedSignatures(source.reads, repositoryOf(settings), source, source.trust);
  // The signing library compiles while the re-scan ends (nothing is signed before the gate passed).
  loadSigningFor(settings);
  log.info(
    `carried over: ${carried.bundles.length} bundle(s) and ${carried.classic.length} classic signature(s) verified`,
  );
  return carried;
}

/**
 * `mode: promote`: where this ref's tags are and the channel baseline, read for the opened release's index while
 * it is verified and re-scanned (only reads; a tag is checked again right before it is written). A release tag
 * held by another index or a downgrade refuses the promotion.
 */
export function runPlanPromotionStage(
  input: { settings: Settings; release: ReleaseMetadata; registry: RegistryClient; opened: OpenedSource },
  log: PhaseLog,
): Promise<PromotionPlan> {
  const { settings, release, registry, opened } = input;
  const indexDigest = opened.release.index.digest;
  return planPromotion(registry, { settings, release, images: opened.images, indexDigest }, log);
}
