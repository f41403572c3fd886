import type { PlatformImage } from '../image/pushed-image.js';
import type { GateResult } from '../policy/decide.js';
import { PublishError, type GatedImage } from './model.js';

/**
 * Each image to publish with the gate's scan of it, in order. Refuses, before anything is written, a gate
 * that did not pass and an image that was not scanned.
 */
export function gatedImages(gate: GateResult, images: readonly PlatformImage[]): GatedImage[] {
  if (!gate.verdict.pass) throw new PublishError('the gate did not pass: nothing is published');
  return images.map((image) => {
    const scan = gate.scans.find((s) => s.platform === image.platform);
    if (!scan) {
      throw new PublishError(`no scan of ${image.platform}: it was not gated, so it cannot be published`);
    }
    return { image, scan };
  });
}
