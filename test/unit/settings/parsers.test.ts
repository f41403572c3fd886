import { describe, expect, it } from 'vitest';
import { parseGrypeDbUrl, parseSbomFormats } from '../../../src/settings/parsers.js';

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

describe('grype-db-url input', () => {
  it('takes https anywhere and plain http only to this machine', () => {
    expect(parseGrypeDbUrl('')).toBeUndefined();
    expect(parseGrypeDbUrl('https://mirror.example/grype/databases/')).toBe(
      'https://mirror.example/grype/databases',
    );
    expect(parseGrypeDbUrl('http://127.0.0.1:8080/databases')).toBe('http://127.0.0.1:8080/databases');
    expect(parseGrypeDbUrl('http://localhost/db')).toBe('http://localhost/db');
    expect(() => parseGrypeDbUrl('http://mirror.example/db')).toThrow(
      'Input "grype-db-url": "http://mirror.example/db" is not valid; expected an https URL (plain http only to 127.0.0.1 or localhost)',
    );
    expect(() => parseGrypeDbUrl('http://127.0.0.1.evil.example/db')).toThrow(/https URL/);
    expect(() => parseGrypeDbUrl('ftp://x')).toThrow(/http\(s\) URL/);
  });
});
