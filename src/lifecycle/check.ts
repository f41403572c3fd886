/**
 * The pull-request check against production (`mode: check`): the production release read back (verified when its
 * signer is known, so its recorded findings can be trusted), and each platform the pull request builds compared
 * with it: size, what a device on production downloads to run it, findings production's signed scan did not have.
 */
import { layerDelta } from '../deployment/delta.js';
import type { PlatformImage } from '../image/pushed-image.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { RegistryClient } from '../registry/client.js';
import { diffFindings } from '../scan/findings-diff.js';
import type { GrypeReport, VulnerabilityMatch } from '../scan/grype-report.js';
import type { PlatformScan } from '../scan/scan-platforms.js';
import {
  readReleaseImages,
  resolveRelease,
  type ReleaseRepository,
  type ReleaseTrust,
} from './read-release.js';
import { readReleaseToRescan } from './rescan.js';

export const PRODUCTION_TAG = 'production';

/** The production release as a check sees it. */
export interface ProductionBaseline {
  version: string;
  digest: string;
  images: PlatformImage[];
  /** Findings of its signed scans by platform; empty when they could not be verified. */
  recorded: Map<string, GrypeReport | undefined>;
  /** Why findings were not compared, when they were not. */
  note?: string;
}

/** Reads `production` (verified when `trust` is given); undefined when there is no production release yet. */
export async function readProductionBaseline(
  registry: RegistryClient,
  repository: ReleaseRepository,
  /** Loaded only when there is a production release; undefined when it cannot be verified. */
  loadTrust: () => Promise<ReleaseTrust | undefined>,
  log: PhaseLog,
): Promise<ProductionBaseline | undefined> {
  const head = await registry.headManifest(repository.path, PRODUCTION_TAG);
  if (!head) {
    log.info(`${repository.name}:${PRODUCTION_TAG} does not exist: nothing to compare with`);
    return undefined;
  }
  let note = 'production’s signatures cannot be verified here: its findings are not compared';
  const trust = await loadTrust();
  if (trust) {
    try {
      const read = await readReleaseToRescan(
        registry,
        repository,
        { digest: head.digest, references: [PRODUCTION_TAG] },
        trust,
        log,
      );
      const recorded = new Map(
        [...read.recorded].map(([digest, report]) => [platformOf(read.images, digest), report]),
      );
      return {
        version: read.manifest.manifest.release.version,
        digest: head.digest,
        images: read.images,
        recorded,
      };
    } catch (error) {
      note = `production’s signatures could not be verified, so its findings are not compared: ${(error as Error).message}`;
      log.warning(note);
    }
  }
  const release = await resolveRelease(registry, repository, head.digest);
  const images = await readReleaseImages(registry, repository, release);
  const version = release.annotations['org.opencontainers.image.version'] ?? '';
  return { version, digest: head.digest, images, recorded: new Map(), note };
}

function platformOf(images: readonly PlatformImage[], digest: string): string {
  return images.find((i) => i.digest === digest)?.platform ?? digest;
}

/** One platform of the pull request next to production. */
export interface ComparedPlatform {
  platform: string;
  size: number;
  production?: { size: number; upgradeBytes: number; newFindings?: VulnerabilityMatch[] };
}

export function compareWithProduction(
  images: readonly PlatformImage[],
  scans: readonly PlatformScan[],
  production: ProductionBaseline | undefined,
): ComparedPlatform[] {
  return images.map((image) => {
    const before = production?.images.find((i) => i.platform === image.platform);
    if (!production || !before) return { platform: image.platform, size: image.size };
    const recorded = production.recorded.get(image.platform);
    const scan = scans.find((s) => s.platform === image.platform);
    return {
      platform: image.platform,
      size: image.size,
      production: {
        size: before.size,
        upgradeBytes: layerDelta(image, before).bytes,
        ...(recorded && scan
          ? { newFindings: diffFindings(recorded.matches, scan.report.matches).added }
          : {}),
      },
    };
  });
}
