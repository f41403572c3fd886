import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  evaluateGate,
  evaluatePlatform,
  explainGate,
  isRootUser,
  loadPolicy,
  type ImageFacts,
  type Policy,
  type PolicyInputs,
} from '../../../src/policy/index.js';
import {
  ReportError,
  parseGrypeReport,
  type GrypeReport,
  type IgnoredVulnerabilityMatch,
  type VulnerabilityMatch,
} from '../../../src/scan/grype-report.js';
import { fixturePath, fixturesPresent } from '../../shared-fixtures.js';

const HEAD = 'apiVersion: edgeship/v1\nkind: Policy\n';
const NOW = new Date('2026-06-15T12:00:00Z');
const GOOD_IMAGE: ImageFacts = { size: 20_000_000, user: '65532:65532', healthcheck: true };

function policy(yaml = '', inputs: PolicyInputs = {}): Policy {
  return loadPolicy({ ...inputs, policyFile: { path: 'policy.yml', text: HEAD + yaml } });
}

let serial = 0;
function vuln(overrides: Partial<VulnerabilityMatch> = {}): VulnerabilityMatch {
  serial++;
  return {
    id: `CVE-2026-${1000 + serial}`,
    relatedIds: [],
    severity: 'Medium',
    packageName: 'openssl',
    packageVersion: '3.0.1',
    packageType: 'deb',
    fixState: 'not-fixed',
    fixedIn: [],
    knownExploited: false,
    ...overrides,
  };
}

function report(...matches: VulnerabilityMatch[]): GrypeReport {
  return { matches, ignoredByGrype: [], ignoredMatches: 0 };
}

/** A match Grype's own rules suppressed (in its `ignoredMatches`). */
function suppressed(
  ignoreRules: string[],
  overrides: Partial<VulnerabilityMatch> = {},
): IgnoredVulnerabilityMatch {
  return { ...vuln(overrides), ignoreRules };
}

/** A report whose `ignoredMatches` holds `ignored` besides its `matches`. */
function withIgnored(matches: VulnerabilityMatch[], ignored: IgnoredVulnerabilityMatch[]): GrypeReport {
  return { matches, ignoredByGrype: ignored, ignoredMatches: ignored.length };
}

function verdict(
  p: Policy,
  r: GrypeReport,
  image: ImageFacts = GOOD_IMAGE,
  platform = 'linux/amd64',
  now = NOW,
) {
  return evaluatePlatform(p, platform, r, image, now);
}

describe('fail-on threshold', () => {
  it('blocks at or above fail-on with the exact reason, and not below', () => {
    const v = verdict(
      policy('failOn: high\n'),
      report(
        vuln({ id: 'CVE-C', severity: 'Critical' }),
        vuln({ id: 'CVE-H', severity: 'High' }),
        vuln({ id: 'CVE-M', severity: 'Medium' }),
        vuln({ id: 'CVE-N', severity: 'Negligible' }),
      ),
    );
    expect(v.pass).toBe(false);
    expect(v.blocking.map((f) => [f.id, f.reasons])).toEqual([
      ['CVE-C', ['severity Critical ≥ fail-on high']],
      ['CVE-H', ['severity High ≥ fail-on high']],
    ]);
    expect(v.blocking[0]).toMatchObject({
      kind: 'vulnerability',
      platform: 'linux/amd64',
      packageName: 'openssl',
    });
    expect(v.counts).toEqual({ Critical: 1, High: 1, Medium: 1, Low: 0, Negligible: 1, Unknown: 0 });
  });

  it('passes a report below the threshold and a report with no matches', () => {
    expect(verdict(policy('failOn: critical\n'), report(vuln({ severity: 'High' }))).pass).toBe(true);
    expect(verdict(policy(), report()).pass).toBe(true);
  });

  it('failOn none disables the threshold (but not KEV)', () => {
    const p = policy('failOn: none\n');
    expect(verdict(p, report(vuln({ severity: 'Critical' }))).pass).toBe(true);
    const kev = verdict(p, report(vuln({ severity: 'Critical', knownExploited: true })));
    expect(kev.blocking[0]!.reasons).toEqual(['known exploited (CISA KEV)']);
  });

  it('Unknown severity never meets fail-on, even negligible, but counts toward max.unknown', () => {
    const unknowns = report(vuln({ severity: 'Unknown' }), vuln({ severity: 'Unknown' }));
    expect(verdict(policy('failOn: negligible\n'), unknowns).pass).toBe(true);
    const capped = verdict(policy('failOn: negligible\nmax: { unknown: 1 }\n'), unknowns);
    expect(capped.pass).toBe(false);
    expect(capped.blocking.map((f) => f.reasons)).toEqual([
      ['Unknown count 2 > max 1'],
      ['Unknown count 2 > max 1'],
    ]);
  });
});

describe('KEV and EPSS', () => {
  it('a known-exploited match blocks regardless of severity, unless failOnKev is false', () => {
    const r = report(vuln({ id: 'CVE-K', severity: 'Low', knownExploited: true }));
    const v = verdict(policy(), r);
    expect(v.pass).toBe(false);
    expect(v.blocking[0]!.reasons).toEqual(['known exploited (CISA KEV)']);
    expect(verdict(policy('failOnKev: false\n'), r).pass).toBe(true);
    expect(verdict(policy('', { failOnKev: 'false' }), r).pass).toBe(true);
  });

  it('EPSS ≥ threshold blocks (equal included); below, missing or threshold unset does not', () => {
    const p = policy('epssThreshold: 0.5\n');
    const v = verdict(
      p,
      report(
        vuln({ id: 'CVE-E1', severity: 'Low', epss: 0.92 }),
        vuln({ id: 'CVE-E2', severity: 'Low', epss: 0.5 }),
        vuln({ id: 'CVE-E3', severity: 'Low', epss: 0.49 }),
        vuln({ id: 'CVE-E4', severity: 'Low' }),
      ),
    );
    expect(v.blocking.map((f) => [f.id, f.reasons])).toEqual([
      ['CVE-E1', ['EPSS 0.92 ≥ 0.5']],
      ['CVE-E2', ['EPSS 0.5 ≥ 0.5']],
    ]);
    expect(verdict(policy(), report(vuln({ severity: 'Low', epss: 0.99 }))).pass).toBe(true);
  });

  it('lists every reason that applies to a match', () => {
    const v = verdict(
      policy('epssThreshold: 0.1\nmax: { critical: 0 }\n'),
      report(vuln({ id: 'CVE-ALL', severity: 'Critical', knownExploited: true, epss: 0.97 })),
    );
    expect(v.blocking[0]!.reasons).toEqual([
      'severity Critical ≥ fail-on high',
      'known exploited (CISA KEV)',
      'EPSS 0.97 ≥ 0.1',
      'Critical count 1 > max 0',
    ]);
  });
});

describe('onlyFixed', () => {
  it('only matches with a fix count toward fail-on and max; KEV and EPSS still block', () => {
    const p = policy('onlyFixed: true\nepssThreshold: 0.5\nmax: { medium: 0 }\n');
    const v = verdict(
      p,
      report(
        vuln({ id: 'CVE-NOFIX', severity: 'Critical', fixState: 'not-fixed' }),
        vuln({ id: 'CVE-WONT', severity: 'High', fixState: 'wont-fix' }),
        vuln({ id: 'CVE-UNK', severity: 'High', fixState: 'unknown' }),
        vuln({ id: 'CVE-FIX', severity: 'High', fixState: 'fixed', fixedIn: ['3.0.2'] }),
        vuln({ id: 'CVE-MED', severity: 'Medium', fixState: 'not-fixed' }),
        vuln({ id: 'CVE-KEV', severity: 'Low', fixState: 'not-fixed', knownExploited: true }),
        vuln({ id: 'CVE-EPSS', severity: 'Low', fixState: 'wont-fix', epss: 0.8 }),
      ),
    );
    expect(v.blocking.map((f) => [f.id, f.reasons])).toEqual([
      ['CVE-FIX', ['severity High ≥ fail-on high']],
      ['CVE-EPSS', ['EPSS 0.8 ≥ 0.5']],
      ['CVE-KEV', ['known exploited (CISA KEV)']],
    ]);
    expect(v.blocking[0]!.fixedIn).toEqual(['3.0.2']);
    // counts are of everything
    expect(v.counts.High).toBe(3);
  });
});

describe('max caps', () => {
  const highs = (n: number) =>
    Array.from({ length: n }, (_, i) => vuln({ id: `CVE-H${i}`, severity: 'High' }));

  it('a count above the cap blocks every match of that severity, with the count in the reason', () => {
    const p = policy('failOn: none\nmax: { high: 5 }\n');
    const v = verdict(p, report(...highs(6)));
    expect(v.pass).toBe(false);
    expect(v.blocking).toHaveLength(6);
    expect(v.blocking.every((f) => f.reasons.join() === 'High count 6 > max 5')).toBe(true);
    expect(verdict(p, report(...highs(5))).pass).toBe(true);
  });

  it('compares the cap with the count after waivers', () => {
    const p = policy(
      'failOn: none\nmax: { high: 5 }\nwaivers:\n  - { id: CVE-H0, reason: accepted, expires: 2026-12-31 }\n',
    );
    const v = verdict(p, report(...highs(6)));
    expect(v.pass).toBe(true);
    expect(v.counts.High).toBe(6); // counts are before waivers
    expect(v.waived.map((w) => w.matchId)).toEqual(['CVE-H0']);
  });

  it('max critical: 0 blocks a single critical even with failOn none', () => {
    const v = verdict(policy('failOn: none\nmax: { critical: 0 }\n'), report(vuln({ severity: 'Critical' })));
    expect(v.blocking[0]!.reasons).toEqual(['Critical count 1 > max 0']);
  });
});

describe('deduplication of identical (id, package, version) matches', () => {
  it('counts the same CVE at two paths once and keeps the worst of the duplicates', () => {
    const p = policy('failOn: none\nmax: { critical: 1 }\n');
    const a = vuln({ id: 'CVE-D', severity: 'Critical', packageName: 'libc6', packageVersion: '2.28-10' });
    const v = verdict(p, report(a, { ...a }));
    expect(v.counts.Critical).toBe(1);
    expect(v.pass).toBe(true);
    const merged = verdict(
      policy(),
      report(
        vuln({ id: 'CVE-X', severity: 'Unknown', packageName: 'zlib' }),
        vuln({ id: 'CVE-X', severity: 'High', packageName: 'zlib', relatedIds: ['GHSA-x'], epss: 0.2 }),
        vuln({
          id: 'CVE-X',
          severity: 'Medium',
          packageName: 'zlib',
          knownExploited: true,
          fixState: 'fixed',
        }),
      ),
    );
    expect(merged.counts).toMatchObject({ High: 1, Unknown: 0, Medium: 0 });
    expect(merged.blocking).toHaveLength(1);
    expect(merged.blocking[0]).toMatchObject({
      severity: 'High',
      relatedIds: ['GHSA-x'],
      knownExploited: true,
      epss: 0.2,
      fixState: 'fixed',
    });
    // Different version or package: not duplicates.
    expect(
      verdict(
        policy(),
        report(vuln({ id: 'CVE-Y', packageVersion: '1' }), vuln({ id: 'CVE-Y', packageVersion: '2' })),
      ).counts.Medium,
    ).toBe(2);
  });

  it.skipIf(!fixturesPresent)('on the real same-CVE-two-paths report', () => {
    const rel = 'grype/json/defectdojo_debian10_grype-0.36.0_same-cve-different-paths.json';
    const r = parseGrypeReport(readFileSync(fixturePath(rel)), rel);
    expect(r.matches).toHaveLength(2);
    const v = verdict(policy(), r);
    expect(v.counts.Critical).toBe(1);
    expect(v.blocking).toHaveLength(1);
    expect(v.blocking[0]).toMatchObject({ id: 'CVE-2021-33574', packageName: 'libc6', severity: 'Critical' });
  });
});

describe('waivers', () => {
  const W = (lines: string) => `waivers:\n${lines}`;
  const openssl = vuln({ id: 'CVE-2024-1234', severity: 'Critical', packageName: 'openssl' });

  it('a waiver covers a match by id (case-insensitive) and is reported as applied', () => {
    const p = policy(W('  - { id: cve-2024-1234, reason: not reachable, expires: 2026-12-31 }\n'));
    const g = evaluateGate(p, [{ platform: 'linux/amd64', report: report(openssl), image: GOOD_IMAGE }], NOW);
    expect(g.pass).toBe(true);
    expect(g.platforms[0]!.waived).toEqual([
      { waiver: p.waivers[0], platform: 'linux/amd64', matchId: 'CVE-2024-1234', packageName: 'openssl' },
    ]);
    expect(g.waivers.applied).toHaveLength(1);
    expect(g.waivers.unused).toEqual([]);
    expect(g.waivers.expired).toEqual([]);
  });

  it('a waiver matches a related id (GHSA match waived by its CVE)', () => {
    const p = policy(W('  - { id: CVE-2024-39338, reason: r, expires: 2030-01-01 }\n'));
    const ghsa = vuln({
      id: 'GHSA-8hc4-vh64-cxmj',
      relatedIds: ['CVE-2024-39338'],
      severity: 'High',
      packageName: 'axios',
    });
    expect(verdict(p, report(ghsa)).pass).toBe(true);
  });

  it('a package-scoped waiver covers only that package', () => {
    const p = policy(W('  - { id: CVE-2024-1234, package: openssl, reason: r, expires: 2030-01-01 }\n'));
    const other = vuln({ id: 'CVE-2024-1234', severity: 'Critical', packageName: 'libssl3' });
    const v = verdict(p, report(openssl, other));
    expect(v.pass).toBe(false);
    expect(v.blocking.map((f) => f.packageName)).toEqual(['libssl3']);
    expect(v.waived.map((w) => w.packageName)).toEqual(['openssl']);
  });

  it('a platform-scoped waiver applies on that platform only (arm64/v8 is arm64)', () => {
    const p = policy(
      W('  - { id: CVE-2024-1234, platforms: [linux/arm64], reason: r, expires: 2030-01-01 }\n'),
    );
    const g = evaluateGate(
      p,
      [
        { platform: 'linux/amd64', report: report(openssl), image: GOOD_IMAGE },
        { platform: 'linux/arm64/v8', report: report(openssl), image: GOOD_IMAGE },
      ],
      NOW,
    );
    expect(g.platforms.map((v) => [v.platform, v.pass])).toEqual([
      ['linux/amd64', false],
      ['linux/arm64', true],
    ]);
    expect(g.pass).toBe(false);
    expect(g.waivers.applied.map((u) => u.platform)).toEqual(['linux/arm64']);
  });

  it('an expired waiver does not apply: the match blocks, is listed as an expired hit, and the waiver as expired', () => {
    const p = policy(W('  - { id: CVE-2024-1234, reason: r, expires: 2026-06-14 }\n'));
    const g = evaluateGate(p, [{ platform: 'linux/amd64', report: report(openssl), image: GOOD_IMAGE }], NOW);
    expect(g.pass).toBe(false);
    const v = g.platforms[0]!;
    expect(v.blocking.map((f) => f.id)).toEqual(['CVE-2024-1234']);
    expect(v.waived).toEqual([]);
    expect(v.expiredWaiverHits).toEqual([
      { waiver: p.waivers[0], platform: 'linux/amd64', matchId: 'CVE-2024-1234', packageName: 'openssl' },
    ]);
    expect(g.waivers.expired).toEqual([p.waivers[0]]);
    expect(g.waivers.unused).toEqual([]);
    expect(explainGate(g).join('\n')).toMatch(
      /waivers\[0\] CVE-2024-1234 expired on 2026-06-14 and no longer covers/,
    );
  });

  it('an expired waiver on a match that does not block anyway does not fail the gate', () => {
    const p = policy(W('  - { id: CVE-LOW, reason: r, expires: 2020-01-01 }\n'));
    const v = verdict(p, report(vuln({ id: 'CVE-LOW', severity: 'Low' })));
    expect(v.pass).toBe(true);
    expect(v.expiredWaiverHits).toHaveLength(1);
  });

  it('a waiver is valid through the end of its expiry day, UTC', () => {
    const p = policy(W('  - { id: CVE-2024-1234, reason: r, expires: 2026-12-31 }\n'));
    expect(
      verdict(p, report(openssl), GOOD_IMAGE, 'linux/amd64', new Date('2026-12-31T23:59:59.999Z')).pass,
    ).toBe(true);
    expect(
      verdict(p, report(openssl), GOOD_IMAGE, 'linux/amd64', new Date('2027-01-01T00:00:00Z')).pass,
    ).toBe(false);
  });

  it('a non-expired waiver that matched nothing on any platform is unused; an expired one is only expired', () => {
    const p = policy(
      W(
        '  - { id: CVE-2024-1234, reason: r, expires: 2030-01-01 }\n' +
          '  - { id: CVE-NOWHERE, reason: r, expires: 2030-01-01 }\n' +
          '  - { id: CVE-OLD, reason: r, expires: 2020-01-01 }\n' +
          '  - { id: CVE-2024-1234, platforms: [linux/riscv64], reason: r, expires: 2030-01-01 }\n',
      ),
    );
    const g = evaluateGate(
      p,
      [
        { platform: 'linux/amd64', report: report(openssl), image: GOOD_IMAGE },
        { platform: 'linux/arm64', report: report(), image: GOOD_IMAGE },
      ],
      NOW,
    );
    expect(g.pass).toBe(true);
    expect(g.waivers.unused.map((w) => [w.id, w.index])).toEqual([
      ['CVE-NOWHERE', 1],
      ['CVE-2024-1234', 3],
    ]);
    expect(g.waivers.expired.map((w) => w.id)).toEqual(['CVE-OLD']);
    const text = explainGate(g).join('\n');
    expect(text).toMatch(/warning: waivers\[1\] CVE-NOWHERE matched nothing on any platform/);
    expect(text).toMatch(/warning: waivers\[2\] CVE-OLD expired on 2020-01-01/);
  });

  it('waivers never cover KEV or EPSS differently: a waived match does not block for any reason', () => {
    const p = policy(
      `epssThreshold: 0.1\n${W('  - { id: CVE-2024-1234, reason: r, expires: 2030-01-01 }\n')}`,
    );
    const kev = { ...openssl, knownExploited: true, epss: 0.9 };
    expect(verdict(p, report(kev)).pass).toBe(true);
  });
});

describe('per-platform overrides', () => {
  const p = () =>
    policy(
      'failOn: high\nedge: { maxImageSize: 150MB }\nplatforms:\n  linux/arm/v7: { failOn: critical, edge: { maxImageSize: 80MB } }\n',
    );

  it('apply to their platform only', () => {
    const r = report(vuln({ severity: 'High' }));
    const image = { ...GOOD_IMAGE, size: 100_000_000 };
    const amd64 = verdict(p(), r, image, 'linux/amd64');
    const armv7 = verdict(p(), r, image, 'linux/arm/v7');
    expect(amd64.blocking).toHaveLength(1);
    expect(amd64.edge).toEqual([]);
    expect(armv7.blocking).toEqual([]);
    expect(armv7.edge).toEqual([
      {
        kind: 'edge',
        check: 'image-size',
        mode: 'fail',
        platform: 'linux/arm/v7',
        message: expect.stringMatching(
          /100 MB \(100000000 bytes\) compressed, over edge\.maxImageSize 80 MB \(80000000 bytes\)/,
        ),
      },
    ]);
    expect(armv7.pass).toBe(false);
  });
});

describe('edge checks', () => {
  it('image size: fail blocks, warn reports, off and no limit skip; at the limit passes', () => {
    const big = { ...GOOD_IMAGE, size: 157_286_401 };
    expect(verdict(policy('edge: { maxImageSize: 150MiB }\n'), report(), big).pass).toBe(false);
    expect(
      verdict(policy('edge: { maxImageSize: 150MiB }\n'), report(), { ...big, size: 157_286_400 }).pass,
    ).toBe(true);
    const warn = verdict(policy('edge: { maxImageSize: 150MiB, imageSize: warn }\n'), report(), big);
    expect(warn.pass).toBe(true);
    expect(warn.edge.map((e) => [e.check, e.mode])).toEqual([['image-size', 'warn']]);
    expect(verdict(policy('edge: { maxImageSize: 150MiB, imageSize: off }\n'), report(), big).edge).toEqual(
      [],
    );
    expect(verdict(policy(), report(), { ...big, size: 10e9 }).edge).toEqual([]);
    expect(
      verdict(policy('', { maxImageSize: '1.5GB' }), report(), { ...big, size: 1_500_000_001 }).pass,
    ).toBe(false);
  });

  it('an unknown image size fails a size check that is on', () => {
    const v = verdict(policy('edge: { maxImageSize: 1MB }\n'), report(), { ...GOOD_IMAGE, size: Number.NaN });
    expect(v.pass).toBe(false);
    expect(v.edge[0]!.message).toMatch(/size is not known/);
  });

  it.each(['root', 'ROOT', '0', '0:0', '', '  ', 'root:root', 'root:1000', '0:1000', '00', ':1000'])(
    'user %j is root',
    (user) => {
      expect(isRootUser(user)).toBe(true);
      const v = verdict(policy('edge: { nonRoot: fail }\n'), report(), { ...GOOD_IMAGE, user });
      expect(v.pass).toBe(false);
      expect(v.edge).toMatchObject([
        { check: 'non-root', mode: 'fail', message: expect.stringMatching(/runs as root/) },
      ]);
    },
  );

  it.each(['1000', 'nobody', '65532:65532', '1000:0', 'app', 'rooty', '10'])(
    'user %j is not root',
    (user) => {
      expect(isRootUser(user)).toBe(false);
      expect(verdict(policy('edge: { nonRoot: fail }\n'), report(), { ...GOOD_IMAGE, user }).edge).toEqual(
        [],
      );
    },
  );

  it('non-root defaults to warn: a root image passes with a warning', () => {
    const v = verdict(policy(), report(), { ...GOOD_IMAGE, user: '' });
    expect(v.pass).toBe(true);
    expect(v.edge).toMatchObject([
      { check: 'non-root', mode: 'warn', message: expect.stringMatching(/no USER/) },
    ]);
  });

  it('healthcheck: warn by default, fail blocks, off skips', () => {
    const none = { ...GOOD_IMAGE, healthcheck: false };
    const warn = verdict(policy(), report(), none);
    expect(warn.pass).toBe(true);
    expect(warn.edge).toMatchObject([
      { check: 'healthcheck', mode: 'warn', message: expect.stringMatching(/no HEALTHCHECK/) },
    ]);
    expect(verdict(policy('edge: { healthcheck: fail }\n'), report(), none).pass).toBe(false);
    expect(verdict(policy('', { healthcheckCheck: 'fail' }), report(), none).pass).toBe(false);
    expect(verdict(policy('edge: { healthcheck: off }\n'), report(), none).edge).toEqual([]);
    expect(verdict(policy('edge: { healthcheck: fail }\n'), report(), GOOD_IMAGE).pass).toBe(true);
  });
});

describe("matches Grype's own rules suppressed (ignoredMatches)", () => {
  it("leave only Grype's built-in kernel-headers rule to Grype (indirect kernel CVEs on header packages)", () => {
    const headers =
      'package=linux-libc-dev package.type=deb package.upstream-name=linux match-type=exact-indirect-match';
    const p = verdict(
      policy(),
      withIgnored(
        [],
        [
          suppressed([headers], { id: 'CVE-KERNEL', severity: 'Critical', packageName: 'linux-libc-dev' }),
          suppressed([headers, 'vulnerability=CVE-KERNEL-2'], {
            id: 'CVE-KERNEL-2',
            severity: 'High',
            packageName: 'linux-libc-dev',
          }),
        ],
      ),
    );
    // The first is dropped by the built-in rule alone: left out. The second also matched another rule: evaluated.
    expect(p.blocking.map((f) => f.id)).toEqual(['CVE-KERNEL-2']);
    expect(p.counts.Critical).toBe(0);
    expect(p.ignoredByGrype).toBe(2);
  });

  it('block like any match, are counted, and the explanation names the rules', () => {
    const g = evaluateGate(
      policy(),
      [
        {
          platform: 'linux/amd64',
          report: withIgnored(
            [vuln({ id: 'CVE-SEEN', severity: 'Low' })],
            [
              suppressed(['vulnerability=CVE-HIDDEN'], { id: 'CVE-HIDDEN', severity: 'Critical' }),
              suppressed(['fix-state=not-fixed'], { id: 'CVE-NOFIX-1', severity: 'High' }),
              suppressed(['fix-state=not-fixed'], { id: 'CVE-NOFIX-2', severity: 'Medium' }),
            ],
          ),
          image: GOOD_IMAGE,
        },
      ],
      NOW,
    );
    expect(g.pass).toBe(false);
    const p = g.platforms[0]!;
    expect(p.counts).toEqual({ Critical: 1, High: 1, Medium: 1, Low: 1, Negligible: 0, Unknown: 0 });
    expect(p.blocking.map((f) => [f.id, f.reasons, f.suppressedByGrype])).toEqual([
      ['CVE-HIDDEN', ['severity Critical ≥ fail-on high'], ['vulnerability=CVE-HIDDEN']],
      ['CVE-NOFIX-1', ['severity High ≥ fail-on high'], ['fix-state=not-fixed']],
    ]);
    expect(p.ignoredByGrype).toBe(3);
    expect(p.grypeIgnoreRules).toEqual([
      { rule: 'fix-state=not-fixed', matches: 2 },
      { rule: 'vulnerability=CVE-HIDDEN', matches: 1 },
    ]);
    expect(explainGate(g)).toEqual([
      'gate FAILED',
      'linux/amd64: FAIL (2 blocking vulnerabilities, 0 failed edge checks)',
      "  CVE-HIDDEN (Critical) in openssl 3.0.1 [no fix yet]: severity Critical ≥ fail-on high (suppressed by Grype's own rule: vulnerability=CVE-HIDDEN)",
      "  CVE-NOFIX-1 (High) in openssl 3.0.1 [no fix yet]: severity High ≥ fail-on high (suppressed by Grype's own rule: fix-state=not-fixed)",
      "  note: Grype's own rules had suppressed 3 match(es) [fix-state=not-fixed (2); vulnerability=CVE-HIDDEN (1)]; " +
        'Edgeship evaluated them anyway like every other match (waive accepted ones in the policy, with a reason and an expiry)',
    ]);
  });

  it("Grype's --only-fixed does not weaken the gate; Edgeship's own onlyFixed decides", () => {
    const r = withIgnored(
      [],
      [
        suppressed(['fix-state=not-fixed'], { id: 'CVE-NF', severity: 'Critical', fixState: 'not-fixed' }),
        suppressed(['fix-state=wont-fix'], {
          id: 'CVE-KEV',
          severity: 'Low',
          fixState: 'wont-fix',
          knownExploited: true,
        }),
      ],
    );
    expect(verdict(policy(), r).blocking.map((f) => f.id)).toEqual(['CVE-NF', 'CVE-KEV']);
    // With the policy's own onlyFixed, unfixed matches leave fail-on, but KEV still blocks.
    const own = verdict(policy('onlyFixed: true\n'), r);
    expect(own.blocking.map((f) => [f.id, f.reasons])).toEqual([['CVE-KEV', ['known exploited (CISA KEV)']]]);
  });

  it('VEX not_affected and package rules are evaluated too: only an Edgeship waiver accepts them', () => {
    const vex = suppressed(['vulnerability=CVE-2024-1234 vex-status=not_affected namespace=vex'], {
      id: 'CVE-2024-1234',
      severity: 'Critical',
    });
    const headers = suppressed(['package=busybox package.type=binary'], {
      id: 'CVE-2024-5678',
      severity: 'High',
      packageName: 'busybox',
      packageVersion: '1.36.1',
    });
    const r = withIgnored([], [vex, headers]);
    expect(verdict(policy(), r).blocking).toHaveLength(2);
    const p = policy(
      'waivers:\n' +
        '  - { id: CVE-2024-1234, reason: not reachable, expires: 2026-12-31 }\n' +
        '  - { id: CVE-2024-5678, package: busybox, reason: applet not built, expires: 2026-12-31 }\n',
    );
    const g = evaluateGate(p, [{ platform: 'linux/amd64', report: r, image: GOOD_IMAGE }], NOW);
    expect(g.pass).toBe(true);
    expect(g.waivers.applied.map((u) => [u.matchId, u.packageName])).toEqual([
      ['CVE-2024-1234', 'openssl'],
      ['CVE-2024-5678', 'busybox'],
    ]);
    expect(g.waivers.unused).toEqual([]);
    expect(g.platforms[0]!.counts).toMatchObject({ Critical: 1, High: 1 });
    // An expired waiver does not cover it either.
    const expired = policy('waivers:\n  - { id: CVE-2024-1234, reason: r, expires: 2026-06-14 }\n');
    const v = verdict(expired, withIgnored([], [vex]));
    expect(v.pass).toBe(false);
    expect(v.expiredWaiverHits.map((h) => h.matchId)).toEqual(['CVE-2024-1234']);
  });

  it('count toward the max caps', () => {
    const p = policy('failOn: none\nmax: { high: 1 }\n');
    const r = withIgnored(
      [vuln({ id: 'CVE-H1', severity: 'High' })],
      [suppressed(['fix-state=not-fixed'], { id: 'CVE-H2', severity: 'High' })],
    );
    const v = verdict(p, r);
    expect(v.blocking.map((f) => [f.id, f.reasons])).toEqual([
      ['CVE-H1', ['High count 2 > max 1']],
      ['CVE-H2', ['High count 2 > max 1']],
    ]);
  });

  it('are deduplicated with the matches: shown once by Grype means not suppressed', () => {
    const seen = vuln({ id: 'CVE-D', severity: 'Medium', packageName: 'libc6', packageVersion: '2.28' });
    const hiddenAtOtherPath = suppressed(['package.location=/opt/*'], {
      ...seen,
      severity: 'Critical',
      knownExploited: true,
    });
    for (const r of [
      withIgnored([seen], [hiddenAtOtherPath]),
      withIgnored([], [hiddenAtOtherPath, { ...seen, ignoreRules: [] }]),
    ]) {
      const v = verdict(policy(), r);
      expect(v.counts).toMatchObject({ Critical: 1, Medium: 0 });
      expect(v.blocking).toHaveLength(1);
      expect(v.blocking[0]).toMatchObject({ id: 'CVE-D', severity: 'Critical', knownExploited: true });
    }
    expect(
      verdict(policy(), withIgnored([seen], [hiddenAtOtherPath])).blocking[0]!.suppressedByGrype,
    ).toBeUndefined();
    // Suppressed at every path, by different rules: all of them named.
    const both = verdict(
      policy(),
      withIgnored([], [hiddenAtOtherPath, { ...hiddenAtOtherPath, ignoreRules: ['fix-state=not-fixed'] }]),
    );
    expect(both.blocking[0]!.suppressedByGrype).toEqual(['package.location=/opt/*', 'fix-state=not-fixed']);
    expect(both.ignoredByGrype).toBe(2);
    expect(describeLine(both)).toMatch(
      /suppressed by Grype's own rules: package.location=\/opt\/\*; fix-state=not-fixed\)$/,
    );
  });

  it('the note names at most five rules and says how many more there were', () => {
    const rules = Array.from({ length: 7 }, (_, i) => `vulnerability=CVE-R${i}`);
    const r = withIgnored(
      [],
      [
        ...rules.map((rule, i) => suppressed([rule], { id: `CVE-R${i}`, severity: 'Low' })),
        suppressed([], { id: 'CVE-UNNAMED', severity: 'Low' }),
      ],
    );
    const g = evaluateGate(policy(), [{ platform: 'linux/amd64', report: r, image: GOOD_IMAGE }], NOW);
    expect(g.pass).toBe(true);
    const note = explainGate(g).find((l) => l.includes('note:'))!;
    expect(note).toMatch(/^ {2}note: Grype's own rules had suppressed 8 match\(es\) \[/);
    expect(note).toContain('vulnerability=CVE-R0 (1); ');
    expect(note).toContain('; and 3 more rule(s)]');
    expect(note).toMatch(/Edgeship evaluated them anyway/);
    expect(g.platforms[0]!.grypeIgnoreRules).toHaveLength(8);
    expect(g.platforms[0]!.grypeIgnoreRules).toContainEqual({
      rule: 'a rule Grype did not name',
      matches: 1,
    });
  });

  it('a report without suppressed matches has no note', () => {
    const g = evaluateGate(policy(), [{ platform: 'linux/amd64', report: report(), image: GOOD_IMAGE }], NOW);
    expect(g.platforms[0]!.ignoredByGrype).toBe(0);
    expect(g.platforms[0]!.grypeIgnoreRules).toBeUndefined();
    expect(explainGate(g).join('\n')).not.toMatch(/note:/);
  });
});

function describeLine(v: ReturnType<typeof verdict>): string {
  return explainGate({
    pass: v.pass,
    platforms: [v],
    waivers: { applied: [], expired: [], unused: [] },
    problems: [],
  }).find((l) => l.startsWith('  CVE-'))!;
}

describe('evaluateGate', () => {
  it('never passes on nothing', () => {
    const g = evaluateGate(policy(), [], NOW);
    expect(g.pass).toBe(false);
    expect(g.problems).toEqual(['no platform was scanned: the gate never passes on nothing']);
    expect(explainGate(g)[0]).toBe('gate FAILED');
  });

  it('fails when a platform is given twice', () => {
    const entry = { platform: 'linux/arm64', report: report(), image: GOOD_IMAGE };
    const g = evaluateGate(policy(), [entry, { ...entry, platform: 'linux/arm64/v8' }], NOW);
    expect(g.pass).toBe(false);
    expect(g.problems).toEqual(['platform linux/arm64 was given to the gate twice']);
  });

  it('passes only when every platform passes, and explains exactly what blocked', () => {
    const bad = report(vuln({ id: 'CVE-2026-9', severity: 'High', fixState: 'fixed', fixedIn: ['3.0.2'] }));
    const g = evaluateGate(
      policy('edge: { nonRoot: fail }\n'),
      [
        { platform: 'linux/amd64', report: report(), image: GOOD_IMAGE },
        { platform: 'linux/arm64', report: bad, image: { ...GOOD_IMAGE, user: 'root' } },
      ],
      NOW,
    );
    expect(g.pass).toBe(false);
    expect(g.platforms.map((p) => p.pass)).toEqual([true, false]);
    expect(explainGate(g)).toEqual([
      'gate FAILED',
      'linux/amd64: pass',
      'linux/arm64: FAIL (1 blocking vulnerability, 1 failed edge check)',
      '  CVE-2026-9 (High) in openssl 3.0.1 [fixed in 3.0.2]: severity High ≥ fail-on high',
      '  non-root: the image runs as root (USER root); add a non-root USER (e.g. USER 65532:65532) to the Dockerfile',
    ]);
    const ok = evaluateGate(
      policy(),
      [{ platform: 'linux/amd64', report: report(), image: GOOD_IMAGE }],
      NOW,
    );
    expect(ok.pass).toBe(true);
  });

  it('refuses a report that says Grype suppressed matches it does not carry', () => {
    const hidden = { matches: [], ignoredByGrype: [], ignoredMatches: 3 };
    expect(() =>
      evaluateGate(policy(), [{ platform: 'linux/amd64', report: hidden, image: GOOD_IMAGE }], NOW),
    ).toThrow(/says Grype suppressed 3 match\(es\) but carries 0 of them/);
    const none = { matches: [], ignoredMatches: 0 } as unknown as GrypeReport;
    expect(() => verdict(policy(), none)).toThrow(/carries none of them/);
  });

  it('refuses an invalid clock', () => {
    expect(() => evaluateGate(policy(), [], new Date('nope'))).toThrow(/valid current time/);
  });
});

describe.skipIf(!fixturesPresent)('gate on real reports', () => {
  const rel = 'grype/json/debian12-python-app_amd64_grype-0.97.1.json';

  it('blocks exactly the unique Critical and High matches of the 6-severity report under the default policy', () => {
    const buffer = readFileSync(fixturePath(rel));
    const doc = JSON.parse(buffer.toString('utf8')) as {
      matches: Array<{
        vulnerability: { id: string; severity: string };
        artifact: { name: string; version: string };
      }>;
    };
    const expected = new Set(
      doc.matches
        .filter((m) => m.vulnerability.severity === 'Critical' || m.vulnerability.severity === 'High')
        .map((m) => `${m.vulnerability.id} ${m.artifact.name} ${m.artifact.version}`),
    );
    const g = evaluateGate(
      policy(),
      [{ platform: 'linux/amd64', report: parseGrypeReport(buffer, rel), image: GOOD_IMAGE }],
      NOW,
    );
    expect(g.pass).toBe(false);
    const blocked = g.platforms[0]!.blocking.map((f) => `${f.id} ${f.packageName} ${f.packageVersion}`);
    expect(new Set(blocked)).toEqual(expected);
    expect(blocked).toHaveLength(expected.size);
    expect(g.platforms[0]!.blocking[0]!.severity).toBe('Critical');
  });

  it('moving every match of the real report into ignoredMatches (as Grype rules would) changes nothing', () => {
    const buffer = readFileSync(fixturePath(rel));
    const doc = JSON.parse(buffer.toString('utf8')) as { matches: Array<Record<string, unknown>> };
    const rules = [
      { namespace: '', 'fix-state': 'not-fixed' },
      { namespace: 'vex', vulnerability: 'CVE-X', 'vex-status': 'not_affected' },
    ];
    const moved = JSON.stringify({
      ...doc,
      matches: doc.matches.slice(0, 40),
      ignoredMatches: doc.matches.slice(40).map((m, i) => ({ ...m, appliedIgnoreRules: [rules[i % 2]] })),
    });
    const original = parseGrypeReport(buffer, rel);
    const shuffled = parseGrypeReport(moved, 'moved.json');
    expect(shuffled.matches).toHaveLength(40);
    expect(shuffled.ignoredMatches).toBe(120);
    const gate = (r: GrypeReport) =>
      evaluateGate(policy(), [{ platform: 'linux/amd64', report: r, image: GOOD_IMAGE }], NOW).platforms[0]!;
    const a = gate(original);
    const b = gate(shuffled);
    expect(b.pass).toBe(a.pass);
    expect(b.counts).toEqual(a.counts);
    const key = (f: { id: string; packageName: string; packageVersion: string; reasons: string[] }) =>
      `${f.id} ${f.packageName} ${f.packageVersion} ${f.reasons.join()}`;
    expect(b.blocking.map(key)).toEqual(a.blocking.map(key));
    expect(b.ignoredByGrype).toBe(120);
    expect(b.grypeIgnoreRules).toEqual([
      { rule: 'fix-state=not-fixed', matches: 60 },
      { rule: 'vulnerability=CVE-X vex-status=not_affected namespace=vex', matches: 60 },
    ]);
  });

  it('the zero-match arm64 report passes', () => {
    const zero = 'grype/json/klass-web_wolfi_arm64_grype-0.114.0_zero-matches.json';
    const g = evaluateGate(
      policy(),
      [
        {
          platform: 'linux/arm64',
          report: parseGrypeReport(readFileSync(fixturePath(zero)), zero),
          image: GOOD_IMAGE,
        },
      ],
      NOW,
    );
    expect(g.pass).toBe(true);
  });

  it('a polluted or truncated report never reaches a verdict', () => {
    const edge = 'grype/json/EDGE_stderr-polluted_directory_grype-0.104.1.json';
    const gate = (data: Buffer) =>
      evaluateGate(
        policy('failOn: none\nfailOnKev: false\n'),
        [{ platform: 'linux/amd64', report: parseGrypeReport(data, 'r.json'), image: GOOD_IMAGE }],
        NOW,
      );
    expect(() => gate(readFileSync(fixturePath(edge)))).toThrow(ReportError);
    const full = readFileSync(fixturePath(rel));
    for (const cut of [1, 100, 50_000, Math.floor(full.length / 2), full.length - 10]) {
      expect(() => gate(full.subarray(0, cut))).toThrow(ReportError);
    }
  });
});
