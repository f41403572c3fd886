/**
 * A build job's record of one platform (`mode: build`): the image it pushed, its SBOMs, Grype report and SARIF, the
 * verdict and the tools, written to a folder of its own for the record store to upload.
 */
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parsePlatform, platformSlug } from '../image/platform.js';
import type { PlatformImage } from '../image/pushed-image.js';
import type { SlsaProvenance } from '../provenance/slsa.js';
import type { PlatformScan } from '../scan/scan-platforms.js';
import type { ScannerVersions } from '../scan/scanners.js';
import {
  BUILD_RECORD_API_VERSION,
  BUILD_RECORD_FILE,
  BUILD_RECORD_KIND,
  buildRecordName,
} from './build-record.js';
import type { BuildRecord } from './build-record.js';

export interface RecordRun {
  repository: string;
  runId: string;
  runAttempt: string;
  commit: string;
  ref: string;
}

export interface PlatformRecordInput {
  imageName: string;
  run: RecordRun;
  image: PlatformImage;
  scan: PlatformScan;
  /** This platform passed and so did the whole gate. */
  pass: boolean;
  policyDigest: string;
  tools: ScannerVersions;
  created: Date;
  provenance?: SlsaProvenance | undefined;
}

/** Writes one platform's record and its files into a fresh folder under `tempDir`. */
export function writePlatformRecord(
  input: PlatformRecordInput,
  tempDir: string,
): { name: string; dir: string; files: string[]; record: BuildRecord } {
  const { image, scan, run, tools } = input;
  const slug = platformSlug(parsePlatform(image.platform));
  const dir = mkdtempSync(path.join(tempDir, `edgeship-record-${slug}-`));
  const copy = (file: string) => {
    cpSync(file, path.join(dir, path.basename(file)));
    return path.basename(file);
  };
  const { platform: _platform, digest: _digest, ...pushed } = image;
  const record: BuildRecord = {
    apiVersion: BUILD_RECORD_API_VERSION,
    kind: BUILD_RECORD_KIND,
    run: {
      repository: run.repository,
      id: run.runId,
      attempt: Number(run.runAttempt) || 1,
      commit: run.commit,
      ref: run.ref,
    },
    image: input.imageName,
    platform: image.platform,
    digest: image.digest,
    pushed,
    files: {
      sboms: scan.sbomFiles.map((s) => ({ format: s.format, file: copy(s.file) })),
      report: copy(scan.reportFile),
      sarif: copy(scan.sarifFile),
    },
    packages: scan.packages,
    gate: { verdict: input.pass ? 'pass' : 'fail', policyDigest: input.policyDigest },
    tools: { syft: tools.syft, grype: tools.grype, grypeDbBuilt: tools.grypeDbBuilt },
    created: input.created.toISOString(),
    ...(input.provenance ? { provenance: input.provenance } : {}),
  };
  writeFileSync(path.join(dir, BUILD_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
  const files = [
    BUILD_RECORD_FILE,
    ...record.files.sboms.map((s) => s.file),
    record.files.report,
    record.files.sarif,
  ].map((f) => path.join(dir, f));
  return { name: buildRecordName(input.imageName, slug), dir, files, record };
}
