/**
 * The publish phase: a gated release becomes a signed, tagged, multi-arch index with its attestations,
 * its signed deployment manifest and (for a git tag) a GitHub release. Each step is a module of its own.
 */
import { readBaseline, type Baseline } from '../deployment/baseline.js';
import type { ManifestPromotion } from '../deployment/manifest.js';
import type { CarriedSignatures } from '../lifecycle/carried-signatures.js';
import type { TagDecision } from '../deployment/tag-lines.js';
import { buildImageIndex } from '../image/image-index.js';
import { adoptRelease, planOrAdopt } from './adopt-release.js';
import { attestBuildAndTriage } from './attest-build.js';
import { writeDeploymentManifest } from './deployment-manifest.js';
import { bundleListing } from '../bundles/offline-bundles.js';
import { gatedImages } from './gated-images.js';
import { storeGitHubAttestations } from './github-attestations.js';
import {
  publishContext,
  type PublishContext,
  type PublishDeps,
  type PublishRequest,
  type PublishResult,
  type TagPlanEntry,
} from './model.js';
import { offlineBundleAssets, offlineBundleSteps } from './offline-bundles.js';
import { pushIndex } from './push-index.js';
import { publishDraftRelease, releaseAssetList, stageReleaseAssets } from './release-assets.js';
import { attestRescan, signRelease } from './sign-release.js';
import { planLineTags, releaseTagList } from './tags.js';
import { verifyingWritten, verifyRelease } from './verify-release.js';
import { writeTags } from './write-tags.js';

export type { AssetUpload, PublishDeps, PublishRequest, PublishResult, ReleaseAssetsStage } from './model.js';
export { PublishError } from './model.js';
export type { SignatureRecord } from './signatures.js';
export { DEPLOYMENT_PREDICATE_TYPE } from '../sign/predicates.js';

/**
 * Publishes a gated release. Everything that can fail is done before the first tag is written: the
 * index and every signature go in by digest, bundles are verified, the deployment manifest is signed,
 * release assets are uploaded. Then the tags move (release tags last) and are read back.
 */
export async function publishRelease(req: PublishRequest, deps: PublishDeps): Promise<PublishResult> {
  const { settings, release, images } = req;
  const { registry, log } = deps;
  const { allowDowngrade } = settings.publish;
  const repository = settings.image.path;
  const gated = gatedImages(req.gate, images);
  const index = buildImageIndex(images, release.annotations);
  const ctx = publishContext(req, deps, index, gated);
  // Refusals come before anything is written: a release tag that would move (unless this commit's
  // release is there to adopt), then a downgrade.
  const { plan, adopt } = await planOrAdopt(ctx, releaseTagList(release));
  if (adopt) return adoptRelease(ctx, plan, adopt);
  const lines = await log.group('Plan the tags', () =>
    planLineTags(registry, repository, plan, release, index.digest, allowDowngrade, log),
  );
  const baseline = await log.group('Read the channel baseline', () =>
    readChannelBaseline(registry, req, log),
  );
  await log.group('Push the index', () => pushIndex(ctx));
  return completeRelease(ctx, lines, baseline);
}

/** The channel baseline (deltas) and the downgrade guard; a lower stable release is a maintenance release. */
export function readChannelBaseline(
  registry: PublishDeps['registry'],
  { settings, release, images }: Pick<PublishRequest, 'settings' | 'release' | 'images'>,
  log: PublishDeps['log'],
): Promise<Baseline | undefined> {
  const request = {
    repository: settings.image.path,
    release,
    allowDowngrade: settings.publish.allowDowngrade,
    platforms: images.map((i) => i.platform),
    maintenanceLines: release.kind === 'release',
  };
  return readBaseline(registry, request, log);
}

/**
 * The publish steps once the index is in the registry: signatures and attestations, the deployment manifest (with
 * the tag decisions and, for a promotion, its origin), verification, release assets (draft), the tags, the release.
 * A promotion signs only what is new (the rescan's attestations, the manifest) and verifies only what it wrote.
 */
export async function completeRelease(
  ctx: PublishContext,
  lines: { plan: TagPlanEntry[]; decisions: readonly TagDecision[] },
  baseline: Baseline | undefined,
  /** A promotion: its origin, and the source's signatures the promoted digests keep. */
  promotion?: { record: ManifestPromotion; carried: CarriedSignatures },
): Promise<PublishResult> {
  const { req, deps, index, signatures } = ctx;
  const { log, signer, trustMaterial, expectedSigner, releaseAssets: stage } = deps;
  // A promotion's rescan attestations are stored while its manifest is made, and read back and verified once stored.
  const rescan =
    signer && promotion ? await log.group('Attest the rescan', () => attestRescan(ctx, signer)) : undefined;
  if (signer && !promotion) {
    await log.group('Sign and attest', () => signRelease(ctx, signer));
    await log.group('Attest provenance and VEX', () => attestBuildAndTriage(ctx, signer));
  } else if (!signer)
    log.warning('signing is off: the release is published without Sigstore signatures or attestations');
  const verifying = promotion && verifyingWritten(ctx, rescan?.stored);
  const tags = lines.plan.map((p) => p.tag);
  const tagPlan = lines.decisions.map(({ tag, moves, reason, previous }) => ({
    tag,
    moved: moves,
    reason,
    ...(previous ? { previous } : {}),
  }));
  const offline = offlineBundleSteps(ctx, baseline);
  const started = offline && (await log.group('Offline bundles: images', () => offline.start()));
  const listing = started ? { bundles: bundleListing(started) } : {};
  const written = await log.group('Deployment manifest', () =>
    writeDeploymentManifest(
      ctx,
      tags,
      baseline,
      {
        tagPlan,
        ...(promotion ? { promotedFrom: promotion.record, carried: promotion.carried } : {}),
        ...listing,
      },
      rescan?.stored,
    ),
  );
  const bundles = started
    ? await log.group('Offline bundles: signed sums', () => offline!.finish(started, written))
    : [];
  if (verifying) await log.group('Verify signatures', () => verifying.finish());
  else if (signer && trustMaterial && expectedSigner && signatures.first) {
    const trust = await trustMaterial();
    const expected = expectedSigner(signatures.first);
    await log.group('Verify signatures', () => verifyRelease(ctx, trust, expected));
  }
  if (signer && deps.githubAttestations) {
    const github = deps.githubAttestations;
    await log.group('GitHub artifact attestations', () => storeGitHubAttestations(ctx, github));
  }
  if (stage) {
    const assets = [...releaseAssetList(req.gate, written), ...offlineBundleAssets(req.reportsDir, bundles)];
    await log.group('Release assets (draft)', () => stageReleaseAssets(stage, assets, log));
  }
  const tagged = await log.group('Tag the release', () => writeTags(ctx, lines.plan));
  const releaseUrl = stage
    ? await log.group('Publish the GitHub release', () => publishDraftRelease(stage, log))
    : undefined;
  return {
    indexDigest: index.digest,
    tags: tagged,
    manifestFile: written.file,
    ...(written.bundleFile ? { manifestBundleFile: written.bundleFile } : {}),
    manifestDigest: written.fileDigest,
    manifest: written.manifest,
    signatures: signatures.records,
    ...(releaseUrl ? { releaseUrl } : {}),
    renderedTemplates: written.renderedTemplates,
    offlineBundles: bundles,
  };
}
