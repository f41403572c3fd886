import path from 'node:path';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { writeSbomFiles } from '../lifecycle/read-release.js';
import {
  blockingLines,
  compareAndAttest,
  readReleaseToRescan,
  rescanTargets,
  type RescannedRelease,
  type RescanTarget,
} from '../lifecycle/rescan.js';
import { loadTrustMaterial, releaseSigner, signerConfig } from '../publish/publish-deps.js';
import type { RegistryClient } from '../registry/client.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import type { GrypeSetup } from '../scan/scanners.js';
import type { Settings } from '../settings/inputs.js';
import { rescanSummary } from '../summary/lifecycle.js';
import { reportsDirFor, runGrypeSetup, runRescanStage } from './scan.js';

export type { RescannedRelease } from '../lifecycle/rescan.js';

/** A deployed release is blocked by today's scan under the current policy; the message names every finding. */
export class RescanBlockedError extends Error {
  override name = 'RescanBlockedError';
}

/**
 * `mode: rescan`: each deployed release (channel tags, optionally the latest releases) read back and verified, its
 * signed SBOMs scanned with today's database, compared with the scan recorded at release time, a fresh signed
 * vulnerability attestation attached; fails when the current policy now blocks a deployed release.
 */
export async function runRescanDeployedStage(
  host: ActionHost,
  input: { settings: Settings; context: RunnerContext; registry: RegistryClient },
): Promise<RescannedRelease[]> {
  const { settings, context, registry } = input;
  const repository = { path: settings.image.path, name: settings.imageName };
  const expected = releaseSigner(settings, context.release);
  if (!expected) throw new RescanBlockedError('mode: rescan reads signed releases: signing must not be off');
  const trust = { material: await loadTrustMaterial(settings), expected };
  const targets = await host.log.group('Deployed releases', () =>
    rescanTargets(registry, repository, settings.rescan, host.log),
  );
  const grype = await host.log.group('Install Grype and its database', () =>
    runGrypeSetup(host, { settings, tempDir: context.tempDir }),
  );
  const results: RescannedRelease[] = [];
  for (const target of targets) results.push(await rescanOne(host, input, target, trust, grype));
  const rows = results.flatMap((r) => r.platforms);
  host.setOutput('rescan', JSON.stringify(rows.map(rescanOutputRow)));
  await host.appendSummary(rescanSummary(settings.imageName, rows, host.now()));
  assertStillDeployable(results);
  return results;
}

/** One release: read and verified, its SBOMs re-scanned, compared with the release's scan and attested anew. */
async function rescanOne(
  host: ActionHost,
  input: { settings: Settings; context: RunnerContext; registry: RegistryClient },
  target: RescanTarget,
  trust: Parameters<typeof readReleaseToRescan>[3],
  grype: GrypeSetup,
): Promise<RescannedRelease> {
  const { settings, context, registry } = input;
  const repository = { path: settings.image.path, name: settings.imageName };
  const label = target.references.join(', ');
  const read = await host.log.group(`Read ${label}`, () =>
    readReleaseToRescan(registry, repository, target, trust, host.log),
  );
  const sbomDir = path.join(reportsDirFor(settings, context.tempDir), `rescan-${target.digest.slice(7, 19)}`);
  await mkdir(sbomDir, { recursive: true });
  const sboms = await writeSbomFiles(read.sboms, sbomDir, (f, text) => writeFile(f, text));
  // Each release's SBOMs and Grype reports in a folder of its own (releases share platform names).
  const { scans } = await runRescanStage(host, {
    settings,
    sboms,
    tempDir: context.tempDir,
    grype,
    reportsDir: sbomDir,
  });
  const signer = signerConfig(settings, host.env);
  const workflowRun =
    context.workflowRunUrl ?? `${context.release.serverUrl}/${context.release.repository}/actions`;
  const req = { policy: settings.gatePolicy, ...(signer ? { signer } : {}), workflowRun, repository };
  const deps = { registry, log: host.log, readText: (f: string) => readFile(f, 'utf8'), now: host.now };
  return host.log.group(`Compare and attest ${label}`, () => compareAndAttest(read, scans, req, deps));
}

/** One entry of the `rescan` output. */
function rescanOutputRow(row: RescannedRelease['platforms'][number]) {
  const finding = (m: {
    id: string;
    severity: string;
    packageName: string;
    packageVersion: string;
    fixedIn: string[];
  }) => ({
    id: m.id,
    severity: m.severity,
    package: m.packageName,
    version: m.packageVersion,
    fixedIn: m.fixedIn,
  });
  return {
    release: row.release,
    reference: row.references.join(','),
    digest: row.digest,
    platform: row.platform,
    new: row.added.map(finding),
    fixed: row.fixed.map(finding),
    blocking: row.blocking.map(finding),
  };
}

/** Throws RescanBlockedError, one line per blocking finding (and edge check), when a release no longer passes. */
function assertStillDeployable(results: readonly RescannedRelease[]): void {
  const failed = results.filter((r) => !r.verdict.pass);
  if (failed.length === 0) return;
  const lines = [
    ...blockingLines(failed),
    ...failed.flatMap((r) => r.verdict.problems.map((p) => `${r.release}: ${p}`)),
    ...failed.flatMap((r) =>
      r.verdict.platforms.flatMap((p) =>
        p.edge.filter((e) => e.mode === 'fail').map((e) => `${r.release} ${p.platform}: ${e.message}`),
      ),
    ),
  ];
  throw new RescanBlockedError(
    `The current policy blocks ${failed.length} deployed release(s) (${failed.map((r) => `${r.release}: ${r.references.join(', ')}`).join('; ')}); ` +
      `release a fix or waive the findings in the policy:\n${lines.join('\n')}`,
  );
}
