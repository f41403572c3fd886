import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  FIX_STATES,
  ReportError,
  SEVERITIES,
  parseFixState,
  parseGrypeReport,
  parseSeverity,
  type FixState,
  type GrypeReport,
  type Severity,
} from '../../../src/scan/grype-report.js';
import { fixturePath, fixturesPresent, readFixture } from '../../shared-fixtures.js';

const JSON_DIR = 'grype/json';
const EDGE = `${JSON_DIR}/EDGE_stderr-polluted_directory_grype-0.104.1.json`;

/** A report refused with a ReportError whose message matches `pattern` and carries no stack trace. */
function expectRefused(data: Buffer | string, pattern: RegExp, file = 'report.json'): string {
  let report: GrypeReport | undefined;
  let error: unknown;
  try {
    report = parseGrypeReport(data, file);
  } catch (e) {
    error = e;
  }
  expect(report).toBeUndefined();
  expect(error).toBeInstanceOf(ReportError);
  const message = (error as ReportError).message;
  expect(message).toContain(file);
  expect(message).toMatch(pattern);
  expect(message).not.toMatch(/\n\s+at /);
  expect((error as ReportError).file).toBe(file);
  return message;
}

/** Independent expectation: a plain JSON.parse walk of the document. */
interface Expected {
  matches: number;
  severities: Record<Severity, number>;
  fixStates: Record<FixState, number>;
}

function expectedCounts(doc: { matches: Array<Record<string, unknown>> }): Expected {
  const severities = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  const fixStates = Object.fromEntries(FIX_STATES.map((s) => [s, 0])) as Record<FixState, number>;
  for (const m of doc.matches) {
    const v = m.vulnerability as { severity?: string; fix?: { state?: string }; fixedInVersion?: string };
    const sev = (SEVERITIES as readonly string[]).find(
      (s) => s.toLowerCase() === String(v.severity).toLowerCase(),
    );
    severities[(sev ?? 'Unknown') as Severity]++;
    let state: FixState;
    if (v.fix) {
      const raw = v.fix.state ?? '';
      state = raw === 'fixed' || raw === 'not-fixed' || raw === 'wont-fix' ? raw : 'unknown';
    } else {
      state = v.fixedInVersion ? 'fixed' : 'unknown';
    }
    fixStates[state]++;
  }
  return { matches: doc.matches.length, severities, fixStates };
}

function actualCounts(report: GrypeReport): Expected {
  const severities = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  const fixStates = Object.fromEntries(FIX_STATES.map((s) => [s, 0])) as Record<FixState, number>;
  for (const m of report.matches) {
    severities[m.severity]++;
    fixStates[m.fixState]++;
  }
  return { matches: report.matches.length, severities, fixStates };
}

describe('parseSeverity / parseFixState', () => {
  it('maps severities case-insensitively and everything else to Unknown', () => {
    expect(parseSeverity('critical')).toBe('Critical');
    expect(parseSeverity('HIGH')).toBe('High');
    expect(parseSeverity(' Negligible ')).toBe('Negligible');
    expect(parseSeverity('unknown')).toBe('Unknown');
    expect(parseSeverity('Severe')).toBe('Unknown');
    expect(parseSeverity('')).toBe('Unknown');
    expect(parseSeverity(7)).toBe('Unknown');
    expect(parseSeverity(undefined)).toBe('Unknown');
    expect(SEVERITIES).toEqual(['Critical', 'High', 'Medium', 'Low', 'Negligible', 'Unknown']);
  });

  it('maps "" and missing fix states to unknown', () => {
    expect(parseFixState('fixed')).toBe('fixed');
    expect(parseFixState('not-fixed')).toBe('not-fixed');
    expect(parseFixState('wont-fix')).toBe('wont-fix');
    expect(parseFixState('unknown')).toBe('unknown');
    expect(parseFixState('')).toBe('unknown');
    expect(parseFixState(undefined)).toBe('unknown');
  });
});

describe.skipIf(!fixturesPresent)('fixture contract: every grype -o json file', () => {
  const files = fixturesPresent ? readdirSync(fixturePath(JSON_DIR)).filter((f) => f.endsWith('.json')) : [];

  it('finds the fixture files', () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
    expect(files).toContain('EDGE_stderr-polluted_directory_grype-0.104.1.json');
  });

  it.each(files.filter((f) => !f.startsWith('EDGE_')))('%s: counts per severity and fix state', (name) => {
    const rel = `${JSON_DIR}/${name}`;
    const buffer = readFileSync(fixturePath(rel));
    const report = parseGrypeReport(buffer, rel);
    const expected = expectedCounts(JSON.parse(buffer.toString('utf8')) as never);
    expect(actualCounts(report)).toEqual(expected);
    // The same result from a string.
    expect(parseGrypeReport(readFixture(rel), rel)).toEqual(report);
    for (const m of report.matches) {
      expect(m.id).not.toBe('');
      expect(m.packageName).not.toBe('');
    }
    // INDEX.md: no fixture has a non-empty ignoredMatches (see the synthetic tests below).
    expect(report.ignoredMatches).toBe(0);
    expect(report.ignoredByGrype).toEqual([]);
    expect(report.grypeVersion).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('refuses the stderr-polluted report (log lines before, ERROR after) and says why', () => {
    const message = expectRefused(readFileSync(fixturePath(EDGE)), /non-JSON text/, EDGE);
    expect(message).toMatch(/stderr/);
    expect(message).toContain('[0000]  WARN');
    expect(message).toMatch(/line 1/);
  });

  it('the stderr-polluted report has 23 matches once the JSON object is isolated (so refusal is about the text)', () => {
    const text = readFixture(EDGE);
    const start = text.indexOf('\n{') + 1;
    const end = text.lastIndexOf('}') + 1;
    expect(parseGrypeReport(text.slice(start, end), 'isolated.json').matches).toHaveLength(23);
    // Only the trailing ERROR line left: refused as text after the JSON.
    const after = expectRefused(text.slice(start), /non-JSON text after the JSON object/);
    expect(after).toContain('ERROR');
  });

  it('matches INDEX.md for the modern 6-severity report (debian12, grype 0.97.1)', () => {
    const rel = `${JSON_DIR}/debian12-python-app_amd64_grype-0.97.1.json`;
    const counts = actualCounts(parseGrypeReport(readFileSync(fixturePath(rel)), rel));
    expect(counts.matches).toBe(160);
    expect(counts.severities).toEqual({
      Critical: 5,
      High: 27,
      Medium: 47,
      Low: 11,
      Negligible: 66,
      Unknown: 4,
    });
    // INDEX: fixed 68, wont-fix 24, not-fixed 67, "" 1 (→ unknown)
    expect(counts.fixStates).toEqual({ fixed: 68, 'wont-fix': 24, 'not-fixed': 67, unknown: 1 });
  });

  it('matches INDEX.md for the legacy 2021 schema (grype 0.7.0, fixedInVersion)', () => {
    const rel = `${JSON_DIR}/LEGACY_defectdojo-django-1.13.1_debian10_grype-0.7.0.json`;
    const report = parseGrypeReport(readFileSync(fixturePath(rel)), rel);
    const counts = actualCounts(report);
    expect(counts.matches).toBe(327);
    expect(counts.severities).toEqual({
      Negligible: 106,
      Low: 27,
      Unknown: 10,
      High: 24,
      Medium: 155,
      Critical: 5,
    });
    // 28 matches carry a fixedInVersion, the other 299 say nothing about a fix.
    expect(counts.fixStates).toEqual({ fixed: 28, 'not-fixed': 0, 'wont-fix': 0, unknown: 299 });
    const fixed = report.matches.find((m) => m.fixState === 'fixed')!;
    expect(fixed.fixedIn).toHaveLength(1);
    expect(fixed.fixedIn[0]).not.toBe('');
    expect(report.grypeVersion).toBe('0.7.0');
    expect(report.source).toEqual({ type: 'image', target: 'defectdojo/defectdojo-django:1.13.1' });
  });

  it('matches INDEX.md for the large ubi7 scan (922 matches, grype 0.34.7)', () => {
    const rel = `${JSON_DIR}/ubi7-7.6_rhel_amd64_grype-0.34.7.json`;
    const counts = actualCounts(parseGrypeReport(readFileSync(fixturePath(rel)), rel));
    expect(counts.matches).toBe(922);
    expect(counts.severities).toEqual({
      Medium: 429,
      Low: 444,
      Critical: 4,
      Unknown: 11,
      High: 34,
      Negligible: 0,
    });
    expect(counts.fixStates).toEqual({ 'wont-fix': 615, 'not-fixed': 35, fixed: 272, unknown: 0 });
  });

  it('reads EPSS, related ids, data source, db build time and source of a modern report', () => {
    const rel = `${JSON_DIR}/directory-source_grype-0.91.2.json`;
    const report = parseGrypeReport(readFileSync(fixturePath(rel)), rel);
    expect(report.source).toEqual({ type: 'directory', target: '.' });
    expect(report.dbBuilt).toBe('2025-08-14T04:13:56Z');
    expect(report.dbSource).toMatch(
      /^https:\/\/grype\.anchore\.io\/databases\/v6\/vulnerability-db_v6\.0\.3_2025-08-14T01:31:21Z_1755144836\.tar\.zst\?checksum=sha256%3A49d5/,
    );
    const axios = report.matches.find((m) => m.id === 'GHSA-8hc4-vh64-cxmj')!;
    expect(axios).toMatchObject({
      relatedIds: ['CVE-2024-39338'],
      packageName: 'axios',
      packageVersion: '1.3.2',
      packageType: 'npm',
      fixState: 'fixed',
      fixedIn: ['1.7.4'],
      knownExploited: false,
      dataSource: 'https://github.com/advisories/GHSA-8hc4-vh64-cxmj',
    });
    expect(axios.epss).toBeGreaterThan(0);
  });

  it('keeps both matches of the same CVE at two paths (deduplication is the gate’s job)', () => {
    const rel = `${JSON_DIR}/defectdojo_debian10_grype-0.36.0_same-cve-different-paths.json`;
    const report = parseGrypeReport(readFileSync(fixturePath(rel)), rel);
    expect(report.matches.map((m) => `${m.id} ${m.packageName} ${m.packageVersion}`)).toEqual([
      'CVE-2021-33574 libc6 2.28-10',
      'CVE-2021-33574 libc6 2.28-10',
    ]);
  });

  it('reads a zero-match report', () => {
    const rel = `${JSON_DIR}/klass-web_wolfi_arm64_grype-0.114.0_zero-matches.json`;
    const report = parseGrypeReport(readFileSync(fixturePath(rel)), rel);
    expect(report.matches).toEqual([]);
    expect(report.grypeVersion).toBe('0.114.0');
  });

  it('refuses every truncation of a real report (no prefix is ever accepted)', () => {
    const rel = `${JSON_DIR}/chainguard-ruby_wolfi_arm64_grype-0.61.1.json`;
    const buffer = readFileSync(fixturePath(rel));
    const complete = buffer.subarray(0, buffer.lastIndexOf('}') + 1);
    let refused = 0;
    for (let cut = 0; cut < complete.length; cut += 7) {
      expect(() => parseGrypeReport(complete.subarray(0, cut), rel)).toThrow(ReportError);
      refused++;
    }
    expect(refused).toBeGreaterThan(2000);
    expect(parseGrypeReport(complete, rel).matches).toHaveLength(3);
  });

  it.each([
    ['grype/sarif/klass-web_wolfi_arm64_grype-0.114.0.sarif', /no "matches" array \(top-level keys: .*runs/],
    ['grype/cyclonedx/log4j-dir_grype-0.41.0.cdx.json', /no "matches" array .*not table, SARIF or CycloneDX/],
    ['grype/table/debian13-image_grype-table_EPSS-RISK_2025.txt', /is not JSON: it starts with "NAME/],
    ['grype/table/rhel8-python39-app_grype-table_2021.txt', /is not JSON: it starts with "NAME/],
  ])('refuses another grype output format: %s', (rel, pattern) => {
    expectRefused(readFileSync(fixturePath(rel)), pattern, rel);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Synthetic reports

function match(overrides: {
  id?: unknown;
  severity?: string;
  fix?: unknown;
  fixedInVersion?: string;
  knownExploited?: unknown[];
  epss?: number[];
  related?: Array<{ id: string; knownExploited?: unknown[]; epss?: number[] }>;
  name?: unknown;
  version?: string;
}): Record<string, unknown> {
  const vulnerability: Record<string, unknown> = {
    id: 'id' in overrides ? overrides.id : 'CVE-2024-0001',
    dataSource: 'https://example.test/CVE-2024-0001',
    severity: overrides.severity ?? 'High',
    urls: [],
    cvss: [],
  };
  if ('fix' in overrides) vulnerability.fix = overrides.fix;
  else vulnerability.fix = { versions: [], state: 'not-fixed' };
  if (overrides.fixedInVersion !== undefined) {
    delete vulnerability.fix;
    vulnerability.fixedInVersion = overrides.fixedInVersion;
  }
  if (overrides.knownExploited) vulnerability.knownExploited = overrides.knownExploited;
  if (overrides.epss)
    vulnerability.epss = overrides.epss.map((e) => ({ cve: 'CVE', epss: e, percentile: 0.5 }));
  return {
    vulnerability,
    relatedVulnerabilities: (overrides.related ?? []).map((r) => ({
      id: r.id,
      ...(r.knownExploited ? { knownExploited: r.knownExploited } : {}),
      ...(r.epss ? { epss: r.epss.map((e) => ({ cve: r.id, epss: e, percentile: 0.5 })) } : {}),
    })),
    matchDetails: [],
    artifact: {
      name: 'name' in overrides ? overrides.name : 'openssl',
      version: overrides.version ?? '3.0.1',
      type: 'deb',
      locations: [{ path: '/var/lib/dpkg/status' }],
    },
  };
}

function doc(matches: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify(
    { matches, source: { type: 'image', target: { userInput: 'x:1' } }, ...extra },
    null,
    2,
  );
}

/**
 * An entry of `ignoredMatches` as Grype's JSON presenter writes it (grype/presenter/models/ignore.go): the match's
 * own fields plus `appliedIgnoreRules`, each rule with `namespace` always present and the rest omitted when empty.
 */
function ignored(
  m: Record<string, unknown>,
  rules: Array<Record<string, unknown>> | null,
): Record<string, unknown> {
  return { ...m, appliedIgnoreRules: rules && rules.map((r) => ({ namespace: '', ...r })) };
}

describe('parseGrypeReport on synthetic reports', () => {
  it('reads KEV from the vulnerability or a related vulnerability, and the highest EPSS of all', () => {
    const report = parseGrypeReport(
      doc([
        match({
          id: 'CVE-1',
          knownExploited: [{ cve: 'CVE-1', knownRansomwareCampaignUse: 'Known' }],
          epss: [0.1],
        }),
        match({
          id: 'GHSA-1',
          related: [{ id: 'CVE-2', knownExploited: [{ cve: 'CVE-2' }], epss: [0.7, 0.2] }],
        }),
        match({
          id: 'CVE-3',
          knownExploited: [],
          epss: [0.3],
          related: [{ id: 'CVE-3' }, { id: 'CVE-4', epss: [0.1] }],
        }),
        match({ id: 'CVE-5' }),
      ]),
      'r.json',
    );
    expect(report.matches.map((m) => [m.id, m.knownExploited, m.epss, m.relatedIds])).toEqual([
      ['CVE-1', true, 0.1, []],
      ['GHSA-1', true, 0.7, ['CVE-2']],
      ['CVE-3', false, 0.3, ['CVE-4']],
      ['CVE-5', false, undefined, []],
    ]);
    expect(report.source).toEqual({ type: 'image', target: 'x:1' });
  });

  it('maps fix states, "" and legacy fixedInVersion', () => {
    const report = parseGrypeReport(
      doc([
        match({ fix: { versions: ['1.2'], state: 'fixed' } }),
        match({ fix: { versions: [], state: '' } }),
        match({ fix: { versions: [], state: 'wont-fix' } }),
        match({ fix: null }),
        match({ fixedInVersion: '1.1.1d-0+deb10u5' }),
        match({ fixedInVersion: '' }),
      ]),
      'r.json',
    );
    expect(report.matches.map((m) => [m.fixState, m.fixedIn])).toEqual([
      ['fixed', ['1.2']],
      ['unknown', []],
      ['wont-fix', []],
      ['unknown', []],
      ['fixed', ['1.1.1d-0+deb10u5']],
      ['unknown', []],
    ]);
  });

  it('handles quotes, escapes, brackets and unicode inside strings', () => {
    const tricky = match({ id: 'CVE-"}]{[\\', name: 'pkg \\" } ] , ü 😀', version: '1"\\' });
    (tricky.vulnerability as Record<string, unknown>).description = '\\\\"\\u0041 }}]] "quoted" \n\t';
    const report = parseGrypeReport(doc([tricky, match({ id: 'CVE-2' })]), 'r.json');
    expect(report.matches.map((m) => m.id)).toEqual(['CVE-"}]{[\\', 'CVE-2']);
    expect(report.matches[0]!.packageName).toBe('pkg \\" } ] , ü 😀');
    expect(report.matches[0]!.packageVersion).toBe('1"\\');
  });

  it('accepts compact and pretty JSON, a BOM, keys in any order, and counts ignoredMatches', () => {
    const m = match({ id: 'CVE-9' });
    const compact = JSON.stringify({
      descriptor: { name: 'grype', version: '0.80.0' },
      ignoredMatches: [ignored(match({ id: 'CVE-7' }), [{ vulnerability: 'CVE-7' }]), ignored(match({}), [])],
      matches: [m],
    });
    const report = parseGrypeReport(`\uFEFF${compact}\n`, 'r.json');
    expect(report.matches).toHaveLength(1);
    expect(report.ignoredMatches).toBe(2);
    expect(report.ignoredByGrype.map((i) => i.id)).toEqual(['CVE-7', 'CVE-2024-0001']);
    expect(report.grypeVersion).toBe('0.80.0');
    const empty = parseGrypeReport('{ "matches" : [ ] }', 'r.json');
    expect(empty.matches).toEqual([]);
    expect(empty.ignoredByGrype).toEqual([]);
    expect(empty.ignoredMatches).toBe(0);
  });
});

describe('ignoredMatches: matches Grype suppressed, read exactly like matches', () => {
  const variety = [
    match({
      id: 'CVE-1',
      severity: 'Critical',
      fix: { versions: ['3.0.2'], state: 'fixed' },
      knownExploited: [{ cve: 'CVE-1' }],
      epss: [0.4],
    }),
    match({ id: 'GHSA-2', related: [{ id: 'CVE-2', epss: [0.9] }], name: 'axios', version: '1.3.2' }),
    match({ id: 'CVE-3', fix: { versions: [], state: '' } }),
    match({ id: 'CVE-4', fixedInVersion: '1.1.1d' }),
    match({ id: 'CVE-5', severity: 'negligible', fix: null }),
  ];

  it('gives every field exactly as for the same object in "matches", plus the rules', () => {
    const asMatches = parseGrypeReport(doc(variety), 'a.json');
    const asIgnored = parseGrypeReport(
      doc([], { ignoredMatches: variety.map((m) => ignored(m, [{ 'fix-state': 'not-fixed' }])) }),
      'b.json',
    );
    expect(asIgnored.matches).toEqual([]);
    expect(asIgnored.ignoredMatches).toBe(5);
    expect(asIgnored.ignoredByGrype).toHaveLength(5);
    for (const [i, entry] of asIgnored.ignoredByGrype.entries()) {
      const { ignoreRules, ...fields } = entry;
      expect(fields).toEqual(asMatches.matches[i]);
      expect(ignoreRules).toEqual(['fix-state=not-fixed']);
    }
    expect(asIgnored.ignoredByGrype[0]).toMatchObject({
      id: 'CVE-1',
      severity: 'Critical',
      fixState: 'fixed',
      fixedIn: ['3.0.2'],
      knownExploited: true,
      epss: 0.4,
    });
    expect(asIgnored.ignoredByGrype[1]).toMatchObject({
      relatedIds: ['CVE-2'],
      epss: 0.9,
      packageName: 'axios',
    });
  });

  it('keeps matches and ignored matches apart, in any key order', () => {
    const body = {
      ignoredMatches: [ignored(match({ id: 'CVE-I' }), [{ vulnerability: 'CVE-I' }])],
      matches: [match({ id: 'CVE-M' })],
    };
    for (const text of [JSON.stringify(body), doc(body.matches, { ignoredMatches: body.ignoredMatches })]) {
      const report = parseGrypeReport(text, 'r.json');
      expect(report.matches.map((m) => m.id)).toEqual(['CVE-M']);
      expect(report.ignoredByGrype.map((m) => [m.id, m.ignoreRules])).toEqual([
        ['CVE-I', ['vulnerability=CVE-I']],
      ]);
      expect('ignoreRules' in report.matches[0]!).toBe(false);
    }
  });

  it('reads a missing, null or empty ignoredMatches as none', () => {
    for (const extra of [{}, { ignoredMatches: null }, { ignoredMatches: [] }]) {
      const report = parseGrypeReport(doc([match({})], extra), 'r.json');
      expect(report.ignoredByGrype).toEqual([]);
      expect(report.ignoredMatches).toBe(0);
    }
  });

  it.each([
    ['a .grype.yaml vulnerability rule', { vulnerability: 'CVE-2024-1234' }, 'vulnerability=CVE-2024-1234'],
    ['only-fixed / GRYPE_ONLY_FIXED', { 'fix-state': 'not-fixed' }, 'fix-state=not-fixed'],
    ['--ignore-states wont-fix', { 'fix-state': 'wont-fix' }, 'fix-state=wont-fix'],
    [
      'a package rule with every package field',
      {
        vulnerability: 'CVE-2024-1',
        package: {
          name: 'libc',
          version: '3.0.0',
          language: '',
          type: 'rpm',
          location: '/some/location',
          'upstream-name': 'glibc',
        },
      },
      'vulnerability=CVE-2024-1 package=libc package.version=3.0.0 package.type=rpm ' +
        'package.location=/some/location package.upstream-name=glibc',
    ],
    [
      "Grype's default kernel-headers rule",
      {
        package: { name: 'linux-libc-dev', language: '', type: 'deb', 'upstream-name': 'linux' },
        'match-type': 'exact-indirect-match',
      },
      'package=linux-libc-dev package.type=deb package.upstream-name=linux match-type=exact-indirect-match',
    ],
    [
      'a VEX statement (openvex, no custom rule)',
      {
        vulnerability: 'CVE-1999-0004',
        namespace: 'vex',
        'vex-status': 'not_affected',
        'vex-justification': 'vulnerable_code_not_present',
      },
      'vulnerability=CVE-1999-0004 vex-status=not_affected vex-justification=vulnerable_code_not_present ' +
        'namespace=vex',
    ],
    [
      'a .grype.yaml rule with a reason',
      { namespace: 'nvd:cpe', reason: 'false positive' },
      'namespace=nvd:cpe reason=false positive',
    ],
    ['a rule with no conditions', {}, 'a rule with no conditions'],
  ])('describes %s', (_name, rule, described) => {
    const report = parseGrypeReport(doc([], { ignoredMatches: [ignored(match({}), [rule])] }), 'r.json');
    expect(report.ignoredByGrype[0]!.ignoreRules).toEqual([described]);
  });

  it('lists every applied rule once, null as none, and keeps descriptions on one short line', () => {
    const report = parseGrypeReport(
      doc([], {
        ignoredMatches: [
          ignored(match({ id: 'CVE-A' }), [
            { vulnerability: 'CVE-A' },
            { 'fix-state': 'not-fixed' },
            { vulnerability: 'CVE-A' },
          ]),
          ignored(match({ id: 'CVE-B' }), null),
          ignored(match({ id: 'CVE-C' }), [{ reason: `two\nlines\u001b[31m::error::${'x'.repeat(200)}` }]),
        ],
      }),
      'r.json',
    );
    const [a, b, c] = report.ignoredByGrype;
    expect(a!.ignoreRules).toEqual(['vulnerability=CVE-A', 'fix-state=not-fixed']);
    expect(b!.ignoreRules).toEqual([]);
    expect(c!.ignoreRules).toHaveLength(1);
    const text = c!.ignoreRules[0]!;
    expect(text).toMatch(/^reason=two lines \[31m::error::x+…$/);
    expect(text.includes('\n') || text.includes('\u001b')).toBe(false);
    expect(text.length).toBeLessThanOrEqual(7 + 100);
  });

  it('refuses every truncation of a report with ignored matches', () => {
    const text = JSON.stringify({
      matches: [match({ id: 'CVE-M' })],
      ignoredMatches: [
        ignored(match({ id: 'CVE-I1' }), [{ 'fix-state': 'not-fixed' }]),
        ignored(match({ id: 'CVE-I2' }), [{ vulnerability: 'CVE-I2' }]),
      ],
      source: { type: 'image', target: 'x' },
    });
    const start = text.indexOf('"ignoredMatches"');
    for (let cut = start; cut < text.length; cut++) {
      expect(() => parseGrypeReport(text.slice(0, cut), 'r.json')).toThrow(ReportError);
    }
    expect(parseGrypeReport(text, 'r.json').ignoredMatches).toBe(2);
  });
});

describe('parseGrypeReport refuses what it cannot read completely', () => {
  const good = doc([match({ id: 'CVE-1' }), match({ id: 'CVE-2', severity: 'Critical' })]);

  it.each([
    ['empty file', '', /is empty/],
    ['only whitespace', ' \n\t ', /only whitespace/],
    [
      'not JSON (table output)',
      'NAME   INSTALLED  FIXED-IN  VULNERABILITY\nopenssl 1.0',
      /is not JSON.*NAME/,
    ],
    [
      'a log line then the report (stderr mixed in)',
      `[0000]  WARN something\n${good}`,
      /non-JSON text before.*stderr/,
    ],
    [
      'the report then an error line',
      `${good}\n[0019] ERROR discovered vulnerabilities`,
      /non-JSON text after.*stderr/,
    ],
    ['two reports concatenated', `${good}\n${good}`, /non-JSON text after/],
    ['top-level array', '[{"matches": []}]', /top level is an array, not an object/],
    ['top-level string', '"matches"', /top level is a string/],
    ['top-level null', 'null', /top level is null/],
    ['missing matches', '{"source": {}, "descriptor": {}}', /no "matches" array.*source, descriptor/],
    ['matches is an object', '{"matches": {"a": 1}}', /"matches" is an object, not an array/],
    ['matches is null', '{"matches": null}', /"matches" is null, not an array/],
    ['matches given twice', '{"matches": [], "matches": []}', /"matches" appears twice/],
    ['a match that is not an object', '{"matches": [42]}', /expected match #0 \(an object\)/],
    ['a match without vulnerability id', doc([match({ id: undefined })]), /match #0 .*no vulnerability id/],
    ['a match with an empty vulnerability id', doc([match({ id: ' ' })]), /no vulnerability id/],
    [
      'a match without artifact name',
      doc([match({}), match({ name: undefined })]),
      /match #1 .*no package name/,
    ],
    ['a match with a numeric artifact name', doc([match({ name: 7 })]), /no package name/],
    [
      'a match without vulnerability',
      '{"matches": [{"artifact": {"name": "a"}}]}',
      /no "vulnerability" object/,
    ],
    ['fix.versions not a list', doc([match({ fix: { state: 'fixed', versions: '1.0' } })]), /fix.versions/],
    ['ignoredMatches not a list', '{"matches": [], "ignoredMatches": 3}', /"ignoredMatches" is a number/],
    ['ignoredMatches an object', '{"matches": [], "ignoredMatches": {}}', /"ignoredMatches" is an object/],
    [
      'ignoredMatches given twice',
      '{"matches": [], "ignoredMatches": [], "ignoredMatches": []}',
      /"ignoredMatches" appears twice/,
    ],
    [
      'an ignored match that is not an object',
      '{"matches": [], "ignoredMatches": [null]}',
      /expected ignored match #0 \(an object\) in "ignoredMatches"/,
    ],
    [
      'an empty ignored match',
      '{"matches": [], "ignoredMatches": [{}]}',
      /ignored match #0 of "ignoredMatches" .*no "vulnerability" object/,
    ],
    [
      'an ignored match without vulnerability id',
      doc([], { ignoredMatches: [ignored(match({}), []), ignored(match({ id: '' }), [])] }),
      /ignored match #1 of "ignoredMatches" .*no vulnerability id/,
    ],
    [
      'an ignored match without artifact name',
      doc([], { ignoredMatches: [ignored(match({ name: undefined }), [])] }),
      /ignored match #0 of "ignoredMatches" .*no package name/,
    ],
    [
      'an ignored match with a bad fix.versions',
      doc([], { ignoredMatches: [ignored(match({ fix: { state: 'fixed', versions: [1] } }), [])] }),
      /ignored match #0 .*fix.versions/,
    ],
    [
      'appliedIgnoreRules not a list',
      doc([], { ignoredMatches: [{ ...match({}), appliedIgnoreRules: { vulnerability: 'x' } }] }),
      /ignored match #0 .*"appliedIgnoreRules" that is not an array/,
    ],
    [
      'an applied ignore rule that is not an object',
      doc([], { ignoredMatches: [{ ...match({}), appliedIgnoreRules: ['CVE-2024-0001'] }] }),
      /ignored match #0 .*"appliedIgnoreRules" that is not an object/,
    ],
    [
      'missing comma between ignored matches',
      `{"matches": [], "ignoredMatches": [${JSON.stringify(match({}))} ${JSON.stringify(match({}))}]}`,
      /expected "," or "]" in the "ignoredMatches" array/,
    ],
    [
      'invalid token inside an ignored match',
      '{"matches": [], "ignoredMatches": [{"vulnerability": {"id": "a", "x": tru}, "artifact": {"name": "b"}}]}',
      /ignored match #0 is not valid JSON/,
    ],
    [
      'trailing comma in matches',
      '{"matches": [{"vulnerability":{"id":"a"},"artifact":{"name":"b"}},]}',
      /not valid JSON|expected match/,
    ],
    [
      'missing comma between matches',
      `{"matches": [${JSON.stringify(match({}))} ${JSON.stringify(match({}))}]}`,
      /expected "," or "]"/,
    ],
    [
      'invalid token inside a match',
      '{"matches": [{"vulnerability": {"id": "a", "x": tru}, "artifact": {"name": "b"}}]}',
      /match #0 is not valid JSON/,
    ],
    [
      'mismatched brackets inside a match',
      '{"matches": [{"vulnerability": {"id": "a"], "artifact": {"name": "b"}}]}',
      /not valid JSON/,
    ],
    [
      'invalid JSON after matches',
      '{"matches": [], "source": {oops}}',
      /value of "source" is not valid JSON/,
    ],
    ['not UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), /not UTF-8/],
  ] as Array<[string, string | Buffer, RegExp]>)('%s', (_name, data, pattern) => {
    expectRefused(data, pattern);
  });

  it.each([1, 2, 12, 13, 40, 200, 0.5, 0.9, -3, -2, -1])('truncated at offset %s', (at) => {
    const text = good.trimEnd();
    const cut = at > 0 && at < 1 ? Math.floor(text.length * at) : at < 0 ? text.length + at : at;
    expectRefused(text.slice(0, cut), /truncated|not valid JSON/);
  });

  it('says where a truncated report ends and what to do', () => {
    const message = expectRefused(good.slice(0, good.indexOf('"CVE-2"')), /truncated/);
    expect(message).toMatch(/inside match #1 of the "matches" array/);
    expect(message).toMatch(/run grype again/);
    const withIgnored = doc([], {
      ignoredMatches: [ignored(match({}), []), ignored(match({ id: 'CVE-I' }), [])],
    });
    const cut = expectRefused(withIgnored.slice(0, withIgnored.indexOf('"CVE-I"')), /truncated/);
    expect(cut).toMatch(/inside ignored match #1 of the "ignoredMatches" array/);
  });
});
