import { describe, expect, it } from 'vitest';
import { readSettings } from '../../../src/settings/inputs.js';
import { grypeScanArgs } from '../../../src/scan/grype.js';

const VALID = JSON.stringify({
  '@context': 'https://openvex.dev/ns/v0.2.0',
  '@id': 'https://example.com/vex/1',
  author: 'Acme',
  timestamp: '2026-06-01T00:00:00Z',
  statements: [
    { vulnerability: { name: 'CVE-1' }, status: 'not_affected', justification: 'component_not_present' },
  ],
});
const BAD = VALID.replace('"justification":"component_not_present"', '"impact_statement":"trust me"');

function settings(inputs: Record<string, string>, files: Record<string, string>) {
  return readSettings((name) => ({ image: 'registry.example/acme/agent', ...inputs })[name] ?? '', {
    workspace: '/work/app',
    fileExists: (p) =>
      p.endsWith('Dockerfile') || p in files ? 'file' : p.endsWith('.json') ? 'missing' : 'directory',
    readText: (p) => files[p] ?? '',
  });
}

describe('the vex and github-attestations inputs', () => {
  it('reads each OpenVEX file into the gate policy and gives Grype the files', () => {
    const s = settings(
      { vex: 'vex/a.json\n\nvex/b.json\n' },
      { '/work/app/vex/a.json': VALID, '/work/app/vex/b.json': VALID },
    );
    expect(s.vexFiles).toEqual(['/work/app/vex/a.json', '/work/app/vex/b.json']);
    expect(s.gatePolicy.vex?.imageName).toBe('registry.example/acme/agent');
    expect(s.gatePolicy.vex?.statements.map((st) => [st.file, st.vulnerability.name])).toEqual([
      ['vex/a.json', 'CVE-1'],
      ['vex/b.json', 'CVE-1'],
    ]);
    expect(grypeScanArgs({ sbomFile: 's', jsonFile: 'j', sarifFile: 'r', vexFiles: s.vexFiles })).toEqual([
      'sbom:s',
      '-o',
      'json=j',
      '-o',
      'sarif=r',
      '--vex',
      '/work/app/vex/a.json',
      '--vex',
      '/work/app/vex/b.json',
    ]);
  });

  it('without vex nothing changes: no statements, no --vex', () => {
    const s = settings({}, {});
    expect(s.vexFiles).toEqual([]);
    expect(s.gatePolicy.vex).toBeUndefined();
    expect(s.publish.githubAttestations).toBe('auto');
  });

  it('a schema error names the input, the file and the field path; a missing file names where it looked', () => {
    expect(() => settings({ vex: 'vex/a.json' }, { '/work/app/vex/a.json': BAD })).toThrow(
      /Input "vex": "vex\/a\.json" is not valid; expected an OpenVEX v0\.2\.0 JSON document: vex\/a\.json is not a valid OpenVEX document:\n- statements\[0\]\.justification: is missing \(status not_affected\)/,
    );
    expect(() => settings({ vex: 'nope.json' }, {})).toThrow(
      /Input "vex": "nope\.json".*looked for \/work\/app\/nope\.json/,
    );
  });

  it('github-attestations is one of auto, off, required', () => {
    expect(settings({ 'github-attestations': 'required' }, {}).publish.githubAttestations).toBe('required');
    expect(() => settings({ 'github-attestations': 'yes' }, {})).toThrow(/github-attestations/);
  });
});
