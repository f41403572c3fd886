import { mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PlatformImage } from '../image/pushed-image.js';
import { runGate, vulnerabilityCounts } from '../scan/scan-platforms.js';
import type { GateResult } from '../scan/scan-platforms.js';
import { setUpScanners } from '../scan/scanners.js';
import type { ScannerSetupDeps } from '../scan/scanners.js';
import { explainGate } from '../policy/index.js';
import type { GateVerdict, Policy } from '../policy/index.js';
import type { Settings } from '../settings/inputs.js';
import { toolCacheInstallDeps } from '../tools/runtime-deps.js';
import type { ActionHost } from '../runner/host.js';
import {
  blockingFindingsTable,
  gateSummaryTable,
  markdownTable,
  waiverSummaryTable,
} from '../summary/tables.js';

/** The gate said no: outputs and reports are written, nothing is tagged. */
export class GateFailedError extends Error {
  override name = 'GateFailedError';
}

/** Scanner versions a gate ran with (recorded in build records). */
export interface GateTools {
  syft: string;
  grype: string;
  grypeDbBuilt: string;
}

/** SBOM + scan every platform and evaluate the policy. Reports, but does not throw on a failed verdict. */
export async function runGateStep(
  host: ActionHost,
  settings: Settings,
  policy: Policy,
  images: readonly PlatformImage[],
  tempDir: string,
): Promise<GateResult & { tools: GateTools }> {
  // @actions/tool-cache needs RUNNER_TOOL_CACHE, which every runner sets; give runs elsewhere one too.
  process.env.RUNNER_TOOL_CACHE ??= path.join(tempDir, 'edgeship-tool-cache');
  const cache = await actionsCache(host.env);
  const scanners = await setUpScanners(settings.gate, {
    exec: host.exec,
    log: host.log,
    installDeps: toolCacheInstallDeps(host.log),
    ...(cache ? { cache } : {}),
    dbCacheDir: path.join(tempDir, 'edgeship-grype-db'),
    now: host.now,
  });
  const reportsDir = settings.gate.reportsDir ?? path.join(tempDir, 'edgeship-reports');
  const result = await runGate(
    { settings, policy, images, reportsDir, scanners },
    {
      exec: host.exec,
      log: host.log,
      readText: (f) => readFile(f, 'utf8'),
      readBinary: (f) => readFile(f),
      writeText: (f, text) => writeFile(f, text),
      makeDir: async (d) => void mkdirSync(d, { recursive: true }),
      now: host.now,
    },
  );
  await reportGate(host, result, images);
  return {
    ...result,
    tools: {
      syft: scanners.syftTool.version,
      grype: scanners.grypeTool.version,
      grypeDbBuilt: scanners.dbBuilt.toISOString(),
    },
  };
}

/** Gate outputs, job summary and log lines for a verdict. */
export async function reportGate(
  host: ActionHost,
  result: GateResult,
  images: readonly PlatformImage[],
): Promise<void> {
  const { verdict, scans, reportsDir } = result;
  host.setOutput('gate', verdict.pass ? 'pass' : 'fail');
  host.setOutput('vulnerabilities', JSON.stringify(vulnerabilityCounts(verdict)));
  host.setOutput('sbom-files', JSON.stringify(scans.flatMap((s) => s.sbomFiles.map((f) => f.file))));
  host.setOutput('sarif-files', JSON.stringify(scans.map((s) => s.sarifFile)));
  host.setOutput('reports-dir', reportsDir);
  const blocking = blockingFindingsTable(verdict);
  const waivers = waiverSummaryTable(verdict);
  await host.appendSummary(
    [
      `### Supply-chain gate: ${verdict.pass ? '✅ pass' : '❌ fail'}`,
      markdownTable(gateSummaryTable(verdict, images, scans)),
      ...verdict.problems.map((p) => `- ${p}`),
      ...(blocking.length ? ['#### Blocking findings', markdownTable(blocking)] : []),
      ...(waivers.length ? ['#### Waivers', markdownTable(waivers)] : []),
      `SBOMs, Grype reports and SARIF: \`${reportsDir}\``,
      '',
    ].join('\n\n'),
  );
  for (const line of explainGate(verdict)) host.log.info(line);
  for (const w of verdict.platforms.flatMap((p) => p.edge.filter((e) => e.mode === 'warn'))) {
    host.log.warning(`${w.platform}: ${w.message}`);
  }
}

/** Throws GateFailedError, explaining every blocking finding, when the verdict is fail. */
export function assertGatePassed(verdict: GateVerdict): void {
  if (verdict.pass) return;
  const explanation = explainGate(verdict).filter((l) => !l.startsWith('gate '));
  throw new GateFailedError(
    `The supply-chain gate failed, so no tag was written.\n${explanation.join('\n')}`,
  );
}

/** @actions/cache when the runner offers the cache service; loaded only then (it is large). */
async function actionsCache(env: Record<string, string | undefined>): Promise<ScannerSetupDeps['cache']> {
  if (!env.ACTIONS_RUNTIME_TOKEN) return undefined;
  const cache = await import('@actions/cache');
  if (!cache.isFeatureAvailable()) return undefined;
  return {
    restoreCache: (paths, key, restoreKeys) => cache.restoreCache(paths, key, restoreKeys),
    saveCache: (paths, key) => cache.saveCache(paths, key),
  };
}
