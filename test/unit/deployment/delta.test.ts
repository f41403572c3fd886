import { describe, expect, it } from 'vitest';
import { layerDelta, platformDeltas, platformKey } from '../../../src/deployment/delta.js';
import { digest } from './fixtures.js';

const layer = (seed: string, size: number) => ({ digest: digest(seed), size });

/** Base image layers shared by two releases, then the application layer on top. */
const BASE = [layer('01', 30_000_000), layer('02', 5_000_000), layer('03', 1_000_000)];

function release(top: { digest: string; size: number }, configSeed: string, configSize = 4_000) {
  const layers = [...BASE, top];
  return {
    layers,
    configDigest: digest(configSeed),
    configSize,
    size: configSize + layers.reduce((s, l) => s + l.size, 0),
  };
}

describe('layerDelta', () => {
  it('second release with only the top layer changed: that layer plus the new config', () => {
    const v1 = release(layer('a1', 2_000_000), 'c1');
    const v2 = release(layer('a2', 2_100_000), 'c2', 4_100);
    expect(layerDelta(v2, v1)).toEqual({ bytes: 2_100_000 + 4_100, layers: 1, reusedBytes: 36_000_000 });
  });

  it('identical layers but a changed config (a new label): 0 layers, the config bytes', () => {
    const v1 = release(layer('a1', 2_000_000), 'c1');
    const v2 = release(layer('a1', 2_000_000), 'c2', 4_200);
    expect(layerDelta(v2, v1)).toEqual({ bytes: 4_200, layers: 0, reusedBytes: 38_000_000 });
  });

  it('the very same image: nothing to download', () => {
    const v1 = release(layer('a1', 2_000_000), 'c1');
    expect(layerDelta(v1, v1)).toEqual({ bytes: 0, layers: 0, reusedBytes: v1.size });
  });

  it('no baseline: the full image', () => {
    const v1 = release(layer('a1', 2_000_000), 'c1');
    expect(layerDelta(v1, undefined)).toEqual({ bytes: v1.size, layers: 4, reusedBytes: 0 });
  });

  it('a changed base layer below an unchanged one still costs only that layer', () => {
    const v1 = release(layer('a1', 2_000_000), 'c1');
    const v2 = { ...v1, layers: [BASE[0]!, layer('0f', 5_500_000), BASE[2]!, layer('a1', 2_000_000)] };
    expect(layerDelta(v2, v1)).toMatchObject({ bytes: 5_500_000, layers: 1 });
  });

  it('layers are matched by digest, whatever their order', () => {
    const v1 = release(layer('a1', 2_000_000), 'c1');
    const v2 = { ...v1, layers: [...v1.layers].reverse() };
    expect(layerDelta(v2, v1)).toEqual({ bytes: 0, layers: 0, reusedBytes: v1.size });
  });

  it('a blob listed twice is downloaded once', () => {
    const empty = layer('e0', 32);
    const current = { layers: [layer('a1', 100), empty, empty], configDigest: digest('c1'), configSize: 10 };
    expect(layerDelta(current, undefined)).toEqual({ bytes: 142, layers: 2, reusedBytes: 0 });
  });

  it('derives the config size from the total size when configSize is not given', () => {
    const current = { layers: [layer('a1', 100), layer('a2', 200)], configDigest: digest('c1'), size: 350 };
    expect(layerDelta(current, undefined).bytes).toBe(350);
    const previous = {
      layers: [{ digest: digest('a1') }, { digest: digest('a2') }],
      configDigest: digest('c0'),
    };
    expect(layerDelta(current, previous)).toEqual({ bytes: 50, layers: 0, reusedBytes: 300 });
  });

  it('without configSize or size the config counts as 0 bytes', () => {
    const current = { layers: [layer('a1', 100)], configDigest: digest('c1') };
    expect(layerDelta(current, undefined)).toEqual({ bytes: 100, layers: 1, reusedBytes: 0 });
  });

  it('rejects a negative or fractional size', () => {
    expect(() => layerDelta({ layers: [layer('a1', -1)], configDigest: digest('c1') }, undefined)).toThrow(
      /invalid size -1/,
    );
    expect(() => layerDelta({ layers: [layer('a1', 1.5)], configDigest: digest('c1') }, undefined)).toThrow(
      RangeError,
    );
  });
});

describe('platformDeltas', () => {
  it('compares each platform with the previous image of the same platform', () => {
    const amd = { platform: 'linux/amd64', ...release(layer('a2', 2_000_000), 'c2') };
    const arm = { platform: 'linux/arm64', ...release(layer('b2', 1_900_000), 'c3') };
    const armv7 = { platform: 'linux/arm/v7', ...release(layer('d1', 1_800_000), 'c4') };
    const previous = new Map([
      ['linux/amd64', { ...release(layer('a1', 2_000_000), 'c0'), digest: digest('8') }],
      // Another spelling of the same platform.
      ['linux/arm64/v8', { ...release(layer('b1', 1_900_000), 'c1'), digest: digest('7') }],
    ]);
    const deltas = platformDeltas([amd, arm, armv7], previous);
    expect(deltas.get('linux/amd64')).toEqual({
      platform: 'linux/amd64',
      hasPrevious: true,
      previousDigest: digest('8'),
      bytes: 2_004_000,
      layers: 1,
      reusedBytes: 36_000_000,
    });
    expect(deltas.get('linux/arm64')).toMatchObject({
      hasPrevious: true,
      previousDigest: digest('7'),
      layers: 1,
    });
    // A platform the baseline did not have: full download.
    expect(deltas.get('linux/arm/v7')).toEqual({
      platform: 'linux/arm/v7',
      hasPrevious: false,
      bytes: armv7.size,
      layers: 4,
      reusedBytes: 0,
    });
  });

  it('never compares across platforms', () => {
    const amd = { platform: 'linux/amd64', ...release(layer('a1', 2_000_000), 'c1') };
    const deltas = platformDeltas([amd], new Map([['linux/arm64', release(layer('a1', 2_000_000), 'c1')]]));
    expect(deltas.get('linux/amd64')).toMatchObject({ hasPrevious: false, bytes: amd.size });
  });

  it('normalises platform names', () => {
    expect(platformKey('linux/aarch64')).toBe('linux/arm64');
    expect(platformKey('linux/arm64/v8')).toBe('linux/arm64');
    expect(platformKey(' weird/thing ')).toBe('weird/thing');
  });
});
