import { describe, expect, it } from 'vitest';
import { parseSbomFormats } from '../../../src/settings/parsers.js';

describe('sbom-formats input', () => {
  it('defaults to spdx-json and accepts comma or newline lists, deduplicated', () => {
    expect(parseSbomFormats('')).toEqual(['spdx-json']);
    expect(parseSbomFormats('cyclonedx-json, SPDX-JSON\nsyft-json\ncyclonedx-json')).toEqual([
      'cyclonedx-json',
      'spdx-json',
      'syft-json',
    ]);
  });

  it('names the input, the value and the expected formats', () => {
    expect(() => parseSbomFormats('spdx-json,cyclonedx')).toThrow(
      'Input "sbom-formats": "spdx-json,cyclonedx" is not valid; expected a comma or newline separated list of spdx-json, cyclonedx-json, syft-json (unknown format "cyclonedx")',
    );
  });
});
