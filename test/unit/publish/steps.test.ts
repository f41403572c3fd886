/** The pure parts of the publish steps: which scans are publishable, which files a release carries. */
import { describe, expect, it } from 'vitest';

import type { PlatformImage } from '../../../src/image/pushed-image.js';
import { gatedImages } from '../../../src/publish/gated-images.js';
import { PublishError } from '../../../src/publish/model.js';
import { releaseAssetList } from '../../../src/publish/release-assets.js';
import type { GateResult } from '../../../src/policy/decide.js';
import type { PlatformScan } from '../../../src/scan/scan-platforms.js';

const scan = (platform: string): PlatformScan => ({
  platform,
  digest: `sha256:${'a'.repeat(64)}`,
  sbomFiles: [
    { format: 'spdx-json', file: `/r/sbom-${platform.replace('/', '-')}.spdx.json` },
    { format: 'cyclonedx-json', file: `/r/sbom-${platform.replace('/', '-')}.cdx.json` },
  ],
  packages: 2,
  reportFile: `/r/grype-${platform.replace('/', '-')}.json`,
  sarifFile: `/r/grype-${platform.replace('/', '-')}.sarif`,
  report: { matches: [], ignoredByGrype: [], ignoredMatches: 0 },
});
const gate = (pass: boolean, platforms: string[]) =>
  ({ verdict: { pass }, scans: platforms.map(scan), reportsDir: '/r' }) as unknown as GateResult;
const image = (platform: string) => ({ platform }) as PlatformImage;

describe('gatedImages', () => {
  it('pairs each image with its scan, in order', () => {
    const gated = gatedImages(gate(true, ['linux/amd64', 'linux/arm64']), [image('linux/arm64')]);
    expect(gated.map((g) => [g.image.platform, g.scan.sarifFile])).toEqual([
      ['linux/arm64', '/r/grype-linux-arm64.sarif'],
    ]);
  });

  it('refuses a failed gate and an image that was not scanned', () => {
    expect(() => gatedImages(gate(false, ['linux/amd64']), [image('linux/amd64')])).toThrow(
      new PublishError('the gate did not pass: nothing is published'),
    );
    expect(() =>
      gatedImages(gate(true, ['linux/amd64']), [image('linux/amd64'), image('linux/arm64')]),
    ).toThrow(/no scan of linux\/arm64: it was not gated, so it cannot be published/);
  });
});

describe('releaseAssetList', () => {
  it('lists the manifest and its bundle, each SBOM and SARIF report, then the rendered templates', () => {
    const assets = releaseAssetList(gate(true, ['linux/amd64', 'linux/arm64']), {
      file: '/r/edgeship-deployment-1.2.3.yaml',
      bundleFile: '/r/edgeship-deployment-1.2.3.sigstore.json',
      renderedTemplates: ['/r/compose.rendered.yaml'],
    });
    expect(assets.map((a) => `${a.name} ${a.contentType}`)).toEqual([
      'edgeship-deployment-1.2.3.yaml application/yaml',
      'edgeship-deployment-1.2.3.sigstore.json application/json',
      'sbom-linux-amd64.spdx.json application/json',
      'sbom-linux-amd64.cdx.json application/json',
      'grype-linux-amd64.sarif application/json',
      'sbom-linux-arm64.spdx.json application/json',
      'sbom-linux-arm64.cdx.json application/json',
      'grype-linux-arm64.sarif application/json',
      'compose.rendered.yaml application/yaml',
    ]);
    expect(assets[0]?.file).toBe('/r/edgeship-deployment-1.2.3.yaml');
  });

  it('has no bundle when signing is off', () => {
    const assets = releaseAssetList(gate(true, []), {
      file: '/r/m.yaml',
      bundleFile: undefined,
      renderedTemplates: [],
    });
    expect(assets).toEqual([{ name: 'm.yaml', file: '/r/m.yaml', contentType: 'application/yaml' }]);
  });
});
