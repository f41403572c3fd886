import { describe, expect, it } from 'vitest';
import { sbomFileName, syftEnvironment, syftScanArgs } from '../../../src/scan/syft.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('syft argv', () => {
  it('scans the pushed manifest by digest from the registry for one platform, one -o per format', () => {
    expect(
      syftScanArgs({
        image: 'ghcr.io/acme/agent',
        digest: DIGEST,
        platform: 'linux/arm64',
        outputs: [
          { format: 'spdx-json', file: '/out/sbom-linux-arm64.spdx.json' },
          { format: 'cyclonedx-json', file: '/out/sbom-linux-arm64.cdx.json' },
        ],
      }),
    ).toEqual([
      'scan',
      `registry:ghcr.io/acme/agent@${DIGEST}`,
      '--platform',
      'linux/arm64',
      '-o',
      'spdx-json=/out/sbom-linux-arm64.spdx.json',
      '-o',
      'cyclonedx-json=/out/sbom-linux-arm64.cdx.json',
    ]);
  });

  it('refuses to scan anything but a digest', () => {
    const base = {
      image: 'localhost:5000/app',
      platform: 'linux/amd64',
      outputs: [{ format: 'syft-json' as const, file: 'x' }],
    };
    expect(() => syftScanArgs({ ...base, digest: 'latest' })).toThrow(/scans by digest/);
    expect(() => syftScanArgs({ ...base, digest: `sha256:${'AB'.repeat(32)}` })).toThrow(/scans by digest/);
    expect(() => syftScanArgs({ ...base, image: `localhost:5000/app@${DIGEST}`, digest: DIGEST })).toThrow(
      /without digest/,
    );
    expect(() => syftScanArgs({ ...base, digest: DIGEST, outputs: [] })).toThrow(/at least one SBOM output/);
  });
});

describe('syft environment', () => {
  it('never checks for updates and passes credentials only through the environment', () => {
    expect(
      syftEnvironment({
        registry: 'ghcr.io',
        username: 'octocat',
        password: 's3cret',
        caFile: '/etc/ca.pem',
      }),
    ).toEqual({
      SYFT_CHECK_FOR_APP_UPDATE: 'false',
      SYFT_REGISTRY_AUTH_AUTHORITY: 'ghcr.io',
      SYFT_REGISTRY_AUTH_USERNAME: 'octocat',
      SYFT_REGISTRY_AUTH_PASSWORD: 's3cret',
      SYFT_REGISTRY_CA_CERT: '/etc/ca.pem',
    });
  });

  it('is anonymous without a complete credential, and plain HTTP only when asked', () => {
    expect(syftEnvironment({ registry: 'localhost:5000', username: 'u', insecureHttp: true })).toEqual({
      SYFT_CHECK_FOR_APP_UPDATE: 'false',
      SYFT_REGISTRY_INSECURE_USE_HTTP: 'true',
    });
  });

  it('keeps the password out of argv', () => {
    const args = syftScanArgs({
      image: 'ghcr.io/acme/agent',
      digest: DIGEST,
      platform: 'linux/amd64',
      outputs: [{ format: 'spdx-json', file: 'sbom.json' }],
    });
    expect(args.join(' ')).not.toContain('s3cret');
  });
});

describe('SBOM files', () => {
  it('names SBOM files by platform and format', () => {
    expect(sbomFileName('linux-arm64', 'spdx-json')).toBe('sbom-linux-arm64.spdx.json');
    expect(sbomFileName('linux-arm-v7', 'cyclonedx-json')).toBe('sbom-linux-arm-v7.cdx.json');
    expect(sbomFileName('linux-amd64', 'syft-json')).toBe('sbom-linux-amd64.syft.json');
  });
});
