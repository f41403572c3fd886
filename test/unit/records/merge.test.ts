import { describe, expect, it } from 'vitest';
import { parsePlatform } from '../../../src/image/platform.js';
import {
  BUILD_RECORD_API_VERSION,
  BUILD_RECORD_KIND,
  buildRecordName,
  buildRecordPrefix,
  parseBuildRecord,
  recordedImage,
} from '../../../src/records/build-record.js';
import type { BuildRecord } from '../../../src/records/build-record.js';
import { mergeBuildRecords, RecordMergeError } from '../../../src/records/merge.js';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const d = (c: string) => `sha256:${c.repeat(64)}`;

function record(
  platform: string,
  overrides: Partial<BuildRecord> = {},
  run: Partial<BuildRecord['run']> = {},
): BuildRecord {
  return {
    apiVersion: BUILD_RECORD_API_VERSION,
    kind: BUILD_RECORD_KIND,
    run: { repository: 'acme/agent', id: '42', attempt: 1, commit: COMMIT, ref: 'refs/tags/v1.0.0', ...run },
    image: 'ghcr.io/acme/agent',
    platform,
    digest: platform.endsWith('arm64') ? d('a') : d('b'),
    pushed: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      manifestSize: 400,
      size: 1000,
      config: {
        os: 'linux',
        architecture: platform.split('/')[1]!,
        user: '1000',
        healthcheck: true,
        labels: {},
      },
      configDigest: d('c'),
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('e'), size: 900 }],
    },
    files: {
      sboms: [{ format: 'spdx-json', file: 'sbom.spdx.json' }],
      report: 'grype.json',
      sarif: 'grype.sarif',
    },
    packages: 12,
    gate: { verdict: 'pass', policyDigest: d('f') },
    tools: { syft: '1.52.0', grype: '0.119.0' },
    created: '2026-11-21T00:00:00Z',
    ...overrides,
  };
}

const expectations = {
  image: 'ghcr.io/acme/agent',
  commit: COMMIT,
  runId: '42',
  platforms: [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')],
};

function mergeError(records: BuildRecord[]): string {
  try {
    mergeBuildRecords(records, expectations);
  } catch (error) {
    expect(error).toBeInstanceOf(RecordMergeError);
    expect((error as Error).message).not.toMatch(/\n\s+at /);
    return (error as Error).message;
  }
  throw new Error('the merge was expected to fail');
}

describe('mergeBuildRecords', () => {
  it('returns one record per platform, in the order of the platforms input', () => {
    const merged = mergeBuildRecords([record('linux/arm64'), record('linux/amd64')], expectations);
    expect(merged.map((r) => r.platform)).toEqual(['linux/amd64', 'linux/arm64']);
  });

  it('refuses a missing platform, naming it', () => {
    expect(mergeError([record('linux/amd64')])).toMatch(
      /no build record for linux\/arm64: did every matrix job run with mode: build/,
    );
  });

  it('refuses two records for one platform from the same attempt', () => {
    expect(
      mergeError([record('linux/amd64'), record('linux/arm64'), record('linux/arm64', { digest: d('9') })]),
    ).toMatch(/two records for linux\/arm64 from attempt 1/);
  });

  it('takes the record of a re-run job (a later attempt) over the earlier one', () => {
    const merged = mergeBuildRecords(
      [
        record('linux/amd64'),
        record('linux/arm64'),
        record('linux/arm64', { digest: d('9') }, { attempt: 2 }),
      ],
      expectations,
    );
    expect(merged[1]!.digest).toBe(d('9'));
  });

  it('refuses records built from another commit', () => {
    expect(
      mergeError([record('linux/amd64'), record('linux/arm64', {}, { commit: 'f'.repeat(40) })]),
    ).toMatch(/linux\/arm64 was built from commit f{40}, this job is at 0123456789abcdef/);
  });

  it('refuses records from another workflow run', () => {
    expect(mergeError([record('linux/amd64'), record('linux/arm64', {}, { id: '41' })])).toMatch(
      /comes from workflow run 41, not this run 42/,
    );
  });

  it('refuses records of another image', () => {
    expect(
      mergeError([
        record('linux/amd64'),
        record('linux/arm64'),
        record('linux/arm64', { image: 'ghcr.io/acme/other' }),
      ]),
    ).toMatch(/is for image ghcr.io\/acme\/other, not ghcr.io\/acme\/agent/);
  });

  it('refuses a platform nobody asked for', () => {
    expect(mergeError([record('linux/amd64'), record('linux/arm64'), record('linux/arm/v7')])).toMatch(
      /a record for linux\/arm\/v7 was uploaded, but platforms lists only linux\/amd64, linux\/arm64/,
    );
  });

  it('refuses to publish when one platform failed its gate', () => {
    expect(
      mergeError([
        record('linux/amd64'),
        record('linux/arm64', { gate: { verdict: 'fail', policyDigest: d('f') } }),
      ]),
    ).toMatch(/the build job for linux\/arm64 failed its gate .*nothing is published/);
  });

  it('reports every problem at once', () => {
    const message = mergeError([record('linux/amd64', {}, { commit: 'e'.repeat(40) })]);
    expect(message).toMatch(/commit e{40}/);
    expect(message).toMatch(/no build record for linux\/amd64, linux\/arm64/);
  });
});

describe('build records', () => {
  it('round-trips through JSON and gives back the image', () => {
    const r = record('linux/arm64');
    const parsed = parseBuildRecord(JSON.stringify(r), 'edgeship-build-x');
    expect(recordedImage(parsed)).toMatchObject({ platform: 'linux/arm64', digest: d('a'), size: 1000 });
  });

  it.each([
    ['{', /is not JSON/],
    [JSON.stringify({ ...record('linux/arm64'), digest: 'sha256:short' }), /digest must be a sha256 digest/],
    [JSON.stringify({ ...record('linux/arm64'), kind: 'Other' }), /kind must be BuildRecord/],
    [
      JSON.stringify({ ...record('linux/arm64'), gate: { verdict: 'maybe' } }),
      /gate.verdict must be pass or fail/,
    ],
    [JSON.stringify({ ...record('linux/arm64'), run: undefined }), /run must have id, attempt and commit/],
  ])('refuses a damaged record %#', (text, message) => {
    expect(() => parseBuildRecord(text, 'edgeship-build-x')).toThrow(message);
  });

  it('names records by a hash of the image and the platform: no image prefixes another', () => {
    const agent = buildRecordName('ghcr.io/acme/agent', 'linux-arm64');
    expect(agent).toMatch(/^edgeship-build-[0-9a-f]{16}-linux-arm64$/);
    expect(
      buildRecordName('ghcr.io/acme/agent-worker', 'linux-arm64').startsWith(
        buildRecordPrefix('ghcr.io/acme/agent'),
      ),
    ).toBe(false);
    expect(agent.startsWith(buildRecordPrefix('ghcr.io/acme/agent'))).toBe(true);
  });
});
