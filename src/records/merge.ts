import { formatPlatform, parsePlatform } from '../image/platform.js';
import type { Platform } from '../image/platform.js';
import type { BuildRecord } from './build-record.js';

export class RecordMergeError extends Error {
  override name = 'RecordMergeError';
}

export interface MergeExpectations {
  image: string;
  commit: string;
  runId: string;
  platforms: readonly Platform[];
}

/**
 * Picks one record per expected platform from what the build jobs uploaded and refuses anything that
 * does not belong to this release: another image, another commit, another workflow run, a platform
 * nobody asked for, two records for one platform from the same attempt, a missing platform, or a
 * platform whose gate failed. A re-run job's record (a later attempt) replaces the earlier one.
 */
export function mergeBuildRecords(records: readonly BuildRecord[], expect: MergeExpectations): BuildRecord[] {
  const problems: string[] = [];
  const relevant = records.filter((r) => r.image === expect.image);
  for (const r of records.filter((r) => r.image !== expect.image)) {
    problems.push(`a record for ${r.platform} is for image ${r.image}, not ${expect.image}`);
  }
  const expected = expect.platforms.map(formatPlatform);
  const byPlatform = new Map<string, BuildRecord>();
  for (const record of relevant) {
    const platform = formatPlatform(parsePlatform(record.platform));
    if (record.run.commit !== expect.commit) {
      problems.push(
        `the record for ${platform} was built from commit ${record.run.commit}, this job is at ${expect.commit}`,
      );
      continue;
    }
    if (record.run.id !== expect.runId) {
      problems.push(
        `the record for ${platform} comes from workflow run ${record.run.id}, not this run ${expect.runId}`,
      );
      continue;
    }
    if (!expected.includes(platform)) {
      problems.push(`a record for ${platform} was uploaded, but platforms lists only ${expected.join(', ')}`);
      continue;
    }
    const existing = byPlatform.get(platform);
    if (existing && existing.run.attempt === record.run.attempt) {
      problems.push(
        `two records for ${platform} from attempt ${record.run.attempt} (digests ${existing.digest} and ${record.digest})`,
      );
      continue;
    }
    if (!existing || record.run.attempt > existing.run.attempt) byPlatform.set(platform, record);
  }
  const missing = expected.filter((p) => !byPlatform.has(p));
  if (missing.length) {
    problems.push(
      `no build record for ${missing.join(', ')}: did every matrix job run with mode: build and succeed?`,
    );
  }
  for (const record of byPlatform.values()) {
    if (record.gate.verdict !== 'pass') {
      problems.push(
        `the build job for ${record.platform} failed its gate (${record.digest}); nothing is published`,
      );
    }
  }
  if (problems.length) {
    throw new RecordMergeError(
      `The build records cannot be merged into one release:\n- ${problems.join('\n- ')}`,
    );
  }
  return expected.map((p) => byPlatform.get(p)!);
}
