/**
 * The publish job's side (`mode: publish`): this run's records read back, merged into exactly the expected release,
 * and each platform's image checked against the registry before its scan files are placed in the reports folder.
 */
import { cpSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Platform } from '../image/platform.js';
import { parsePlatform } from '../image/platform.js';
import type { PlatformImage } from '../image/pushed-image.js';
import { resolvePlatformImage } from '../image/pushed-image.js';
import type { RegistryClient } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import { parseGrypeReport } from '../scan/grype-report.js';
import type { PlatformProvenance } from '../provenance/slsa.js';
import type { PlatformScan } from '../scan/scan-platforms.js';
import { BUILD_RECORD_FILE, parseBuildRecord } from './build-record.js';
import type { BuildRecord } from './build-record.js';
import { mergeBuildRecords, RecordMergeError } from './merge.js';

/** Downloaded record folders → the records that make this run's release, each with its folder. */
export function chooseRecords(
  downloaded: ReadonlyArray<{ name: string; dir: string }>,
  expect: { image: string; commit: string; runId: string; platforms: readonly Platform[] },
): Array<{ record: BuildRecord; dir: string }> {
  const records = downloaded.map(({ name, dir }) => {
    const file = path.join(dir, BUILD_RECORD_FILE);
    if (!existsSync(file))
      throw new RecordMergeError(`${name} has no ${BUILD_RECORD_FILE}: it is not an Edgeship build record`);
    return { record: parseBuildRecord(readFileSync(file, 'utf8'), name), dir };
  });
  const chosen = mergeBuildRecords(
    records.map((r) => r.record),
    expect,
  );
  return chosen.map((record) => records.find((r) => r.record === record)!);
}

/** One record's image as the registry has it (refused when it is missing or differs), and its scan files. */
export async function restorePlatform(
  registry: RegistryClient,
  repository: { path: string; name: string },
  chosen: { record: BuildRecord; dir: string },
  reportsDir: string,
): Promise<{ image: PlatformImage; scan: PlatformScan; provenance?: PlatformProvenance }> {
  const { record, dir } = chosen;
  let image: PlatformImage;
  try {
    image = await resolvePlatformImage(
      registry,
      repository.path,
      record.digest,
      parsePlatform(record.platform),
    );
  } catch (error) {
    if (error instanceof RegistryError && error.status === 404) {
      throw new RecordMergeError(
        `the record for ${record.platform} names ${repository.name}@${record.digest}, which the registry does not have: ` +
          'the record was altered or the image deleted; re-run the build job',
      );
    }
    throw error;
  }
  if (image.size !== record.pushed.size || image.configDigest !== record.pushed.configDigest) {
    throw new RecordMergeError(
      `the record for ${record.platform} does not match ${repository.name}@${record.digest} in the registry`,
    );
  }
  const place = (file: string) => {
    const target = path.join(reportsDir, file);
    cpSync(path.join(dir, file), target);
    return target;
  };
  const reportFile = place(record.files.report);
  const scan: PlatformScan = {
    platform: image.platform,
    digest: image.digest,
    sbomFiles: record.files.sboms.map((s) => ({ format: s.format, file: place(s.file) })),
    packages: record.packages,
    reportFile,
    sarifFile: place(record.files.sarif),
    report: parseGrypeReport(readFileSync(reportFile), reportFile),
  };
  const provenance = record.provenance
    ? { provenance: { platform: image.platform, digest: image.digest, predicate: record.provenance } }
    : {};
  return { image, scan, ...provenance };
}
