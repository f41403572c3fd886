/**
 * syft and grype as fake-exec handlers: minimal generated documents (SPDX, CycloneDX or syft JSON SBOMs,
 * grype JSON reports, SARIF) written where the argv says, like the real tools would.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ExecCall, ExecHandler } from './memory-host.js';

/** A vulnerability grype reports. */
export interface FakeMatch {
  id: string;
  severity: 'Critical' | 'High' | 'Medium' | 'Low' | 'Negligible' | 'Unknown';
  /** The version that fixes it, if any. */
  fixedIn?: string;
}

/** An SBOM listing `packages` packages, in `format`. */
export function sbomDocument(format: string, packages: number): string {
  const names = Array.from({ length: packages }, (_, i) => `pkg-${i + 1}`);
  switch (format) {
    case 'spdx-json':
      return JSON.stringify({
        spdxVersion: 'SPDX-2.3',
        SPDXID: 'SPDXRef-DOCUMENT',
        packages: names.map((name) => ({ SPDXID: `SPDXRef-Package-${name}`, name, versionInfo: '1.0' })),
      });
    case 'cyclonedx-json':
      return JSON.stringify({
        bomFormat: 'CycloneDX',
        specVersion: '1.5',
        components: names.map((name) => ({ type: 'library', name, version: '1.0' })),
      });
    case 'syft-json':
      return JSON.stringify({
        descriptor: { name: 'syft', version: '1.52.0' },
        artifacts: names.map((name) => ({ name, version: '1.0' })),
      });
    default:
      throw new Error(`no fake SBOM for format ${format}`);
  }
}

/** A `grype -o json` report with these matches. */
export function grypeReportDocument(matches: readonly FakeMatch[]): string {
  return JSON.stringify({
    matches: matches.map((m) => ({
      vulnerability: {
        id: m.id,
        dataSource: `https://example.test/${m.id}`,
        severity: m.severity,
        urls: [],
        cvss: [],
        fix: m.fixedIn ? { versions: [m.fixedIn], state: 'fixed' } : { versions: [], state: 'not-fixed' },
      },
      relatedVulnerabilities: [],
      matchDetails: [],
      artifact: {
        name: 'openssl',
        version: '3.0.1',
        type: 'deb',
        locations: [{ path: '/var/lib/dpkg/status' }],
      },
    })),
    source: { type: 'sbom', target: 'sbom.json' },
    descriptor: { name: 'grype', version: '0.119.0' },
  });
}

/** A SARIF 2.1.0 log from grype with one result per match. */
export function sarifDocument(matches: readonly FakeMatch[]): string {
  return JSON.stringify({
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'Grype', version: '0.119.0' } },
        results: matches.map((m) => ({ ruleId: m.id, message: { text: m.id } })),
      },
    ],
  });
}

export interface ScannerDoubleOptions {
  /** Packages syft finds, per platform (default 3). */
  packages?: Record<string, number>;
  /** What grype finds, per platform (default nothing). */
  matches?: Record<string, FakeMatch[]>;
  /** When the grype database was built (default: `now`). */
  dbBuilt?: Date;
  now?: Date;
  /** Platforms whose syft or grype run exits non-zero. */
  failSyft?: string[];
  failGrype?: string[];
  /** Platforms for which syft exits 0 but writes nothing. */
  syftWritesNothing?: string[];
  /** Called when a scan starts and ends (to watch concurrency); may delay. */
  during?: (tool: 'syft' | 'grype', platform: string) => Promise<void>;
}

const tool = (call: ExecCall) => path.basename(call.file);
const option = (args: readonly string[], name: string): string[] =>
  args.flatMap((a, i) => (a === name && args[i + 1] !== undefined ? [args[i + 1]!] : []));

/** Answers `syft scan …`, `grype sbom:…`, `grype db status` and `grype db update`. */
export function scannerDoubles(options: ScannerDoubleOptions = {}): ExecHandler {
  const now = options.now ?? new Date('2026-01-02T03:04:05Z');
  const built = options.dbBuilt ?? now;
  return async (call) => {
    if (tool(call) === 'syft' && call.args[0] === 'scan') {
      const platform = option(call.args, '--platform')[0]!;
      await options.during?.('syft', platform);
      if (options.failSyft?.includes(platform)) {
        return { exitCode: 1, stderr: 'panic: runtime error: invalid memory address (fake syft)' };
      }
      if (!options.syftWritesNothing?.includes(platform)) {
        for (const output of option(call.args, '-o')) {
          const [format, file] = [
            output.slice(0, output.indexOf('=')),
            output.slice(output.indexOf('=') + 1),
          ];
          writeFileSync(file, sbomDocument(format, options.packages?.[platform] ?? 3));
        }
      }
      return { stderr: ` ✔ Cataloged contents ${platform}` };
    }
    if (tool(call) === 'grype' && call.args[0] === 'db') {
      if (call.args[1] === 'update') return { stdout: 'Vulnerability database updated (fake grype)' };
      return {
        stdout: JSON.stringify({
          schemaVersion: 'v6.0.2',
          built: built.toISOString(),
          path: `${call.options.env?.GRYPE_DB_CACHE_DIR}/6/vulnerability.db`,
          valid: true,
        }),
      };
    }
    if (tool(call) === 'grype' && call.args[0]?.startsWith('sbom:')) {
      const slug = /sbom-(.+?)\.(spdx|cdx|syft)\.json$/.exec(call.args[0])![1]!;
      const platform = slug.replace(/-/g, '/');
      await options.during?.('grype', platform);
      if (options.failGrype?.includes(platform)) {
        return { exitCode: 1, stderr: '[0000] ERROR failed to load vulnerability db (fake grype)' };
      }
      const matches = options.matches?.[platform] ?? [];
      for (const output of option(call.args, '-o')) {
        const file = output.slice(output.indexOf('=') + 1);
        writeFileSync(
          file,
          output.startsWith('json=') ? grypeReportDocument(matches) : sarifDocument(matches),
        );
      }
      return {};
    }
    return undefined;
  };
}
