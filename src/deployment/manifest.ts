/**
 * The deployment manifest: the single signed record of a release. An edge node reads it to know exactly which digest
 * to run (the index, or its platform's image) and how much it must download to upgrade from the previous release of
 * its channel. It is a versioned YAML document (`apiVersion: edgeship.dev/v1`, `kind: DeploymentManifest`) checked
 * against a JSON schema (./schema.ts, also written as ./deployment-manifest.schema.json) plus consistency rules the
 * schema cannot express (every signature names a digest of this release, deltas match the baseline, ...).
 *
 * Everything here is pure: the build takes what earlier stages produced; render and parse are text in, text out.
 *
 * Kept as one file: build, render and parse of one versioned document and its consistency rules, which must agree
 * with each other field by field.
 */
import { RUN_SETTING_FIELDS, type RunSettings } from '../image/run-settings.js';
import semver from 'semver';
import { lineOf } from '../validation/yaml-position.js';
import { Document, LineCounter, parse, parseDocument, visit } from 'yaml';
import type { FailOn, GateVerdict, Policy, SeverityKey, Waiver } from '../policy/index.js';
import { policyDigest } from '../policy/index.js';
import { formatRepository, parseRepository } from '../registry/reference.js';
import type { Channel, ReleaseMetadata } from '../release/metadata.js';
import type { SbomFormat } from '../scan/syft.js';
import { layerDelta, platformKey, type PlatformDelta, type PreviousImageBlobs } from './delta.js';
import {
  DEPLOYMENT_MANIFEST_API_VERSION,
  DEPLOYMENT_MANIFEST_KIND,
  DEPLOYMENT_MANIFEST_SCHEMA_ID,
  TAG_PATTERN,
  VULNERABILITY_KEYS,
  formatPath,
  schemaProblems,
} from './schema.js';

export {
  DEPLOYMENT_MANIFEST_API_VERSION,
  DEPLOYMENT_MANIFEST_KIND,
  DEPLOYMENT_MANIFEST_SCHEMA,
  DEPLOYMENT_MANIFEST_SCHEMA_ID,
  deploymentManifestSchemaJson,
} from './schema.js';

// ---------------------------------------------------------------------------------------------------------------
// Types

export interface IndexDescriptor {
  digest: string;
  mediaType: string;
  size: number;
}

export interface ManifestRelease {
  version: string;
  channel: Channel;
  semver?: string;
  /** Full git commit sha. */
  revision: string;
  /** e.g. refs/tags/v1.8.2 */
  ref: string;
  /** URL of the workflow run. */
  workflowRun: string;
  /** ISO 8601 / RFC 3339. */
  created: string;
}

export interface ManifestImage {
  /** Fully qualified: ghcr.io/acme/agent, docker.io/library/agent. */
  repository: string;
  index: IndexDescriptor;
  tags: string[];
}

export interface ManifestDelta {
  /** Bytes an edge node running the baseline must download (config + new layers). */
  bytes: number;
  /** New layers to download. */
  layers: number;
  /** The baseline image of this platform; null when there is none (a full download). */
  baseline: { version: string; digest: string } | null;
}

export interface ManifestSbom {
  format: SbomFormat;
  /** The SBOM file published with the release. */
  file: string;
  packages: number;
  attestation?: { referrer: string };
}

export type VulnerabilityCounts = Record<SeverityKey, number>;

export interface ManifestPlatform {
  platform: string;
  digest: string;
  /** Compressed bytes (config + layers). */
  size: number;
  delta: ManifestDelta;
  user: string;
  healthcheck: boolean;
  sbom: ManifestSbom;
  vulnerabilities: VulnerabilityCounts;
  /** The offline bundles of this platform, when offline-bundles is on. */
  bundles?: ManifestOfflineBundle[];
}

/**
 * An offline bundle of a platform. `bytes` and `sha256` are those of the bundle's first part, the image archive
 * (`head -c <bytes> <file> | sha256sum`): the rest of the file holds the signatures, this manifest, which cannot
 * name its own digest, and the signed SHA256SUMS over everything.
 */
export interface ManifestOfflineBundle {
  kind: 'full' | 'delta';
  file: string;
  bytes: number;
  sha256: string;
  /** A delta's baseline version (the release the device must already have). */
  baseline?: string;
}

export interface ManifestWaiver {
  id: string;
  package?: string;
  platforms?: string[];
  reason: string;
  expires: string;
  applied: boolean;
}

export interface ManifestGate {
  verdict: 'pass';
  policyDigest: string;
  failOn: FailOn;
  waivers: ManifestWaiver[];
}

export interface ManifestBundle {
  /** The digest the bundle signs. */
  subject: string;
  predicateType: string;
  /** Digest of the referrer manifest carrying the bundle. */
  referrer: string;
}

/** A signature or attestation in cosign's classic `.sig`/`.att` tag of its subject. */
export interface ManifestClassicSignature {
  subject: string;
  predicateType: string;
  /** `sha256-<hex>.sig` or `.att`. */
  tag: string;
}

export interface ManifestSignatures {
  mode: 'keyless' | 'key' | 'none';
  identity?: string;
  issuer?: string;
  bundles: ManifestBundle[];
  /** `signature-format`; absent in manifests written before the input existed (bundles only). */
  format?: 'both' | 'bundle' | 'classic';
  classic?: ManifestClassicSignature[];
}

export interface ManifestBaseline {
  channel: Channel;
  version: string;
  /** Digest of the baseline release's index. */
  index: string;
}

/** One tag the release could point at its index: whether it moved, and why (maintenance lines). */
export interface ManifestTagDecision {
  tag: string;
  moved: boolean;
  reason: string;
  previous?: { index: string; version?: string };
}

/** The release a promotion re-published: same index, its signed manifest, when the platforms were re-scanned. */
export interface ManifestPromotion {
  version: string;
  channel: Channel;
  index: string;
  manifest: { file: string; digest: string; artifact: string };
  rescanned: string;
}

export interface DeploymentManifest {
  apiVersion: typeof DEPLOYMENT_MANIFEST_API_VERSION;
  kind: typeof DEPLOYMENT_MANIFEST_KIND;
  release: ManifestRelease;
  image: ManifestImage;
  platforms: ManifestPlatform[];
  gate: ManifestGate;
  signatures: ManifestSignatures;
  baseline: ManifestBaseline | null;
  /** Absent in manifests written before maintenance lines. */
  tagPlan?: ManifestTagDecision[];
  /** Set when the release is a promotion of another one (same index). */
  promotedFrom?: ManifestPromotion;
  /** How devices run the container (`device-run`); the installer starts it with these settings. */
  run?: RunSettings;
}

/** The previous release of the channel, as read from the registry (the channel tag's index). */
export interface BaselineInput {
  channel: Channel;
  version: string;
  /** Digest of its index. */
  index: string;
  /**
   * Its platform images (manifest digest, config and layers), keyed by platform (linux/arm64). Used to compute the
   * deltas when `deltas` is not given, and for the previous image's digest.
   */
  platforms?: ReadonlyMap<string, PreviousImageBlobs & { digest: string }>;
}

/** What the manifest needs of a platform image (a PlatformImage has all of it). */
export interface ReleasedImage {
  platform: string;
  digest: string;
  /** Compressed bytes (config + layers). */
  size: number;
  configDigest: string;
  layers: ReadonlyArray<{ digest: string; size: number }>;
  config: { user: string; healthcheck: boolean };
}

export interface DeploymentManifestInput {
  release: Pick<ReleaseMetadata, 'version' | 'semver' | 'channel' | 'tags'>;
  git: {
    /** Full commit sha (GITHUB_SHA). */
    revision: string;
    /** GITHUB_REF. */
    ref: string;
    /** URL of the workflow run (with its attempt). */
    workflowRun: string;
  };
  created: Date | string;
  /** Repository as the user gave it; normalised (ghcr.io/acme/agent, alpine → docker.io/library/alpine). */
  repository: string;
  index: IndexDescriptor;
  /** Tags written to the index; default `release.tags`. */
  tags?: readonly string[];
  images: readonly ReleasedImage[];
  /** SBOM per platform (keys compared in normalised form). */
  sboms: ReadonlyMap<string, ManifestSbom>;
  /** The gate's verdict: it must have passed. */
  verdict: GateVerdict;
  policy: Policy;
  signatures: ManifestSignatures;
  /** The channel's previous release, or null (first release, or the dev channel). */
  baseline: BaselineInput | null;
  /** Which tags moved and which stayed (maintenance lines). */
  tagPlan?: readonly ManifestTagDecision[];
  /** The release this one promotes. */
  promotedFrom?: ManifestPromotion;
  /**
   * Deltas already computed with {@link platformDeltas} (keys compared in normalised form). Default: computed here from
   * `baseline.platforms`.
   */
  deltas?: ReadonlyMap<string, PlatformDelta>;
  /** Offline bundles per platform (keys compared in normalised form); none when not given. */
  bundles?: ReadonlyMap<string, readonly ManifestOfflineBundle[]>;
  /** How devices run the container (`device-run`). */
  run?: RunSettings;
}

export interface ManifestProblem {
  /** `platforms[1].delta.bytes`. */
  path: string;
  message: string;
  /** 1-based line in the parsed text, when known. */
  line?: number;
}

export class DeploymentManifestError extends Error {
  override name = 'DeploymentManifestError';
  constructor(
    readonly what: string,
    readonly problems: readonly ManifestProblem[],
  ) {
    super(
      `${what}:\n${problems
        .map((p) => `  ${p.path}: ${p.message}${p.line === undefined ? '' : ` (line ${p.line})`}`)
        .join('\n')}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Names

/**
 * The in-toto predicate type under which the manifest is signed: the statement's subjects are the manifest file
 * (sha256 of its bytes, header included) and the index; `cosign verify-blob-attestation --type` checks it.
 */
export const DEPLOYMENT_MANIFEST_PREDICATE_TYPE = 'https://edgeship.dev/deployment-manifest/v1';

/** artifactType of the deployment manifest pushed beside the index (pull it with oras or crane). */
export const DEPLOYMENT_MANIFEST_ARTIFACT_TYPE = 'application/vnd.edgeship.deployment-manifest.v1+yaml';

function checkVersionForFileName(version: string): void {
  if (!new RegExp(TAG_PATTERN).test(version)) {
    throw new DeploymentManifestError('Cannot name the deployment manifest', [
      { path: 'release.version', message: `${JSON.stringify(version)} is not a Docker-tag-shaped version` },
    ]);
  }
}

/** `edgeship-deployment-1.8.2.yaml`: the release asset name of the manifest. */
export function manifestFileName(version: string): string {
  checkVersionForFileName(version);
  return `edgeship-deployment-${version}.yaml`;
}

/** `edgeship-deployment-1.8.2.yaml.sigstore.json`: the Sigstore bundle that signs the manifest file. */
export function manifestBundleFileName(version: string): string {
  return `${manifestFileName(version)}.sigstore.json`;
}

// ---------------------------------------------------------------------------------------------------------------
// Build

function lowerCounts(counts: GateVerdict['platforms'][number]['counts']): VulnerabilityCounts {
  return {
    critical: counts.Critical ?? 0,
    high: counts.High ?? 0,
    medium: counts.Medium ?? 0,
    low: counts.Low ?? 0,
    negligible: counts.Negligible ?? 0,
    unknown: counts.Unknown ?? 0,
  };
}

function byPlatform<T>(entries: Iterable<[string, T]>): Map<string, T> {
  const out = new Map<string, T>();
  for (const [platform, value] of entries) out.set(platformKey(platform), value);
  return out;
}

function waiverApplied(waiver: Waiver, verdict: GateVerdict): boolean {
  return verdict.waivers.applied.some(
    (use) =>
      use.waiver === waiver ||
      (use.waiver.index === waiver.index &&
        use.waiver.id === waiver.id &&
        use.waiver.expires === waiver.expires),
  );
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Assembles the deployment manifest of a release that passed the gate, computes each platform's download delta
 * against the channel baseline, and validates the result (schema and consistency). Throws DeploymentManifestError
 * listing every problem with its field path. Platforms are ordered by name and bundles by subject, so the same
 * release always gives the same manifest.
 */
export function buildDeploymentManifest(input: DeploymentManifestInput): DeploymentManifest {
  const problems: ManifestProblem[] = [];

  if (!input.verdict.pass) {
    problems.push({
      path: 'gate.verdict',
      message:
        'the gate did not pass; a deployment manifest is only written for a release that passed the gate',
    });
  }

  let repository = input.repository;
  try {
    repository = formatRepository(parseRepository(input.repository));
  } catch (error) {
    problems.push({ path: 'image.repository', message: (error as Error).message });
  }

  let created = typeof input.created === 'string' ? input.created : '';
  if (input.created instanceof Date) {
    if (Number.isNaN(input.created.getTime())) {
      problems.push({ path: 'release.created', message: 'is an invalid Date' });
    } else created = input.created.toISOString();
  }
  const platforms = manifestPlatforms(input, problems);

  const manifest: DeploymentManifest = {
    apiVersion: DEPLOYMENT_MANIFEST_API_VERSION,
    kind: DEPLOYMENT_MANIFEST_KIND,
    release: {
      version: input.release.version,
      channel: input.release.channel,
      ...(input.release.semver === undefined ? {} : { semver: input.release.semver }),
      revision: input.git.revision.toLowerCase(),
      ref: input.git.ref,
      workflowRun: input.git.workflowRun,
      created,
    },
    image: {
      repository,
      index: { digest: input.index.digest, mediaType: input.index.mediaType, size: input.index.size },
      tags: [...(input.tags ?? input.release.tags)],
    },
    platforms,
    gate: manifestGate(input),
    signatures: manifestSignatures(input.signatures),
    baseline: input.baseline
      ? { channel: input.baseline.channel, version: input.baseline.version, index: input.baseline.index }
      : null,
    ...(input.tagPlan ? { tagPlan: input.tagPlan.map((d) => ({ ...d })) } : {}),
    ...(input.promotedFrom ? { promotedFrom: { ...input.promotedFrom } } : {}),
    ...(input.run ? { run: runSettings(input.run) } : {}),
  };

  if (problems.length > 0) {
    throw new DeploymentManifestError('Cannot build the deployment manifest', problems);
  }
  const invalid = validationProblems(manifest);
  if (invalid.length > 0) {
    throw new DeploymentManifestError('The deployment manifest built for this release is invalid', invalid);
  }
  return manifest;
}

/** Each released platform (ordered by name) with its delta, SBOM and counts; what is missing goes to `problems`. */
function manifestPlatforms(input: DeploymentManifestInput, problems: ManifestProblem[]): ManifestPlatform[] {
  const verdicts = byPlatform(input.verdict.platforms.map((p) => [p.platform, p] as [string, typeof p]));
  const sboms = byPlatform(input.sboms);
  const previous = byPlatform(
    input.baseline?.platforms ?? new Map<string, PreviousImageBlobs & { digest: string }>(),
  );
  const deltas = input.deltas ? byPlatform(input.deltas) : undefined;
  const bundles = byPlatform(input.bundles ?? new Map<string, readonly ManifestOfflineBundle[]>());

  const images = [...input.images].sort((a, b) =>
    compareStrings(platformKey(a.platform), platformKey(b.platform)),
  );
  return images.map((image, i) => {
    const key = platformKey(image.platform);
    const verdict = verdicts.get(key);
    if (!verdict) {
      problems.push({
        path: `platforms[${i}].vulnerabilities`,
        message: `the gate verdict has no result for ${key}: every released platform must have been scanned`,
      });
    }
    const sbom = sboms.get(key);
    if (!sbom) {
      problems.push({ path: `platforms[${i}].sbom`, message: `no SBOM was given for ${key}` });
    }
    const before = previous.get(key);
    let delta: PlatformDelta | undefined;
    if (deltas) {
      delta = deltas.get(key);
      if (!delta) problems.push({ path: `platforms[${i}].delta`, message: `no delta was given for ${key}` });
    } else {
      delta = {
        platform: key,
        hasPrevious: before !== undefined,
        ...(before ? { previousDigest: before.digest } : {}),
        ...layerDelta(image, before),
      };
    }
    let deltaBaseline: ManifestDelta['baseline'] = null;
    if (delta?.hasPrevious) {
      const digest = delta.previousDigest ?? before?.digest;
      if (!input.baseline) {
        problems.push({
          path: `platforms[${i}].delta.baseline`,
          message: `the delta of ${key} was computed against a previous image but no baseline release was given`,
        });
      } else if (digest === undefined) {
        problems.push({
          path: `platforms[${i}].delta.baseline.digest`,
          message: `the digest of the baseline's ${key} image is unknown; give it in baseline.platforms or the delta`,
        });
      } else {
        deltaBaseline = { version: input.baseline.version, digest };
      }
    }
    return {
      platform: key,
      digest: image.digest,
      size: image.size,
      delta: { bytes: delta?.bytes ?? 0, layers: delta?.layers ?? 0, baseline: deltaBaseline },
      user: image.config.user,
      healthcheck: image.config.healthcheck,
      sbom: sbom
        ? {
            format: sbom.format,
            file: sbom.file,
            packages: sbom.packages,
            ...(sbom.attestation ? { attestation: { referrer: sbom.attestation.referrer } } : {}),
          }
        : { format: 'spdx-json', file: '', packages: 0 },
      vulnerabilities: verdict
        ? lowerCounts(verdict.counts)
        : { critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 0 },
      ...(bundles.has(key) ? { bundles: bundles.get(key)!.map((b) => ({ ...b })) } : {}),
    };
  });
}

/** The gate's record: passed, under which policy (its digest), and each waiver and whether it applied. */
function manifestGate(input: DeploymentManifestInput): DeploymentManifest['gate'] {
  return {
    verdict: 'pass',
    policyDigest: policyDigest(input.policy),
    failOn: input.policy.failOn,
    waivers: [...input.policy.waivers]
      .sort((a, b) => a.index - b.index)
      .map((w) => ({
        id: w.id,
        ...(w.package === undefined ? {} : { package: w.package }),
        ...(w.platforms === undefined ? {} : { platforms: [...w.platforms] }),
        reason: w.reason,
        expires: w.expires,
        applied: waiverApplied(w, input.verdict),
      })),
  };
}

/** The signatures the manifest lists, ordered by subject (then predicate type and referrer or tag). */
function manifestSignatures(
  signatures: DeploymentManifestInput['signatures'],
): DeploymentManifest['signatures'] {
  return {
    mode: signatures.mode,
    ...(signatures.identity === undefined ? {} : { identity: signatures.identity }),
    ...(signatures.issuer === undefined ? {} : { issuer: signatures.issuer }),
    bundles: signatures.bundles
      .map((b) => ({ subject: b.subject, predicateType: b.predicateType, referrer: b.referrer }))
      .sort(
        (a, b) =>
          compareStrings(a.subject, b.subject) ||
          compareStrings(a.predicateType, b.predicateType) ||
          compareStrings(a.referrer, b.referrer),
      ),
    ...(signatures.format === undefined ? {} : { format: signatures.format }),
    ...(signatures.classic === undefined
      ? {}
      : {
          classic: signatures.classic
            .map((c) => ({ subject: c.subject, predicateType: c.predicateType, tag: c.tag }))
            .sort(
              (a, b) =>
                compareStrings(a.subject, b.subject) ||
                compareStrings(a.tag, b.tag) ||
                compareStrings(a.predicateType, b.predicateType),
            ),
        }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

type Path = Array<string | number>;
interface RawProblem {
  path: Path;
  message: string;
}

/** The rules the schema cannot express. Only called on a document that passed the schema. */
function consistencyProblems(m: DeploymentManifest): RawProblem[] {
  const out: RawProblem[] = [];
  const { release, image, platforms, signatures, baseline } = m;

  if (release.semver !== undefined) {
    const parsed = semver.parse(release.semver);
    if (parsed && parsed.version !== release.version) {
      out.push({
        path: ['release', 'version'],
        message: `must be the semver without build metadata (${parsed.version}); got ${JSON.stringify(release.version)}`,
      });
    }
  }

  const seenPlatform = new Map<string, number>();
  const seenDigest = new Map<string, number>();
  platforms.forEach((p, i) => {
    const samePlatform = seenPlatform.get(p.platform);
    if (samePlatform !== undefined) {
      out.push({ path: ['platforms', i, 'platform'], message: `duplicates platforms[${samePlatform}]` });
    } else seenPlatform.set(p.platform, i);
    const sameDigest = seenDigest.get(p.digest);
    if (sameDigest !== undefined) {
      out.push({ path: ['platforms', i, 'digest'], message: `duplicates platforms[${sameDigest}].digest` });
    } else seenDigest.set(p.digest, i);
    if (p.digest === image.index.digest) {
      out.push({
        path: ['platforms', i, 'digest'],
        message: 'is the index digest; expected the platform image',
      });
    }
    if (p.delta.bytes > p.size) {
      out.push({
        path: ['platforms', i, 'delta', 'bytes'],
        message: `is ${p.delta.bytes}, more than the image's size ${p.size}`,
      });
    }
    if (p.delta.baseline !== null) {
      if (baseline === null) {
        out.push({
          path: ['platforms', i, 'delta', 'baseline'],
          message: 'must be null when the manifest has no baseline',
        });
      } else if (p.delta.baseline.version !== baseline.version) {
        out.push({
          path: ['platforms', i, 'delta', 'baseline', 'version'],
          message: `must be the baseline's version ${JSON.stringify(baseline.version)}; got ${JSON.stringify(p.delta.baseline.version)}`,
        });
      }
    }
  });

  const releaseDigests = new Set([image.index.digest, ...platforms.map((p) => p.digest)]);
  signatures.bundles.forEach((b, i) => {
    if (!releaseDigests.has(b.subject)) {
      out.push({
        path: ['signatures', 'bundles', i, 'subject'],
        message: `${b.subject} is neither the index nor a platform image of this release`,
      });
    }
  });
  (signatures.classic ?? []).forEach((c, i) => {
    if (!releaseDigests.has(c.subject)) {
      out.push({
        path: ['signatures', 'classic', i, 'subject'],
        message: `${c.subject} is neither the index nor a platform image of this release`,
      });
    }
  });
  platforms.forEach((p, i) => {
    const referrer = p.sbom.attestation?.referrer;
    if (referrer === undefined) return;
    if (!signatures.bundles.some((b) => b.referrer === referrer && b.subject === p.digest)) {
      out.push({
        path: ['platforms', i, 'sbom', 'attestation', 'referrer'],
        message: `${referrer} is not among signatures.bundles with subject ${p.digest}`,
      });
    }
  });

  if (m.tagPlan) {
    const moved = m.tagPlan.filter((d) => d.moved).map((d) => d.tag);
    const missing = image.tags.filter((t) => !moved.includes(t));
    const extra = moved.filter((t) => !image.tags.includes(t));
    if (missing.length || extra.length)
      out.push({
        path: ['tagPlan'],
        message: `the moved tags must be image.tags; ${[...missing.map((t) => `${t} is not moved`), ...extra.map((t) => `${t} is not in image.tags`)].join(', ')}`,
      });
  }
  if (m.promotedFrom && m.promotedFrom.index !== image.index.digest) {
    out.push({
      path: ['promotedFrom', 'index'],
      message: `must be image.index.digest ${image.index.digest}: a promotion tags the same index`,
    });
  }

  if (baseline !== null) {
    if (release.channel === 'dev') {
      out.push({ path: ['baseline'], message: 'must be null on the dev channel (it has no baseline)' });
    } else if (baseline.channel !== release.channel) {
      out.push({
        path: ['baseline', 'channel'],
        message: `must be the release channel ${release.channel}; got ${baseline.channel}`,
      });
    }
  }
  return out;
}

function validationProblems(document: unknown): ManifestProblem[] {
  return rawValidationProblems(document).map((p) => ({ path: formatPath(p.path), message: p.message }));
}

function rawValidationProblems(document: unknown): RawProblem[] {
  const problems = schemaProblems(document);
  if (problems.length > 0) return problems;
  return consistencyProblems(document as DeploymentManifest);
}

/** Problems of a document that should be a deployment manifest; empty when it is one. */
export function validateDeploymentManifest(document: unknown): ManifestProblem[] {
  return validationProblems(document);
}

// ---------------------------------------------------------------------------------------------------------------
// Render

function compact<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The manifest with keys in the documented order (the order of the schema), optional keys left out when unset. */
function ordered(m: DeploymentManifest): DeploymentManifest {
  return {
    apiVersion: m.apiVersion,
    kind: m.kind,
    release: compact({
      version: m.release.version,
      channel: m.release.channel,
      semver: m.release.semver,
      revision: m.release.revision,
      ref: m.release.ref,
      workflowRun: m.release.workflowRun,
      created: m.release.created,
    }),
    image: {
      repository: m.image.repository,
      index: { digest: m.image.index.digest, mediaType: m.image.index.mediaType, size: m.image.index.size },
      tags: [...m.image.tags],
    },
    platforms: m.platforms.map((p) => ({
      platform: p.platform,
      digest: p.digest,
      size: p.size,
      delta: {
        bytes: p.delta.bytes,
        layers: p.delta.layers,
        baseline: p.delta.baseline
          ? { version: p.delta.baseline.version, digest: p.delta.baseline.digest }
          : null,
      },
      user: p.user,
      healthcheck: p.healthcheck,
      sbom: compact({
        format: p.sbom.format,
        file: p.sbom.file,
        packages: p.sbom.packages,
        attestation: p.sbom.attestation ? { referrer: p.sbom.attestation.referrer } : undefined,
      }),
      vulnerabilities: Object.fromEntries(
        VULNERABILITY_KEYS.map((k) => [k, p.vulnerabilities[k]]),
      ) as VulnerabilityCounts,
      bundles: p.bundles?.map((b) =>
        compact({ kind: b.kind, file: b.file, bytes: b.bytes, sha256: b.sha256, baseline: b.baseline }),
      ),
    })),
    gate: {
      verdict: m.gate.verdict,
      policyDigest: m.gate.policyDigest,
      failOn: m.gate.failOn,
      waivers: m.gate.waivers.map((w) =>
        compact({
          id: w.id,
          package: w.package,
          platforms: w.platforms ? [...w.platforms] : undefined,
          reason: w.reason,
          expires: w.expires,
          applied: w.applied,
        }),
      ),
    },
    signatures: compact({
      mode: m.signatures.mode,
      identity: m.signatures.identity,
      issuer: m.signatures.issuer,
      bundles: m.signatures.bundles.map((b) => ({
        subject: b.subject,
        predicateType: b.predicateType,
        referrer: b.referrer,
      })),
      format: m.signatures.format,
      classic: m.signatures.classic?.map((c) => ({
        subject: c.subject,
        predicateType: c.predicateType,
        tag: c.tag,
      })),
    }),
    baseline: m.baseline
      ? { channel: m.baseline.channel, version: m.baseline.version, index: m.baseline.index }
      : null,
    ...(m.tagPlan
      ? {
          tagPlan: m.tagPlan.map((d) =>
            compact({
              tag: d.tag,
              moved: d.moved,
              reason: d.reason,
              previous: d.previous
                ? compact({ index: d.previous.index, version: d.previous.version })
                : undefined,
            }),
          ),
        }
      : {}),
    ...(m.promotedFrom
      ? {
          promotedFrom: {
            version: m.promotedFrom.version,
            channel: m.promotedFrom.channel,
            index: m.promotedFrom.index,
            manifest: {
              file: m.promotedFrom.manifest.file,
              digest: m.promotedFrom.manifest.digest,
              artifact: m.promotedFrom.manifest.artifact,
            },
            rescanned: m.promotedFrom.rescanned,
          },
        }
      : {}),
    ...(m.run ? { run: runSettings(m.run) } : {}),
  };
}

/** The run settings in their fixed key order, absent ones left out. */
function runSettings(r: RunSettings): RunSettings {
  return Object.fromEntries(
    RUN_SETTING_FIELDS.filter((k) => r[k] !== undefined).map((k) => [k, r[k]]),
  ) as RunSettings;
}

/**
 * Strings that every YAML 1.1 and 1.2 parser reads back as themselves when written plain: a letter, then letters,
 * digits and `_./:@+-`, not ending in `:` (no indicator, space or comment can appear; a number, timestamp or `.inf`
 * starts otherwise), except the words that read as booleans or null and what yaml's YAML 1.1 schema takes for an
 * exponent (`e10`). Most of a manifest (digests, tags, platforms, URLs) is such a
 * string; plainIsSameString parses the others, twice each, which is most of the time a manifest takes to render.
 */
const PLAIN_SAFE = /^[A-Za-z][A-Za-z0-9_./:@+-]*(?<!:)$/;
const YAML_WORDS = /^(?:y|n|yes|no|true|false|on|off|null)$|^e[-+]?[0-9]/i;

/** Whether `value`, written as a plain scalar, reads back as that string in YAML 1.1 and 1.2. */
export function plainIsSameString(value: string): boolean {
  if (PLAIN_SAFE.test(value) && !YAML_WORDS.test(value)) return true;
  return parsesBackPlain(value);
}

/** plainIsSameString without its shortcut: what a YAML 1.1 and a YAML 1.2 parser make of the plain scalar. */
export function parsesBackPlain(value: string): boolean {
  try {
    return parse(value, { version: '1.1' }) === value && parse(value, { version: '1.2' }) === value;
  } catch {
    return true; // not a plain scalar at all: the serializer quotes it by itself
  }
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function header(m: DeploymentManifest): string {
  const file = manifestFileName(m.release.version);
  const bundle = manifestBundleFileName(m.release.version);
  const pinned = `${m.image.repository}@${m.image.index.digest}`;
  const who =
    m.signatures.mode === 'keyless'
      ? `--certificate-identity ${shellQuote(m.signatures.identity ?? '<identity>')} ` +
        `--certificate-oidc-issuer ${shellQuote(m.signatures.issuer ?? '<issuer>')}`
      : '--key cosign.pub';
  if (m.signatures.mode === 'none') {
    return [
      `Edgeship deployment manifest: ${m.image.repository} ${m.release.version} (${m.release.channel} channel)`,
      `Run the release by digest: ${pinned}`,
      '',
      'This release was published with signing: off. Nothing here is signed: do not trust it on a device',
      'that requires signed releases.',
      `Schema: ${DEPLOYMENT_MANIFEST_SCHEMA_ID}`,
    ]
      .map((l) => (l === '' ? '#' : `# ${l}`))
      .join('\n');
  }
  const lines = [
    `Edgeship deployment manifest: ${m.image.repository} ${m.release.version} (${m.release.channel} channel)`,
    `Run the release by digest: ${pinned}`,
    '',
    'This file is the signed record of the release: do not edit it, any change breaks the signature.',
    `Verify it (its Sigstore bundle is the release asset ${bundle}) before trusting anything in it:`,
    `  cosign verify-blob-attestation --new-bundle-format --bundle ${bundle} \\`,
    `    --type ${DEPLOYMENT_MANIFEST_PREDICATE_TYPE} \\`,
    `    ${who} \\`,
    `    ${file}`,
    'then verify the image it names (same signer):',
    `  cosign verify ${pinned} \\`,
    `    ${who}`,
    `Schema: ${DEPLOYMENT_MANIFEST_SCHEMA_ID}`,
  ];
  return lines.map((l) => (l === '' ? '#' : `# ${l}`)).join('\n');
}

/**
 * The manifest as YAML: a header comment saying how to verify it, then the document with keys in the documented order.
 * The same manifest always renders to the same bytes. The manifest is validated first.
 */
export function renderDeploymentManifest(m: DeploymentManifest): string {
  const problems = validationProblems(m);
  if (problems.length > 0) {
    throw new DeploymentManifestError('Refusing to render an invalid deployment manifest', problems);
  }
  const doc = new Document(ordered(m), { aliasDuplicateObjects: false });
  // Edge devices may read the file with a YAML 1.1 parser (PyYAML, go-yaml v2), where plain 2025-06-01T12:00:00Z is a
  // timestamp and yes/on are booleans: quote every string a YAML 1.1 or 1.2 parser would not read back as that string.
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && !plainIsSameString(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  const body = doc.toString({ indent: 2, lineWidth: 0, minContentWidth: 0 });
  return `${header(m)}\n${body}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Parse

/**
 * Parses and validates a deployment manifest (YAML or JSON). Throws DeploymentManifestError listing every problem
 * with its field path and line: YAML syntax, schema (unknown or missing keys, wrong types and forms) and consistency.
 */
export function parseDeploymentManifest(text: string, source = 'deployment manifest'): DeploymentManifest {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new DeploymentManifestError(
      `${source} is not valid YAML`,
      doc.errors.map((e) => ({
        path: '(document)',
        message: e.message.split('\n')[0] ?? e.message,
        line: lines.linePos(e.pos[0]).line,
      })),
    );
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  const problems = rawValidationProblems(value);
  if (problems.length > 0) {
    throw new DeploymentManifestError(
      `${source} is not a valid ${DEPLOYMENT_MANIFEST_KIND}`,
      problems.map((p) => {
        const line = lineOf(doc.contents, p.path, lines);
        return { path: formatPath(p.path), message: p.message, ...(line === undefined ? {} : { line }) };
      }),
    );
  }
  return value as DeploymentManifest;
}

/**
 * Validates a deployment manifest given as a value (the predicate of its signed statement, which is the manifest as
 * JSON); throws DeploymentManifestError listing every problem with its field path.
 */
export function deploymentManifestFromValue(
  value: unknown,
  source = 'deployment manifest',
): DeploymentManifest {
  const problems = validationProblems(value);
  if (problems.length > 0) {
    throw new DeploymentManifestError(`${source} is not a valid ${DEPLOYMENT_MANIFEST_KIND}`, problems);
  }
  return value as DeploymentManifest;
}
