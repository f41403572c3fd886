import { describe, expect, it } from 'vitest';
import { parsePlatform } from '../../../src/image/platform.js';
import {
  isAttestationEntry,
  selectPlatformManifest,
  summarizeImageConfig,
} from '../../../src/image/pushed-image.js';
import type { IndexEntry } from '../../../src/image/pushed-image.js';
import { fixturesPresent, readFixtureJson } from '../../shared-fixtures.js';

type Index = { manifests: IndexEntry[] };

describe.skipIf(!fixturesPresent)('selecting a platform out of real indexes', () => {
  it('skips buildx attestation manifests (unknown/unknown)', () => {
    const index = readFixtureJson<Index>(
      'oci/image-index/buildx_oci-layout_index_amd64-arm64+attestation-manifests.json',
    );
    const arm = index.manifests.find((m) => m.platform?.architecture === 'arm64')!;
    expect(selectPlatformManifest(index, parsePlatform('linux/arm64')).digest).toBe(arm.digest);
    expect(index.manifests.filter((m) => isAttestationEntry(m))).toHaveLength(2);
  });

  it('skips unknown/unknown builder references (regclient test repo)', () => {
    const index = readFixtureJson<Index>(
      'oci/image-index/regclient-testrepo-v1_amd64-arm64+unknown-builder-refs.json',
    );
    const amd = index.manifests.find((m) => m.platform?.architecture === 'amd64')!;
    expect(selectPlatformManifest(index, parsePlatform('linux/amd64')).digest).toBe(amd.digest);
    expect(() => selectPlatformManifest(index, parsePlatform('linux/arm/v7'))).toThrow(
      /no manifest for linux\/arm\/v7 \(it has: linux\/amd64, linux\/arm64\)/,
    );
  });

  it('refuses an index whose entries carry no platform fields', () => {
    const index = readFixtureJson(
      'oci/image-index/hello-world_oci-index_amd64+windows_NO-platform-fields.json',
    );
    expect(() => selectPlatformManifest(index, parsePlatform('linux/amd64'))).toThrow(/it has: none/);
  });

  it('summarises a real buildx image config', () => {
    const config = summarizeImageConfig(readFixtureJson('oci/config/buildx_image-config_linux-arm64.json'));
    expect(config).toEqual({ os: 'linux', architecture: 'arm64', user: '', healthcheck: false, labels: {} });
  });

  it('recognises the unknown/unknown attestation config as no platform', () => {
    const config = summarizeImageConfig(
      readFixtureJson('oci/attestation/buildx_attestation-config_unknown-unknown.json'),
    );
    expect(config.architecture).toBe('unknown');
  });
});

describe('image config summary', () => {
  it('reads user, healthcheck and labels of a docker-format config', () => {
    expect(
      summarizeImageConfig({
        os: 'linux',
        architecture: 'arm',
        variant: 'v7',
        config: { User: '1000:1000', Healthcheck: { Test: ['CMD', '/bin/check'] }, Labels: { a: 'b', n: 1 } },
      }),
    ).toEqual({
      os: 'linux',
      architecture: 'arm',
      variant: 'v7',
      user: '1000:1000',
      healthcheck: true,
      labels: { a: 'b' },
    });
  });

  it('treats HEALTHCHECK NONE as no healthcheck', () => {
    expect(
      summarizeImageConfig({
        os: 'linux',
        architecture: 'amd64',
        config: { Healthcheck: { Test: ['NONE'] } },
      }).healthcheck,
    ).toBe(false);
  });

  it('refuses a config without os/architecture', () => {
    expect(() => summarizeImageConfig({ config: {} })).toThrow(/no os\/architecture/);
    expect(() => summarizeImageConfig(null)).toThrow(/no os\/architecture/);
  });

  it('refuses an index without manifests', () => {
    expect(() => selectPlatformManifest({}, parsePlatform('linux/amd64'))).toThrow(/no manifests array/);
  });
});
