/**
 * Re-scans SBOMs that already exist (taken from a release's signed SBOM attestations) with today's Grype
 * database: no Syft run, no image pull. Each platform is logged as one group, bounded by `scan-concurrency`;
 * any failure fails closed, as a first scan does.
 */
import { BufferedLog } from '../logging/buffered-log.js';
import { mapSettledBounded } from '../process/concurrency.js';
import { incompleteScans, scanFiles, scanSbom } from './scan-platforms.js';
import type { PlatformScan, ScanDeps, ScanRequest } from './scan-platforms.js';
import type { GrypePaths } from './scanners.js';
import { SCANNER_CONFIG, ScanError } from './scanner-run.js';
import type { SbomFormat } from './syft.js';

/** An SBOM file to scan and the image it describes. */
export interface SbomToScan {
  platform: string;
  digest: string;
  format: SbomFormat;
  file: string;
}

/** Scans each SBOM with Grype (report and SARIF beside it in `reportsDir`). */
export async function rescanSboms(
  req: Pick<ScanRequest, 'settings' | 'reportsDir'> & { scanners: GrypePaths; sboms: readonly SbomToScan[] },
  deps: ScanDeps,
): Promise<PlatformScan[]> {
  await deps.makeDir(req.reportsDir);
  const settled = await mapSettledBounded(req.sboms, req.settings.gate.scanConcurrency, async (sbom) => {
    const log = new BufferedLog();
    try {
      const files = {
        ...scanFiles(req.reportsDir, sbom.platform, [sbom.format]),
        sboms: [{ format: sbom.format, file: sbom.file }],
      };
      await deps.writeText(files.config, SCANNER_CONFIG);
      return await scanSbom(sbom, files, req, { ...deps, log }, { sbomFrom: 'attestation' });
    } finally {
      await log.replay(deps.log, `Re-scan ${sbom.platform} from its SBOM attestation`);
    }
  });
  const failures = settled.flatMap((r, i) =>
    r.status === 'rejected'
      ? [`${req.sboms[i]!.platform}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`]
      : [],
  );
  if (failures.length) throw new ScanError(incompleteScans(failures, req.sboms.length));
  return settled.map((r) => (r as PromiseFulfilledResult<PlatformScan>).value);
}
