/** The reports the failure harness builds in code are ones the gate reads as Syft's and Grype's. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import type { PlatformImage } from '../../../src/image/pushed-image.js';
import { loadPolicy } from '../../../src/policy/index.js';
import { countSbomPackages } from '../../../src/scan/sbom.js';
import { passingGate, spdxSbom } from './harness.js';

const image = (platform: string, seed: string): PlatformImage => ({
  platform,
  digest: `sha256:${seed.repeat(64)}`,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  manifestSize: 400,
  size: 1000,
  config: { user: '1000', healthcheck: true } as PlatformImage['config'],
  configDigest: `sha256:${'c'.repeat(64)}`,
  layers: [],
});

describe('publish harness reports', () => {
  it('make a passing gate: an SPDX SBOM of two packages and a Grype report without matches', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'edgeship-harness-'));
    try {
      const images = [image('linux/amd64', 'a'), image('linux/arm64', 'b')];
      const gate = await passingGate(images, loadPolicy({}), dir);
      expect(gate.verdict.pass).toBe(true);
      expect(gate.scans.map((s) => [s.platform, s.packages, s.report.matches.length])).toEqual([
        ['linux/amd64', 2, 0],
        ['linux/arm64', 2, 0],
      ]);
      expect(gate.scans[0]?.report).toMatchObject({
        grypeVersion: '0.114.0',
        dbBuilt: '2026-01-01T00:00:00Z',
      });
      expect(() => countSbomPackages(spdxSbom(images[0]!), 'spdx-json')).not.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
