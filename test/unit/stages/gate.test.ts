import { describe, expect, it } from 'vitest';
import type { PlatformImage } from '../../../src/image/pushed-image.js';
import type { VulnerabilityMatch } from '../../../src/scan/grype-report.js';
import type { PlatformScan, ScanResult } from '../../../src/scan/scan-platforms.js';
import { assertGatePassed, GateFailedError, runGateStage } from '../../../src/stages/gate.js';
import { platformImage } from '../helpers/images.js';
import { memoryHost } from '../helpers/memory-host.js';
import { settingsFrom } from '../helpers/settings.js';

const REPORTS = '/tmp/edgeship-reports';

function vuln(id: string, severity: VulnerabilityMatch['severity'], fixedIn?: string): VulnerabilityMatch {
  return {
    id,
    relatedIds: [],
    severity,
    packageName: 'openssl',
    packageVersion: '3.0.1',
    packageType: 'deb',
    fixState: fixedIn ? 'fixed' : 'not-fixed',
    fixedIn: fixedIn ? [fixedIn] : [],
    knownExploited: false,
  };
}

function scan(platform: string, matches: VulnerabilityMatch[] = [], packages = 12): PlatformScan {
  const slug = platform.replace(/\//g, '-');
  return {
    platform,
    digest: platformImage(platform).digest,
    sbomFiles: [{ format: 'spdx-json', file: `${REPORTS}/sbom-${slug}.spdx.json` }],
    packages,
    reportFile: `${REPORTS}/grype-${slug}.json`,
    sarifFile: `${REPORTS}/grype-${slug}.sarif`,
    report: { matches, ignoredByGrype: [], ignoredMatches: 0 },
  };
}

function gateStage(
  scans: PlatformScan[],
  options: { inputs?: Record<string, string>; images?: PlatformImage[] } = {},
) {
  const host = memoryHost();
  const settings = settingsFrom({
    image: 'registry.example/acme/agent',
    platforms: scans.map((s) => s.platform).join(','),
    ...options.inputs,
  });
  const images = options.images ?? scans.map((s) => platformImage(s.platform));
  const scanned: ScanResult = { scans, reportsDir: REPORTS };
  const run = () => runGateStage(host, { settings, images, scanned });
  return { host, run };
}

describe('gate stage', () => {
  it('passes clean scans and says so in outputs, summary and log', async () => {
    const { host, run } = gateStage([
      scan('linux/amd64', [vuln('CVE-2026-0002', 'Medium')]),
      scan('linux/arm64'),
    ]);
    const gate = await run();
    expect(gate.verdict.pass).toBe(true);
    expect(gate.reportsDir).toBe(REPORTS);
    expect(gate.scans.map((s) => s.platform)).toEqual(['linux/amd64', 'linux/arm64']);
    expect(host.outputs).toEqual({
      gate: 'pass',
      vulnerabilities: JSON.stringify({
        'linux/amd64': { critical: 0, high: 0, medium: 1, low: 0, negligible: 0, unknown: 0 },
        'linux/arm64': { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 },
      }),
      'sbom-files': JSON.stringify([
        `${REPORTS}/sbom-linux-amd64.spdx.json`,
        `${REPORTS}/sbom-linux-arm64.spdx.json`,
      ]),
      'sarif-files': JSON.stringify([
        `${REPORTS}/grype-linux-amd64.sarif`,
        `${REPORTS}/grype-linux-arm64.sarif`,
      ]),
      'reports-dir': REPORTS,
    });
    expect(host.summary).toHaveLength(1);
    expect(host.summary[0]).toContain('### Supply-chain gate: ✅ pass');
    expect(host.summary[0]).toContain(`SBOMs, Grype reports and SARIF: \`${REPORTS}\``);
    expect(host.summary[0]).not.toContain('#### Blocking findings');
    expect(host.log.lines).toContain('linux/amd64: pass');
    expect(() => assertGatePassed(gate.verdict)).not.toThrow();
  });

  it('reports a failing verdict with its blocking findings, and assertGatePassed stops the release', async () => {
    const { host, run } = gateStage([
      scan('linux/amd64'),
      scan('linux/arm64', [vuln('CVE-2026-0001', 'Critical', '3.0.2')]),
    ]);
    const gate = await run();
    expect(gate.verdict.pass).toBe(false);
    expect(host.outputs.gate).toBe('fail');
    expect(JSON.parse(host.outputs.vulnerabilities!)['linux/arm64'].critical).toBe(1);
    expect(host.summary[0]).toContain('### Supply-chain gate: ❌ fail');
    expect(host.summary[0]).toContain('#### Blocking findings');
    expect(host.summary[0]).toContain('CVE-2026-0001');
    expect(host.log.lines.some((l) => l.startsWith('linux/arm64: FAIL'))).toBe(true);
    let error: unknown;
    try {
      assertGatePassed(gate.verdict);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GateFailedError);
    expect((error as Error).message).toMatch(/^The supply-chain gate failed, so no tag was written\.\n/);
    expect((error as Error).message).toContain('CVE-2026-0001 (Critical) in openssl 3.0.1 [fixed in 3.0.2]');
  });

  it('warns about edge checks in warn mode without failing', async () => {
    const images = [
      platformImage('linux/amd64', { config: { ...platformImage('linux/amd64').config, user: '' } }),
    ];
    const { host, run } = gateStage([scan('linux/amd64')], { images });
    const gate = await run();
    expect(gate.verdict.pass).toBe(true);
    expect(host.log.lines.filter((l) => l.startsWith('warning: linux/amd64:'))).toEqual([
      expect.stringMatching(/runs as root/),
    ]);
  });

  it('fails closed on an empty SBOM of an image with content, before reporting anything', async () => {
    const { host, run } = gateStage([scan('linux/amd64'), scan('linux/arm64', [], 0)]);
    await expect(run()).rejects.toThrow(
      'The gate fails closed: 1 of 2 platform scan(s) did not complete, so nothing is published.\n' +
        'linux/arm64: Syft found no packages in linux/arm64 (1000 bytes of layers). An empty SBOM cannot be scanned, ' +
        'so the gate fails closed. If the image really holds nothing Syft can identify (e.g. one static binary FROM scratch), ' +
        'set allow-empty-sbom: true.',
    );
    expect(host.outputs).toEqual({});
    expect(host.summary).toEqual([]);
  });

  it('accepts an empty SBOM with allow-empty-sbom, or when every layer is empty', async () => {
    const allowed = gateStage([scan('linux/amd64', [], 0)], { inputs: { 'allow-empty-sbom': 'true' } });
    expect((await allowed.run()).verdict.pass).toBe(true);
    expect(allowed.host.outputs.gate).toBe('pass');

    const hollow = platformImage('linux/amd64', {
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: `sha256:${'0'.repeat(64)}`,
          size: 0,
        },
      ],
    });
    const nothingInside = gateStage([scan('linux/amd64', [], 0)], { images: [hollow] });
    expect((await nothingInside.run()).verdict.pass).toBe(true);
  });
});
