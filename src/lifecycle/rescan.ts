/**
 * Rescans of deployed releases (`mode: rescan`): which releases (the channel tags, and optionally the latest
 * releases), the findings each platform's signed vulnerability attestation recorded at release time, the comparison
 * with today's scan of the signed SBOM, today's verdict of the current policy, and a fresh signed vulnerability
 * attestation (today's report, scan date inside) attached to every platform image. Nothing is pulled but manifests,
 * configs and attestations.
 */
import semver from 'semver';
import type { PlatformImage } from '../image/pushed-image.js';
import type { PhaseLog } from '../logging/phase-log.js';
import { evaluateScans } from '../policy/decide.js';
import type { Finding, GateVerdict, Policy } from '../policy/index.js';
import type { RegistryClient } from '../registry/client.js';
import { ReferrerWriter } from '../registry/referrers.js';
import { diffFindings } from '../scan/findings-diff.js';
import { parseGrypeReport, type GrypeReport, type VulnerabilityMatch } from '../scan/grype-report.js';
import type { PlatformScan } from '../scan/scan-platforms.js';
import { attachBundle } from '../sign/bundle-referrers.js';
import { COSIGN_VULN_PREDICATE_TYPE, vulnerabilityPredicate } from '../sign/predicates.js';
import { attest, type SignerConfig } from '../sign/signer.js';
import type { ReleaseRepository, ReleaseTrust } from './read-release.js';
import { readRelease, type ReadRelease } from './release-reader.js';

/** One release to rescan: its index and every reference (channel tag, version tag) that names it. */
export interface RescanTarget {
  digest: string;
  references: string[];
}

/**
 * The distinct releases behind the channel tags (those that exist) and the `latest` highest stable semver tags,
 * in that order; a release named twice (production and staging after a promotion) is rescanned once.
 */
export async function rescanTargets(
  registry: Pick<RegistryClient, 'headManifest' | 'listTags'>,
  repository: ReleaseRepository,
  want: { channels: readonly string[]; releases: number },
  log: PhaseLog,
): Promise<RescanTarget[]> {
  const versions =
    want.releases > 0
      ? (await registry.listTags(repository.path))
          .filter((t) => semver.valid(t) === t && !semver.prerelease(t))
          .sort(semver.rcompare)
          .slice(0, want.releases)
      : [];
  const targets: RescanTarget[] = [];
  for (const reference of [...want.channels, ...versions]) {
    const head = await registry.headManifest(repository.path, reference);
    if (!head) {
      log.info(`${repository.name}:${reference} does not exist: nothing deployed there to rescan`);
      continue;
    }
    const known = targets.find((t) => t.digest === head.digest);
    if (known) known.references.push(reference);
    else targets.push({ digest: head.digest, references: [reference] });
  }
  for (const t of targets) log.info(`${t.references.join(', ')} → ${t.digest}`);
  return targets;
}

/** A release read back and verified, with the findings recorded at release time for each platform image. */
export interface ReleaseToRescan extends ReadRelease {
  target: RescanTarget;
  /** By platform image digest; undefined when the release has no verified vulnerability attestation for it. */
  recorded: Map<string, GrypeReport | undefined>;
}

/** Reads and verifies the release, and the vulnerability attestations its deployment manifest lists. */
export async function readReleaseToRescan(
  registry: RegistryClient,
  repository: ReleaseRepository,
  target: RescanTarget,
  trust: ReleaseTrust,
  log: PhaseLog,
): Promise<ReleaseToRescan> {
  const read = await readRelease(registry, repository, target.digest, trust, log);
  const listed = read.manifest.manifest.signatures.bundles;
  const recorded = new Map<string, GrypeReport | undefined>();
  for (const p of read.release.platforms) {
    const attested = read.verified.platforms.get(p.digest)?.verified ?? [];
    const atRelease = listed.find(
      (b) => b.subject === p.digest && b.predicateType === COSIGN_VULN_PREDICATE_TYPE,
    );
    const bundle =
      attested.find((v) => v.referrer === atRelease?.referrer) ??
      attested.find((v) => v.predicateType === COSIGN_VULN_PREDICATE_TYPE);
    const result = (bundle?.statement.predicate as { scanner?: { result?: unknown } } | undefined)?.scanner
      ?.result;
    recorded.set(
      p.digest,
      result === undefined ? undefined : parseGrypeReport(JSON.stringify(result), bundle!.referrer),
    );
    if (result === undefined)
      log.warning(
        `${p.platform}: no signed vulnerability scan from the release: every finding counts as new`,
      );
  }
  return { ...read, target, recorded };
}

/** One platform of a rescanned release. */
export interface RescannedPlatform {
  release: string;
  references: string[];
  index: string;
  platform: string;
  digest: string;
  added: VulnerabilityMatch[];
  fixed: VulnerabilityMatch[];
  /** What the current policy blocks today. */
  blocking: Finding[];
  /** The referrer of the fresh vulnerability attestation; undefined when signing is off. */
  attestation?: string;
}

export interface RescannedRelease {
  release: string;
  references: string[];
  verdict: GateVerdict;
  platforms: RescannedPlatform[];
}

/**
 * Compares today's scans with the recorded ones, evaluates the current policy, and attaches a fresh signed
 * vulnerability attestation (today's report) to each platform image.
 */
export async function compareAndAttest(
  read: ReleaseToRescan,
  scans: readonly PlatformScan[],
  req: { policy: Policy; signer?: SignerConfig; workflowRun: string; repository: ReleaseRepository },
  deps: {
    registry: RegistryClient;
    log: PhaseLog;
    readText: (f: string) => Promise<string>;
    now: () => Date;
  },
): Promise<RescannedRelease> {
  const version = read.manifest.manifest.release.version;
  const images: PlatformImage[] = read.images;
  const verdict = evaluateScans(req.policy, scans, images, deps.now());
  const writer = new ReferrerWriter(deps.registry);
  const platforms: RescannedPlatform[] = [];
  for (const scan of scans) {
    const diff = diffFindings(read.recorded.get(scan.digest)?.matches ?? [], scan.report.matches);
    const entry = read.release.platforms.find((p) => p.digest === scan.digest)!;
    let attestation: string | undefined;
    if (req.signer) {
      const predicate = vulnerabilityPredicate({
        reportText: await deps.readText(scan.reportFile),
        grypeVersion: scan.report.grypeVersion,
        dbBuilt: scan.report.dbBuilt,
        dbSource: scan.report.dbSource,
        workflowRun: req.workflowRun,
        scannedAt: deps.now(),
      });
      const signed = await attest(req.signer, scan.digest, COSIGN_VULN_PREDICATE_TYPE, predicate);
      const subject = { mediaType: entry.mediaType, digest: entry.digest, size: entry.size };
      const attached = await attachBundle(
        writer,
        req.repository.path,
        subject,
        signed.bundle,
        COSIGN_VULN_PREDICATE_TYPE,
        deps.now(),
      );
      attestation = attached.referrer.digest;
    }
    const blocking = verdict.platforms.find((p) => p.platform === scan.platform)?.blocking ?? [];
    deps.log.info(
      `${version} ${scan.platform}: ${diff.added.length} new, ${diff.fixed.length} fixed, ${blocking.length} blocking today` +
        (attestation ? `; fresh vulnerability attestation ${attestation}` : ''),
    );
    platforms.push({
      release: version,
      references: read.target.references,
      index: read.target.digest,
      platform: scan.platform,
      digest: scan.digest,
      ...diff,
      blocking,
      ...(attestation ? { attestation } : {}),
    });
  }
  return { release: version, references: read.target.references, verdict, platforms };
}

/** One line per finding that blocks a deployed release today: release, platform, package, fixed version. */
export function blockingLines(results: readonly RescannedRelease[]): string[] {
  return results.flatMap((r) =>
    r.platforms.flatMap((p) =>
      p.blocking.map((f) => {
        const isNew = p.added.some((a) => a.id === f.id && a.packageName === f.packageName);
        return (
          `${r.release} (${r.references.join(', ')}) ${p.platform}: ${f.id} (${f.severity}) in ${f.packageName} ${f.packageVersion}, ` +
          `${f.fixedIn.length ? `fixed in ${f.fixedIn.join(', ')}` : `no fix (${f.fixState})`}${isNew ? ', new since the release' : ''}`
        );
      }),
    ),
  );
}
