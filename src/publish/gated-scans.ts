import type { PlatformImage } from '../image/pushed-image.js';
import type { GateResult, PlatformScan } from '../scan/scan-platforms.js';
import { PublishError } from './model.js';

/**
 * The gate's scan of each image to publish, by platform. Refuses, before anything is written, a gate
 * that did not pass and an image that was not scanned.
 */
export function gatedScans(gate: GateResult, images: readonly PlatformImage[]): Map<string, PlatformScan> {
  if (!gate.verdict.pass) throw new PublishError('the gate did not pass: nothing is published');
  const scans = new Map<string, PlatformScan>();
  for (const image of images) {
    const scan = gate.scans.find((s) => s.platform === image.platform);
    if (!scan) {
      throw new PublishError(`no scan of ${image.platform}: it was not gated, so it cannot be published`);
    }
    scans.set(image.platform, scan);
  }
  return scans;
}

/** The scan of a gated image (see gatedScans). */
export function scanOf(scans: ReadonlyMap<string, PlatformScan>, platform: string): PlatformScan {
  const scan = scans.get(platform);
  if (!scan) throw new PublishError(`no scan of ${platform}: it was not gated, so it cannot be published`);
  return scan;
}
