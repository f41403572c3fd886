import { describe, expect, it } from 'vitest';
import type { PlatformImage } from '../../../src/image/pushed-image.js';
import { compareWithProduction } from '../../../src/lifecycle/check.js';
import { blockingLines, rescanTargets, type RescannedRelease } from '../../../src/lifecycle/rescan.js';
import type { Finding, GateVerdict } from '../../../src/policy/index.js';
import type { VulnerabilityMatch } from '../../../src/scan/grype-report.js';
import type { PlatformScan } from '../../../src/scan/scan-platforms.js';
import { pullRequestNumber } from '../../../src/stages/check.js';
import { checkCommentBody, gitOpsPullRequestBody, rescanSummary } from '../../../src/summary/lifecycle.js';
import { memoryLog } from '../helpers/memory-host.js';

const d = (n: number) => `sha256:${String(n).padStart(64, '0')}`;
const match = (
  id: string,
  severity: VulnerabilityMatch['severity'],
  pkg = 'openssl',
): VulnerabilityMatch => ({
  id,
  severity,
  packageName: pkg,
  packageVersion: '3.0.13',
  relatedIds: [],
  packageType: 'deb',
  fixState: 'fixed',
  fixedIn: ['3.0.14'],
  knownExploited: false,
});
const finding = (m: VulnerabilityMatch, platform: string): Finding => ({
  kind: 'vulnerability',
  ...m,
  platform,
  reasons: ['severity'],
});
const image = (platform: string, layers: Array<[number, number]>, size: number): PlatformImage =>
  ({
    platform,
    digest: d(size),
    size,
    configDigest: d(size + 1),
    layers: layers.map(([n, s]) => ({ digest: d(n), size: s })),
    config: { user: '1000', healthcheck: true },
  }) as unknown as PlatformImage;

describe('rescanTargets', () => {
  it('the channel tags that exist, then the latest stable versions; one target per index digest', async () => {
    const tags: Record<string, string> = {
      production: d(1),
      staging: d(2),
      '1.8.2': d(1),
      '1.8.1': d(3),
      '1.7.0': d(4),
      '1.9.0-rc.1': d(2),
    };
    const registry = {
      listTags: async () => Object.keys(tags),
      headManifest: async (_p: string, ref: string) =>
        tags[ref] ? { digest: tags[ref]!, mediaType: 'x', size: 1 } : undefined,
    };
    const log = memoryLog();
    const targets = await rescanTargets(
      registry,
      { path: 'acme/agent', name: 'r/acme/agent' },
      { channels: ['production', 'staging', 'ring-0'], releases: 2 },
      log,
    );
    expect(targets).toEqual([
      { digest: d(1), references: ['production', '1.8.2'] },
      { digest: d(2), references: ['staging'] },
      { digest: d(3), references: ['1.8.1'] },
    ]);
    expect(log.lines).toContain('r/acme/agent:ring-0 does not exist: nothing deployed there to rescan');
  });
});

describe('blockingLines', () => {
  it('one line per blocking finding: release, tags, platform, package, fixed version, new or not', () => {
    const critical = match('CVE-2026-1', 'Critical');
    const old = { ...match('CVE-2020-9', 'High', 'zlib'), fixedIn: [], fixState: 'not-fixed' as const };
    const result = {
      release: '1.8.2',
      references: ['production'],
      verdict: { pass: false } as GateVerdict,
      platforms: [
        {
          release: '1.8.2',
          references: ['production'],
          index: d(1),
          platform: 'linux/arm64',
          digest: d(5),
          added: [critical],
          fixed: [],
          blocking: [finding(critical, 'linux/arm64'), finding(old, 'linux/arm64')],
        },
      ],
    } as RescannedRelease;
    expect(blockingLines([result])).toEqual([
      '1.8.2 (production) linux/arm64: CVE-2026-1 (Critical) in openssl 3.0.13, fixed in 3.0.14, new since the release',
      '1.8.2 (production) linux/arm64: CVE-2020-9 (High) in zlib 3.0.13, no fix (not-fixed)',
    ]);
  });
});

describe('the pull-request check', () => {
  const pr = [
    image(
      'linux/amd64',
      [
        [10, 1000],
        [11, 500],
      ],
      1600,
    ),
    image('linux/arm64', [[20, 900]], 1000),
  ];
  const production = {
    version: '1.8.2',
    digest: d(99),
    images: [
      image(
        'linux/amd64',
        [
          [10, 1000],
          [12, 700],
        ],
        1800,
      ),
    ],
    recorded: new Map([
      ['linux/amd64', { matches: [match('CVE-1', 'High')], ignoredByGrype: [], ignoredMatches: 0 }],
    ]),
  };
  const scans = [
    {
      platform: 'linux/amd64',
      report: { matches: [match('CVE-1', 'High'), match('CVE-2', 'Critical', 'libc6')] },
    },
    { platform: 'linux/arm64', report: { matches: [] } },
  ] as unknown as PlatformScan[];

  it('compares each platform with production: size, upgrade download, new findings', () => {
    const compared = compareWithProduction(pr, scans, production);
    expect(compared[0]).toEqual({
      platform: 'linux/amd64',
      size: 1600,
      production: { size: 1800, upgradeBytes: 600, newFindings: [match('CVE-2', 'Critical', 'libc6')] },
    });
    expect(compared[1]).toEqual({ platform: 'linux/arm64', size: 1000 });
    expect(compareWithProduction(pr, scans, undefined).every((p) => p.production === undefined)).toBe(true);
  });

  it('the comment: verdict, a row per platform, new findings against production', () => {
    const verdict = {
      pass: true,
      problems: [],
      platforms: [
        { platform: 'linux/amd64', pass: true, blocking: [], edge: [] },
        { platform: 'linux/arm64', pass: true, blocking: [], edge: [] },
      ],
      waivers: { applied: [], expired: [], unused: [] },
    } as unknown as GateVerdict;
    const body = checkCommentBody(
      'ghcr.io/acme/agent',
      verdict,
      compareWithProduction(pr, scans, production),
      production,
    );
    expect(body).toContain('### Edgeship check of ghcr.io/acme/agent: ✅ the gate passes');
    expect(body).toContain(`Compared with production 1.8.2 (\`${d(99)}\`).`);
    expect(body).toContain('| linux/amd64 | ✅ pass | 1.60 kB | −200 B | 600 B | 1 |');
    expect(body).toContain('| linux/arm64 | ✅ pass | 1.00 kB | new platform | 1.00 kB | not compared |');
    expect(body).toContain('| linux/amd64 | CVE-2 | Critical | libc6 | 3.0.13 | 3.0.14 |');
  });

  it('reads the pull request number from the ref', () => {
    expect(pullRequestNumber('refs/pull/42/merge')).toBe(42);
    expect(pullRequestNumber('refs/pull/42/head')).toBe(42);
    expect(pullRequestNumber('refs/heads/main')).toBeUndefined();
  });
});

describe('lifecycle markdown', () => {
  it('the GitOps pull request names the digest, the baseline and the upgrade per platform', () => {
    const body = gitOpsPullRequestBody(
      'ghcr.io/acme/agent',
      { version: '1.8.2', channel: 'production' },
      {
        indexDigest: d(7),
        tags: ['1.8.2', 'production'],
        manifestDigest: d(8),
        manifest: {
          baseline: { channel: 'production', version: '1.8.1', index: d(6) },
          gate: { verdict: 'pass', policyDigest: d(9) },
          signatures: { mode: 'keyless' },
          platforms: [
            {
              platform: 'linux/arm64',
              digest: d(5),
              size: 2_500_000,
              delta: { bytes: 120_000, layers: 1 },
              vulnerabilities: { critical: 0, high: 1, medium: 2 },
            },
          ],
        } as never,
      },
      ['clusters/production/agent.yaml'],
    );
    expect(body).toContain(`- Index: \`ghcr.io/acme/agent@${d(7)}\``);
    expect(body).toContain(`- Upgrades from: 1.8.1 (\`${d(6)}\`)`);
    expect(body).toContain(
      `| linux/arm64 | \`${d(5)}\` | 2.50 MB | 120.0 kB (1 layer(s)) | 1 high, 2 medium |`,
    );
    expect(body).toContain('Pinned files: `clusters/production/agent.yaml`');
  });

  it('the rescan summary: one row per release and platform', () => {
    const text = rescanSummary(
      'ghcr.io/acme/agent',
      [
        {
          release: '1.8.2',
          references: ['production'],
          platform: 'linux/amd64',
          digest: d(1),
          added: [match('CVE-3', 'Critical')],
          fixed: [],
          blocking: [],
        },
      ],
      new Date('2026-12-01T05:17:00Z'),
    );
    expect(text).toContain('every deployed release still passes');
    expect(text).toContain(
      '| 1.8.2 | `production` | linux/amd64 | 1 | 0 | 0 | CVE-3 (Critical, openssl 3.0.13) | — |',
    );
  });
});
