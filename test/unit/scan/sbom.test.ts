import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { countSbomPackages } from '../../../src/scan/sbom.js';
import type { SbomFormat } from '../../../src/scan/syft.js';
import { fixturePath, fixturesPresent, readFixture } from '../../shared-fixtures.js';

type Json = Record<string, unknown>;

/** Every file under syft/, relative to the fixtures root. */
function syftFixtures(): string[] {
  return (
    readdirSync(fixturePath('syft'), { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[]
  )
    .filter((entry) => entry.isFile())
    .map((entry) => `${entry.parentPath}/${entry.name}`.slice(fixturePath('').length).replace(/^\/+/, ''))
    .sort();
}

/** What INDEX.md says of a file: the raw packages / components / artifacts counts of its row. */
function indexCounts(file: string): Record<string, number> {
  const row = readFixture('INDEX.md')
    .split('\n')
    .find((line) => line.startsWith(`| \`${file}\``));
  const counts: Record<string, number> = {};
  for (const [, key, value] of row?.matchAll(/\b(packages|components|artifacts)=(\d+)/g) ?? []) {
    counts[key!] = Number(value);
  }
  return counts;
}

/** The format a fixture is by where it sits / what it is named. */
function expectedFormat(file: string): SbomFormat | 'not-an-sbom' {
  if (file.includes('/spdx-json/') || file.includes('syft-spdx')) return 'spdx-json';
  if (file.includes('/cyclonedx-json/') || file.includes('syft-cdx')) return 'cyclonedx-json';
  if (file.includes('/syft-json/') || file.includes('syft-json_')) return 'syft-json';
  return 'not-an-sbom';
}

/** Counted independently of the implementation, from each format's own markers. */
function independentCount(doc: Json, format: SbomFormat): { raw: number; packages: number } {
  switch (format) {
    case 'spdx-json': {
      const packages = (doc.packages as Json[] | undefined) ?? [];
      const image = packages.filter(
        (p) =>
          p.primaryPackagePurpose === 'CONTAINER' || String(p.SPDXID).startsWith('SPDXRef-DocumentRoot-'),
      );
      return { raw: packages.length, packages: packages.length - image.length };
    }
    case 'cyclonedx-json': {
      const flat: Json[] = [];
      const walk = (list: Json[]) => {
        for (const c of list) {
          flat.push(c);
          walk((c.components as Json[] | undefined) ?? []);
        }
      };
      walk((doc.components as Json[] | undefined) ?? []);
      return { raw: flat.length, packages: flat.filter((c) => c.type !== 'operating-system').length };
    }
    case 'syft-json': {
      const artifacts = doc.artifacts as unknown[];
      return { raw: artifacts.length, packages: artifacts.length };
    }
  }
}

const RAW_KEY: Record<SbomFormat, string> = {
  'spdx-json': 'packages',
  'cyclonedx-json': 'components',
  'syft-json': 'artifacts',
};

describe.skipIf(!fixturesPresent)('SBOM package counts over every syft fixture', () => {
  const files = fixturesPresent ? syftFixtures() : [];

  it('covers the syft fixtures', () => {
    expect(files.length).toBeGreaterThanOrEqual(14);
  });

  for (const file of files) {
    const format = expectedFormat(file);
    if (format === 'not-an-sbom') {
      it(`${file} is refused as an SBOM`, () => {
        const text = readFixture(file);
        for (const f of ['spdx-json', 'cyclonedx-json', 'syft-json'] as const) {
          expect(() => countSbomPackages(text, f)).toThrow(/of no known SBOM format/);
        }
      });
      continue;
    }
    it(`${file}: ${format}, count matches the document and INDEX.md`, () => {
      const text = readFixture(file);
      const doc = JSON.parse(text) as Json;
      const independent = independentCount(doc, format);
      expect(countSbomPackages(text, format)).toBe(independent.packages);
      const documented = indexCounts(file)[RAW_KEY[format]];
      expect(documented, `INDEX.md row for ${file}`).toBeDefined();
      expect(independent.raw).toBe(documented);
    });
  }

  it('gives the same count for every format of one scan', () => {
    const count = (file: string, format: SbomFormat) => countSbomPackages(readFixture(file), format);
    // flasklate:latest arm64, one syft 0.47.0 run: 137 artifacts; CycloneDX adds the debian OS component.
    expect(count('syft/syft-json/flasklate-debian11_arm64_syft-0.47.0.syft.json', 'syft-json')).toBe(137);
    expect(
      count('syft/cyclonedx-json/flasklate-debian11_arm64_syft-0.47.0_cdx-1.4.json', 'cyclonedx-json'),
    ).toBe(137);
    // Syft's own goldens for one image: 2 packages; SPDX 2.3 adds the DocumentRoot image package.
    expect(count('syft/reference/SYNTHETIC_syft-json_TestImageEncoder.golden.json', 'syft-json')).toBe(2);
    expect(
      count('syft/reference/SYNTHETIC_syft-spdx-2.3_TestSPDXJSONImageEncoder.golden.json', 'spdx-json'),
    ).toBe(2);
    for (const v of ['1.5', '1.6', '1.7']) {
      expect(
        count(
          `syft/reference/SYNTHETIC_syft-cdx-${v}_TestCycloneDxImageEncoder.golden.json`,
          'cyclonedx-json',
        ),
      ).toBe(2);
    }
    // The same kubectl image built for amd64 and arm64.
    expect(count('syft/spdx-json/kubectl_linux-amd64_syft-0.58.0_spdx-2.2.json', 'spdx-json')).toBe(88);
    expect(count('syft/spdx-json/kubectl_linux-arm64_syft-0.58.0_spdx-2.2.json', 'spdx-json')).toBe(88);
  });

  it('refuses a truncated SBOM', () => {
    const text = readFixture('syft/syft-json/python-3.12-slim_amd64_syft-1.51.0.syft.json');
    const truncated = text.slice(0, Math.floor(text.length / 2));
    expect(() => countSbomPackages(truncated, 'syft-json')).toThrow(
      /The syft JSON SBOM is not valid JSON \(.*\); it is truncated or corrupted/,
    );
    expect(() => countSbomPackages('', 'spdx-json')).toThrow(/is empty/);
  });

  it('refuses a document of another format than the one asked for', () => {
    const cdx = readFixture('syft/cyclonedx-json/alpine-latest_syft-0.58.0_cdx-1.4.json');
    expect(() => countSbomPackages(cdx, 'spdx-json')).toThrow(
      'Expected an SBOM in SPDX JSON but the document is CycloneDX JSON',
    );
    const grypeReport = readFixture('grype/json/sbom-file-source_grype-0.114.0.json');
    expect(() => countSbomPackages(grypeReport, 'syft-json')).toThrow(/of no known SBOM format/);
  });
});

describe('SBOM counting rules', () => {
  it('excludes the package the SPDX document describes, by documentDescribes too', () => {
    const doc = {
      spdxVersion: 'SPDX-2.3',
      SPDXID: 'SPDXRef-DOCUMENT',
      documentDescribes: ['SPDXRef-root'],
      packages: [{ SPDXID: 'SPDXRef-root' }, { SPDXID: 'SPDXRef-a' }, { SPDXID: 'SPDXRef-b' }],
    };
    expect(countSbomPackages(JSON.stringify(doc), 'spdx-json')).toBe(2);
  });

  it('counts nested CycloneDX components and an empty SBOM as zero', () => {
    const doc = {
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      components: [{ type: 'library', components: [{ type: 'library' }, { type: 'operating-system' }] }],
    };
    expect(countSbomPackages(JSON.stringify(doc), 'cyclonedx-json')).toBe(2);
    expect(
      countSbomPackages(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6' }), 'cyclonedx-json'),
    ).toBe(0);
  });

  it('refuses a packages field that is not an array', () => {
    expect(() =>
      countSbomPackages(JSON.stringify({ spdxVersion: 'SPDX-2.3', packages: {} }), 'spdx-json'),
    ).toThrow(/"packages" that is not an array/);
  });
});
