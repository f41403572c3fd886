import { createHash } from 'node:crypto';
import type { PlatformImage } from '../image/pushed-image.js';
import type { SlsaProvenance } from '../provenance/slsa.js';
import { isDigest } from '../registry/reference.js';
import type { SbomFormat } from '../scan/syft.js';

export const BUILD_RECORD_API_VERSION = 'edgeship.dev/v1';
export const BUILD_RECORD_KIND = 'BuildRecord';
export const BUILD_RECORD_FILE = 'build-record.json';

/**
 * What a `mode: build` job hands to the publish job for one platform: the image it pushed by digest,
 * the files its gate read (SBOMs, Grype report, SARIF, stored beside the record) and the verdict.
 */
export interface BuildRecord {
  apiVersion: typeof BUILD_RECORD_API_VERSION;
  kind: typeof BUILD_RECORD_KIND;
  run: { repository: string; id: string; attempt: number; commit: string; ref: string };
  image: string;
  platform: string;
  digest: string;
  pushed: Omit<PlatformImage, 'platform' | 'digest'>;
  files: { sboms: Array<{ format: SbomFormat; file: string }>; report: string; sarif: string };
  packages: number;
  gate: { verdict: 'pass' | 'fail'; policyDigest: string };
  tools: { syft: string; grype: string; grypeDbBuilt?: string };
  created: string;
  /** The SLSA provenance the build job made of its image (signed by the publish job). */
  provenance?: SlsaProvenance;
}

export class BuildRecordError extends Error {
  override name = 'BuildRecordError';
}

/**
 * Artifact name of a platform's record: unique per image and platform within a workflow run. The image is
 * named by a hash so that no image's prefix is another's (`acme/agent` vs `acme/agent-worker`).
 */
export function buildRecordName(imageName: string, platformSlug: string): string {
  return `${buildRecordPrefix(imageName)}${platformSlug}`;
}

/** What every record name of `imageName` starts with. */
export function buildRecordPrefix(imageName: string): string {
  return `edgeship-build-${createHash('sha256').update(imageName).digest('hex').slice(0, 16)}-`;
}

/** Parses and checks a record read back from an artifact; `where` names it in errors. */
export function parseBuildRecord(text: string, where: string): BuildRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new BuildRecordError(`${where} is not JSON: the build record is damaged; re-run the build job`);
  }
  const r = doc as Partial<BuildRecord>;
  const problems: string[] = [];
  if (r.apiVersion !== BUILD_RECORD_API_VERSION)
    problems.push(`apiVersion must be ${BUILD_RECORD_API_VERSION}`);
  if (r.kind !== BUILD_RECORD_KIND) problems.push(`kind must be ${BUILD_RECORD_KIND}`);
  if (
    !r.run ||
    typeof r.run.commit !== 'string' ||
    typeof r.run.id !== 'string' ||
    typeof r.run.attempt !== 'number'
  ) {
    problems.push('run must have id, attempt and commit');
  }
  if (typeof r.image !== 'string' || !r.image) problems.push('image is missing');
  if (typeof r.platform !== 'string' || !r.platform) problems.push('platform is missing');
  if (typeof r.digest !== 'string' || !isDigest(r.digest)) problems.push('digest must be a sha256 digest');
  if (!r.pushed || !Array.isArray(r.pushed.layers) || typeof r.pushed.size !== 'number')
    problems.push('pushed is incomplete');
  if (!r.files || !Array.isArray(r.files.sboms) || typeof r.files.report !== 'string')
    problems.push('files are incomplete');
  if (!r.gate || (r.gate.verdict !== 'pass' && r.gate.verdict !== 'fail'))
    problems.push('gate.verdict must be pass or fail');
  if (problems.length)
    throw new BuildRecordError(`${where} is not a valid build record: ${problems.join('; ')}`);
  return r as BuildRecord;
}

/** The PlatformImage a record describes (to be verified against the registry before use). */
export function recordedImage(record: BuildRecord): PlatformImage {
  return { platform: record.platform, digest: record.digest, ...record.pushed };
}
