/**
 * The gate's decision over scanned platforms: scans that cannot be judged (an empty SBOM of an image
 * that has content) fail closed; everything else is the policy's verdict with each image's size, user
 * and HEALTHCHECK.
 */
import type { PlatformImage } from '../image/pushed-image.js';
import { incompleteScans } from '../scan/scan-platforms.js';
import type { PlatformScan, ScanResult } from '../scan/scan-platforms.js';
import { evaluateGate } from './evaluate.js';
import type { GateVerdict } from './evaluate.js';
import type { Policy } from './policy.js';

/** The scans and the gate's verdict over them. */
export interface GateResult extends ScanResult {
  verdict: GateVerdict;
}

/** Why the gate could not even evaluate: it fails closed and says which platform and what to do. */
export class GateError extends Error {
  override name = 'GateError';
}

export interface GateOptions {
  /** The `allow-empty-sbom` input. */
  allowEmptySbom: boolean;
  now: Date;
}

/** Fails closed on scans that cannot be judged, then evaluates the policy over all of them. */
export function decideGate(
  policy: Policy,
  scans: readonly PlatformScan[],
  images: readonly PlatformImage[],
  options: GateOptions,
): GateVerdict {
  const empty = options.allowEmptySbom ? [] : emptySboms(scans, images);
  if (empty.length) {
    // Worded like a scan that did not complete: an SBOM with nothing in it gives the gate nothing to judge.
    const why = empty.map(
      (image) =>
        `${image.platform}: Syft found no packages in ${image.platform} (${image.size} bytes of layers). ` +
        'An empty SBOM cannot be scanned, so the gate fails closed. ' +
        'If the image really holds nothing Syft can identify (e.g. one static binary FROM scratch), set allow-empty-sbom: true.',
    );
    throw new GateError(incompleteScans(why, scans.length));
  }
  return evaluateScans(policy, scans, images, options.now);
}

/** The policy's verdict over scanned platforms, with each image's size, user and HEALTHCHECK. */
export function evaluateScans(
  policy: Policy,
  scans: readonly PlatformScan[],
  images: readonly PlatformImage[],
  now: Date,
): GateVerdict {
  return evaluateGate(
    policy,
    scans.map((scan) => {
      const image = imageOf(scan, images);
      return {
        platform: scan.platform,
        report: scan.report,
        image: {
          size: image.size,
          user: image.config.user,
          healthcheck: image.config.healthcheck,
          digest: image.digest,
        },
      };
    }),
    now,
  );
}

/** Counts per platform and severity (before waivers), for the `vulnerabilities` output. */
export function vulnerabilityCounts(verdict: GateVerdict): Record<string, Record<string, number>> {
  return Object.fromEntries(
    verdict.platforms.map((p) => [
      p.platform,
      Object.fromEntries(Object.entries(p.counts).map(([k, v]) => [k.toLowerCase(), v])),
    ]),
  );
}

/** Images whose SBOM lists no package although they have non-empty layers. */
function emptySboms(scans: readonly PlatformScan[], images: readonly PlatformImage[]): PlatformImage[] {
  return scans
    .filter((scan) => scan.packages === 0)
    .map((scan) => imageOf(scan, images))
    .filter((image) => image.layers.some((l) => l.size > 0));
}

function imageOf(scan: PlatformScan, images: readonly PlatformImage[]): PlatformImage {
  const image = images.find((i) => i.platform === scan.platform);
  if (!image) throw new GateError(`no image for the scan of ${scan.platform}`);
  return image;
}
