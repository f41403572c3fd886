import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parsePlatform, platformSlug } from '../image/platform.js';
import type { PlatformImage } from '../image/pushed-image.js';
import { resolvePlatformImage } from '../image/pushed-image.js';
import { evaluateScans } from '../policy/decide.js';
import type { GateResult } from '../policy/decide.js';
import type { PlatformScan } from '../scan/scan-platforms.js';
import type { ScannerVersions } from '../scan/scanners.js';
import { policyDigest } from '../policy/index.js';
import type { Policy } from '../policy/index.js';
import {
  BUILD_RECORD_API_VERSION,
  BUILD_RECORD_FILE,
  BUILD_RECORD_KIND,
  buildRecordName,
  buildRecordPrefix,
  parseBuildRecord,
} from '../records/build-record.js';
import type { BuildRecord } from '../records/build-record.js';
import { mergeBuildRecords, RecordMergeError } from '../records/merge.js';
import { artifactRecordStore, directoryRecordStore } from '../records/record-store.js';
import type { RecordStore } from '../records/record-store.js';
import type { RegistryClient } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import { parseGrypeReport } from '../scan/grype-report.js';
import type { Settings } from '../settings/inputs.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';

/** The record store: `records-dir` when set, else the workflow run's artifacts. */
export async function recordStoreFor(
  settings: Settings,
  env: Record<string, string | undefined>,
): Promise<RecordStore> {
  if (settings.recordsDir) return directoryRecordStore(settings.recordsDir);
  if (!env.ACTIONS_RUNTIME_TOKEN) {
    throw new Error(
      'mode: build and mode: publish hand build records over as workflow artifacts, which only exist inside GitHub Actions; ' +
        'elsewhere set records-dir to a directory both jobs can reach',
    );
  }
  const { DefaultArtifactClient } = await import('@actions/artifact');
  return artifactRecordStore(new DefaultArtifactClient(), settings.recordsRetentionDays);
}

/** `mode: build`: one record a platform (image, files, verdict), uploaded whatever the verdict. */
export async function uploadBuildRecords(
  host: ActionHost,
  input: {
    settings: Settings;
    context: RunnerContext;
    policy: Policy;
    images: readonly PlatformImage[];
    gate: GateResult & { tools: ScannerVersions };
    store: RecordStore;
  },
): Promise<string[]> {
  const { settings, context, gate } = input;
  return host.log.group('Upload build records', async () => {
    const names: string[] = [];
    for (const image of input.images) {
      const scan = gate.scans.find((s) => s.platform === image.platform)!;
      const verdict = gate.verdict.platforms.find((p) => p.platform === image.platform);
      const slug = platformSlug(parsePlatform(image.platform));
      const dir = mkdtempSync(path.join(context.tempDir, `edgeship-record-${slug}-`));
      const copy = (file: string) => {
        cpSync(file, path.join(dir, path.basename(file)));
        return path.basename(file);
      };
      const { platform: _platform, digest: _digest, ...pushed } = image;
      const record: BuildRecord = {
        apiVersion: BUILD_RECORD_API_VERSION,
        kind: BUILD_RECORD_KIND,
        run: {
          repository: context.release.repository,
          id: context.runId,
          attempt: Number(context.runAttempt) || 1,
          commit: context.release.sha,
          ref: context.release.ref,
        },
        image: settings.imageName,
        platform: image.platform,
        digest: image.digest,
        pushed,
        files: {
          sboms: scan.sbomFiles.map((s) => ({ format: s.format, file: copy(s.file) })),
          report: copy(scan.reportFile),
          sarif: copy(scan.sarifFile),
        },
        packages: scan.packages,
        gate: {
          verdict: verdict?.pass && gate.verdict.pass ? 'pass' : 'fail',
          policyDigest: policyDigest(input.policy),
        },
        tools: { syft: gate.tools.syft, grype: gate.tools.grype, grypeDbBuilt: gate.tools.grypeDbBuilt },
        created: host.now().toISOString(),
      };
      writeFileSync(path.join(dir, BUILD_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
      const name = buildRecordName(settings.imageName, slug);
      const files = [
        BUILD_RECORD_FILE,
        ...record.files.sboms.map((s) => s.file),
        record.files.report,
        record.files.sarif,
      ].map((f) => path.join(dir, f));
      await input.store.upload(name, files, dir);
      host.log.info(`${image.platform}: record ${name} (${record.gate.verdict}) → ${input.store.describe()}`);
      names.push(name);
    }
    return names;
  });
}

/**
 * `mode: publish`: downloads this run's build records, checks they make exactly the expected release,
 * verifies every digest against the registry, and re-evaluates the policy over all platforms.
 */
export async function gateFromRecords(
  host: ActionHost,
  input: {
    settings: Settings;
    context: RunnerContext;
    policy: Policy;
    registry: RegistryClient;
    store: RecordStore;
  },
): Promise<{ images: PlatformImage[]; gate: GateResult }> {
  const { settings, context } = input;
  return host.log.group('Merge build records', async () => {
    const into = mkdtempSync(path.join(context.tempDir, 'edgeship-records-'));
    const prefix = buildRecordPrefix(settings.imageName);
    const downloaded = await input.store.downloadAll(prefix, into);
    host.log.info(
      `${downloaded.length} record(s) from ${input.store.describe()}: ${downloaded.map((d) => d.name).join(', ') || 'none'}`,
    );
    const records = downloaded.map(({ name, dir }) => {
      const file = path.join(dir, BUILD_RECORD_FILE);
      if (!existsSync(file))
        throw new RecordMergeError(`${name} has no ${BUILD_RECORD_FILE}: it is not an Edgeship build record`);
      return { record: parseBuildRecord(readFileSync(file, 'utf8'), name), dir };
    });
    const chosen = mergeBuildRecords(
      records.map((r) => r.record),
      {
        image: settings.imageName,
        commit: context.release.sha,
        runId: context.runId,
        platforms: settings.platforms,
      },
    );
    const images: PlatformImage[] = [];
    const scans: PlatformScan[] = [];
    const reportsDir = settings.gate.reportsDir ?? path.join(context.tempDir, 'edgeship-reports');
    mkdirSync(reportsDir, { recursive: true });
    for (const record of chosen) {
      const dir = records.find((r) => r.record === record)!.dir;
      let image: PlatformImage;
      try {
        image = await resolvePlatformImage(
          input.registry,
          settings.image.path,
          record.digest,
          parsePlatform(record.platform),
        );
      } catch (error) {
        if (error instanceof RegistryError && error.status === 404) {
          throw new RecordMergeError(
            `the record for ${record.platform} names ${settings.imageName}@${record.digest}, which the registry does not have: ` +
              'the record was altered or the image deleted; re-run the build job',
          );
        }
        throw error;
      }
      if (image.size !== record.pushed.size || image.configDigest !== record.pushed.configDigest) {
        throw new RecordMergeError(
          `the record for ${record.platform} does not match ${settings.imageName}@${record.digest} in the registry`,
        );
      }
      const place = (file: string) => {
        const target = path.join(reportsDir, file);
        cpSync(path.join(dir, file), target);
        return target;
      };
      const reportFile = place(record.files.report);
      scans.push({
        platform: image.platform,
        digest: image.digest,
        sbomFiles: record.files.sboms.map((s) => ({ format: s.format, file: place(s.file) })),
        packages: record.packages,
        reportFile,
        sarifFile: place(record.files.sarif),
        report: parseGrypeReport(readFileSync(reportFile), reportFile),
      });
      images.push(image);
      host.log.info(
        `${record.platform}: ${record.digest} verified in the registry (attempt ${record.run.attempt})`,
      );
    }
    const verdict = evaluateScans(input.policy, scans, images, host.now());
    return { images, gate: { verdict, scans, reportsDir } };
  });
}
