import type { PlatformImage } from '../image/pushed-image.js';
import { decideGate, vulnerabilityCounts } from '../policy/decide.js';
import type { GateResult } from '../policy/decide.js';
import { explainGate } from '../policy/index.js';
import type { GateVerdict } from '../policy/index.js';
import type { ActionHost } from '../runner/host.js';
import type { ScanResult } from '../scan/scan-platforms.js';
import type { Settings } from '../settings/inputs.js';
import {
  blockingFindingsTable,
  gateSummaryTable,
  markdownTable,
  waiverSummaryTable,
} from '../summary/tables.js';

export type { GateResult } from '../policy/decide.js';

/** The gate said no: outputs and reports are written, nothing is tagged. */
export class GateFailedError extends Error {
  override name = 'GateFailedError';
}

/**
 * Decides over the scans and reports the verdict (outputs, job summary, log). Throws when a scan cannot
 * be judged (fail closed); a failed verdict is returned, `assertGatePassed` stops the run.
 */
export async function runGateStage(
  host: ActionHost,
  input: { settings: Settings; images: readonly PlatformImage[]; scanned: ScanResult },
): Promise<GateResult> {
  const { settings, images, scanned } = input;
  const verdict = decideGate(settings.gatePolicy, scanned.scans, images, {
    allowEmptySbom: settings.gate.allowEmptySbom,
    now: host.now(),
  });
  const gate = { verdict, scans: scanned.scans, reportsDir: scanned.reportsDir };
  await reportGate(host, gate, images);
  return gate;
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
