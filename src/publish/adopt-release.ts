/**
 * Idempotent re-runs. A re-run of a commit whose release tag already points at an index built from that
 * commit, signed by the expected signer and carrying its deployment manifest, adopts that release instead
 * of refusing it: the missing tags are pointed at the existing index, the release assets and the GitHub
 * release are completed, and nothing is pushed or signed anew. Any other release tag conflict is refused.
 */
import path from 'node:path';
import { parseDeploymentManifest } from '../deployment/manifest.js';
import type { BuiltIndex } from '../image/image-index.js';
import { digestOf } from '../registry/digest.js';
import { readDeploymentManifests } from '../lifecycle/read-release.js';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  COSIGN_VULN_PREDICATE_TYPE,
  DEPLOYMENT_PREDICATE_TYPE,
} from '../sign/predicates.js';
import { verifySignedDigest } from './verify-release.js';
import type { ExpectedSigner } from '../sign/verify.js';
import { renderTemplates } from './deployment-manifest.js';
import type { PublishContext, PublishResult, TagPlanEntry } from './model.js';
import { publishDraftRelease, releaseAssetList, stageReleaseAssets } from './release-assets.js';
import { assertNoTagConflict, readTagPlan, TagConflictError } from './tags.js';
import { writeTags } from './write-tags.js';

const REVISION = 'org.opencontainers.image.revision';
const SOURCE = 'org.opencontainers.image.source';

/** A published release of this commit found under the release tag. */
export interface AdoptableRelease {
  index: BuiltIndex;
  files: Array<{ name: string; body: Buffer }>;
}

/**
 * Plans the tags (readTagPlan, then the conflict guard). When the release tag points at another index, that index is adopted if
 * it is this commit's complete, signed release; otherwise the conflict is refused, saying why it was not
 * adopted. Runs before anything is pushed.
 */
export async function planOrAdopt(
  ctx: PublishContext,
  tags: ReadonlyArray<{ tag: string; protected: boolean }>,
): Promise<{ plan: TagPlanEntry[]; adopt?: AdoptableRelease }> {
  const { req, deps, index } = ctx;
  const { settings } = req;
  const plan = await readTagPlan(deps.registry, settings.image.path, tags);
  try {
    if (!settings.publish.overwrite) assertNoTagConflict(plan, settings.imageName, index.digest);
    return { plan };
  } catch (error) {
    if (!(error instanceof TagConflictError)) throw error;
    const release = plan.find((p) => p.protected && p.previous && p.previous !== index.digest)!;
    const found = await adoptable(ctx, release.previous!).catch((e: unknown) =>
      e instanceof Error ? e.message : String(e),
    );
    if (typeof found === 'string') {
      throw new TagConflictError(`${error.message}\nIt is not adopted as this commit's release: ${found}.`, {
        cause: error,
      });
    }
    deps.log.info(
      `${settings.imageName}:${release.tag} is this commit's signed release ${found.index.digest}: adopting it`,
    );
    return { plan, adopt: found };
  }
}

/** The release under `digest` when it is this commit's, signed and with its deployment manifest; else why not. */
async function adoptable(ctx: PublishContext, digest: string): Promise<AdoptableRelease | string> {
  const { req, deps } = ctx;
  const { registry } = deps;
  const repository = req.settings.image.path;
  const fetched = await registry.getManifest(repository, digest);
  const document = JSON.parse(fetched.body.toString('utf8')) as {
    annotations?: Record<string, string>;
    manifests?: Array<{ digest: string }>;
  };
  const revision = document.annotations?.[REVISION];
  if (revision !== req.git.revision)
    return `it was built from commit ${revision ?? '(none recorded)'}, not ${req.git.revision}`;
  const source = req.release.annotations[SOURCE];
  if (source && document.annotations?.[SOURCE] !== source)
    return `its source is ${document.annotations?.[SOURCE] ?? '(none recorded)'}, not ${source}`;
  const { signer, trustMaterial, expectedSigner } = deps;
  if (!signer || !trustMaterial || !expectedSigner)
    return 'signing is off, so its signatures cannot be checked';
  const trust = await trustMaterial();
  let expected: ExpectedSigner;
  try {
    expected = expectedSigner({ bundle: Buffer.alloc(0), predicateType: '', ...deps.workflowIdentity });
  } catch {
    return 'the signer it must be signed by is not known before signing (set certificate-identity and certificate-oidc-issuer)';
  }
  const where = { registry, repository, dockerReference: req.settings.imageName };
  const format = req.settings.publish.signatureFormat;
  const onIndex = [COSIGN_SIGN_PREDICATE_TYPE, DEPLOYMENT_PREDICATE_TYPE];
  await verifySignedDigest(where, format, digest, trust, expected, onIndex);
  for (const image of document.manifests ?? []) {
    const onImage = [COSIGN_SIGN_PREDICATE_TYPE, COSIGN_VULN_PREDICATE_TYPE];
    await verifySignedDigest(where, format, image.digest, trust, expected, onImage);
  }
  // An index promoted later carries a manifest per release it was published as: this version's, the newest.
  const manifests = await readDeploymentManifests(
    registry,
    { path: repository, name: req.settings.imageName },
    digest,
  );
  if (manifests.length === 0) return 'it has no deployment manifest artifact';
  const version = req.release.version;
  const own = manifests.find((m) => m.manifest.release.version === version);
  if (!own)
    return `none of its ${manifests.length} deployment manifest(s) is of version ${version} (${manifests.map((m) => m.manifest.release.version).join(', ')})`;
  const files = [
    { name: own.file.name, body: await own.file.read() },
    ...(own.bundle ? [{ name: own.bundle.name, body: own.bundle.body }] : []),
  ];
  return { index: { body: fetched.body, mediaType: fetched.mediaType, digest }, files };
}

/**
 * Completes an adopted release: its deployment manifest (and bundle) and the templates pinned to it are
 * written to the reports, the release assets staged, the missing tags written and read back, the GitHub
 * release published. Nothing is pushed by digest or signed.
 */
export async function adoptRelease(
  ctx: PublishContext,
  plan: readonly TagPlanEntry[],
  adopted: AdoptableRelease,
): Promise<PublishResult> {
  const { req, deps } = ctx;
  const { log, releaseAssets: stage } = deps;
  const adoptedCtx: PublishContext = { ...ctx, index: adopted.index };
  const written = await log.group('Adopt the release', async () => {
    const files: string[] = [];
    for (const file of adopted.files) {
      files.push(path.join(req.reportsDir, file.name));
      await deps.writeText(files.at(-1)!, file.body);
    }
    const yaml = adopted.files[0]!.body;
    return {
      file: files[0]!,
      bundleFile: files[1],
      fileDigest: digestOf(yaml),
      manifest: parseDeploymentManifest(yaml.toString('utf8'), files[0]),
      renderedTemplates: await renderTemplates(adoptedCtx),
    };
  });
  if (stage) {
    const assets = releaseAssetList(req.gate, written);
    await log.group('Release assets (draft)', () => stageReleaseAssets(stage, assets, log));
  }
  const missing = plan.filter((p) => p.previous !== adopted.index.digest);
  await log.group('Tag the release', () => writeTags(adoptedCtx, missing));
  const releaseUrl = stage
    ? await log.group('Publish the GitHub release', () => publishDraftRelease(stage, log))
    : undefined;
  log.info(
    `adopted ${req.settings.imageName}@${adopted.index.digest} (this commit's signed release): ` +
      `completed ${missing.length ? `tags ${missing.map((p) => p.tag).join(', ')}` : 'no tag (all were in place)'}` +
      `${releaseUrl ? ` and the GitHub release ${releaseUrl}` : ''}; nothing was pushed or signed anew`,
  );
  return {
    indexDigest: adopted.index.digest,
    tags: plan.map((p) => p.tag),
    manifestFile: written.file,
    ...(written.bundleFile ? { manifestBundleFile: written.bundleFile } : {}),
    manifestDigest: written.fileDigest,
    manifest: written.manifest,
    signatures: [],
    ...(releaseUrl ? { releaseUrl } : {}),
    renderedTemplates: written.renderedTemplates,
  };
}
