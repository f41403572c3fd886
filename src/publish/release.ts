import { createHash } from 'node:crypto';
import path from 'node:path';
import { parsePlatform } from '../image/platform.js';
import type { PlatformImage } from '../image/pushed-image.js';
import { selectPlatformManifest } from '../image/pushed-image.js';
import { checkDowngrade, channelTag, previousVersionFromIndexAnnotations } from '../deployment/baseline.js';
import { platformDeltas } from '../deployment/delta.js';
import {
  buildDeploymentManifest,
  manifestBundleFileName,
  manifestFileName,
  renderDeploymentManifest,
} from '../deployment/manifest.js';
import type { ManifestSbom } from '../deployment/manifest.js';
import type { DeploymentManifest } from '../deployment/manifest.js';
import { renderTemplate, renderedFileName } from '../deployment/templates.js';
import type { GateResult, PlatformScan } from '../scan/scan-platforms.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { Policy } from '../policy/index.js';
import type { RegistryClient } from '../registry/client.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import type { Settings } from '../settings/inputs.js';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  COSIGN_VULN_PREDICATE_TYPE,
  CYCLONEDX_PREDICATE_TYPE,
  IN_TOTO_STATEMENT_V1,
  SPDX_PREDICATE_TYPE,
} from '../sign/cosign-format.js';
import { attachBundle } from '../sign/referrers.js';
import { verifyAttached } from '../sign/referrers.js';
import type { SignerConfig, SignResult } from '../sign/signer.js';
import { attest, signDigest, signStatement } from '../sign/signer.js';
import type { ExpectedSigner, TrustMaterial } from '../sign/verify.js';
import { buildImageIndex } from '../image/image-index.js';
import { pushDeploymentManifest } from './manifest-artifact.js';
import { applyTags, planTags } from './tags.js';

/** The predicate type of Edgeship's deployment manifest attestation. */
export const DEPLOYMENT_PREDICATE_TYPE = 'https://edgeship.dev/deployment-manifest/v1';

export interface PublishRequest {
  settings: Settings;
  policy: Policy;
  release: ReleaseMetadata;
  images: readonly PlatformImage[];
  gate: GateResult;
  git: { ref: string; revision: string; workflowRun: string };
  reportsDir: string;
}

export interface AssetUpload {
  name: string;
  file: string;
  contentType: string;
}

export interface PublishDeps {
  registry: RegistryClient;
  log: PhaseLog;
  /** Undefined when signing is off. */
  signer?: SignerConfig;
  /** Who verification expects, given the first signature made (keyless: its identity and issuer). */
  expectedSigner?: (first: SignResult) => ExpectedSigner;
  /** The trust root bundles are verified against (loaded only when signing). */
  trustMaterial?: () => Promise<TrustMaterial>;
  /** The GitHub Release of the tag; undefined when release assets are off or there is no tag. */
  releaseAssets?: ReleaseAssetsStage;
  readText: (file: string) => Promise<string>;
  writeText: (file: string, text: string | Buffer) => Promise<void>;
  now: () => Date;
}

/**
 * Release assets go up to a draft release before any tag is written; the draft is published only once
 * every tag is in place, and discarded when tagging fails.
 */
export interface ReleaseAssetsStage {
  stage(assets: AssetUpload[]): Promise<{ releaseUrl: string; assets: Array<{ name: string }> }>;
  publish(): Promise<string>;
  discard(): Promise<void>;
}

export interface SignatureRecord {
  subject: string;
  platform: string;
  predicateType: string;
  referrer: string;
}

export interface PublishResult {
  indexDigest: string;
  tags: string[];
  manifestFile: string;
  manifestBundleFile?: string;
  /** sha256 of the deployment manifest file. */
  manifestDigest: string;
  manifest: DeploymentManifest;
  signatures: SignatureRecord[];
  releaseUrl?: string;
  renderedTemplates: string[];
}

export class PublishError extends Error {
  override name = 'PublishError';
}

interface Baseline {
  version: string;
  index: string;
  layersByPlatform: Map<
    string,
    { digest: string; layers: Array<{ digest: string; size: number }>; configDigest: string }
  >;
}

/**
 * Publishes a gated release. Everything that can fail is done before the first tag is written: the
 * index and every signature go in by digest, bundles are verified, the deployment manifest is signed,
 * release assets are uploaded. Then the tags move (release tags last) and are read back.
 */
export async function publishRelease(req: PublishRequest, deps: PublishDeps): Promise<PublishResult> {
  const { settings, release, images } = req;
  if (!req.gate.verdict.pass) throw new PublishError('the gate did not pass: nothing is published');
  for (const image of images) scanFor(req.gate, image.platform);
  const repo = settings.image.path;
  const name = settings.imageName;

  const index = buildImageIndex(images, release.annotations);
  const channel = channelTag(release.channel);
  const tagList = [
    // A released version is never moved silently; pr-N, branch and other tags move with every push.
    ...release.tags.map((tag) => ({
      tag,
      protected: tag === release.version && (release.kind === 'release' || release.kind === 'prerelease'),
    })),
    ...(channel ? [{ tag: channel, protected: false }] : []),
  ];
  // Refusals come before anything is written: a release tag that would move, then a downgrade.
  const plan = await planTags(deps.registry, repo, name, tagList, index.digest, settings.publish.overwrite);
  const baseline = await deps.log.group('Read the channel baseline', () => readBaseline(req, deps));
  await deps.log.group('Push the index', async () => {
    await deps.registry.putManifest(repo, index.digest, index.body, index.mediaType);
    deps.log.info(`pushed ${name}@${index.digest} (${images.length} platforms, no tag yet)`);
  });

  const signatures: SignatureRecord[] = [];
  let firstSignature: SignResult | undefined;
  const attach = async (
    digest: string,
    mediaType: string,
    size: number,
    platform: string,
    result: SignResult,
  ) => {
    firstSignature ??= result;
    const attached = await attachBundle(
      deps.registry,
      repo,
      { mediaType, digest, size },
      result.bundle,
      result.predicateType,
      deps.now(),
    );
    signatures.push({
      subject: digest,
      platform,
      predicateType: result.predicateType,
      referrer: attached.referrer.digest,
    });
  };

  if (deps.signer) {
    const signer = deps.signer;
    await deps.log.group('Sign and attest', async () => {
      await attach(
        index.digest,
        index.mediaType,
        index.body.length,
        'index',
        await signDigest(signer, index.digest),
      );
      for (const image of images) {
        await attach(
          image.digest,
          image.mediaType,
          image.manifestSize,
          image.platform,
          await signDigest(signer, image.digest),
        );
        const scan = scanFor(req.gate, image.platform);
        const sbom = preferredSbom(scan);
        if (sbom) {
          const predicate = JSON.parse(await deps.readText(sbom.file)) as unknown;
          await attach(
            image.digest,
            image.mediaType,
            image.manifestSize,
            image.platform,
            await attest(signer, image.digest, sbom.predicateType, predicate),
          );
        }
        const vuln = vulnerabilityPredicate(scan, await deps.readText(scan.reportFile), req, deps.now());
        await attach(
          image.digest,
          image.mediaType,
          image.manifestSize,
          image.platform,
          await attest(signer, image.digest, COSIGN_VULN_PREDICATE_TYPE, vuln),
        );
        deps.log.info(`${image.platform}: signed, SBOM and vulnerability attestations attached`);
      }
    });
  } else {
    deps.log.warning('signing is off: the release is published without Sigstore signatures or attestations');
  }

  // Deployment manifest and rendered templates.
  const rendered = await deps.log.group('Deployment manifest', async () => {
    const renderedTemplates: string[] = [];
    for (const template of settings.publish.deployTemplates) {
      const out = renderTemplate(await deps.readText(template), {
        repository: name,
        indexDigest: index.digest,
        tags: release.tags,
      });
      const file = path.join(req.reportsDir, renderedFileName(path.basename(template)));
      await deps.writeText(file, out.text);
      renderedTemplates.push(file);
      deps.log.info(
        `${path.basename(template)}: pinned ${out.replaced} reference(s) to ${name}@${index.digest}`,
      );
      if (out.replaced === 0)
        deps.log.warning(`${path.basename(template)} does not reference ${name}; it is published unchanged`);
    }
    const deltas = platformDeltas(
      images.map((i) => ({
        platform: i.platform,
        layers: i.layers,
        configDigest: i.configDigest,
        configSize: i.size - i.layers.reduce((s, l) => s + l.size, 0),
      })),
      baseline?.layersByPlatform ?? new Map(),
    );
    const manifest = buildDeploymentManifest({
      release,
      git: req.git,
      created: deps.now(),
      repository: name,
      index: { digest: index.digest, mediaType: index.mediaType, size: index.body.length },
      tags: plan.map((p) => p.tag),
      images,
      sboms: manifestSboms(req.gate, signatures),
      verdict: req.gate.verdict,
      policy: req.policy,
      deltas,
      baseline: baseline
        ? {
            channel: release.channel,
            version: baseline.version,
            index: baseline.index,
            platforms: baseline.layersByPlatform,
          }
        : null,
      signatures: {
        mode: settings.publish.signing === 'off' ? 'none' : settings.publish.signing,
        ...(firstSignature?.identity ? { identity: firstSignature.identity } : {}),
        ...(firstSignature?.issuer ? { issuer: firstSignature.issuer } : {}),
        bundles: signatures.map((s) => ({
          subject: s.subject,
          predicateType: s.predicateType,
          referrer: s.referrer,
        })),
      },
    });
    const text = renderDeploymentManifest(manifest);
    const file = path.join(req.reportsDir, manifestFileName(release.version));
    await deps.writeText(file, text);
    const fileDigest = `sha256:${createHash('sha256').update(text).digest('hex')}`;
    let bundleFile: string | undefined;
    let bundleBody: Buffer | undefined;
    if (deps.signer) {
      // One statement names both the file (cosign verify-blob-attestation) and the index (the referrer).
      const statement = Buffer.from(
        JSON.stringify({
          _type: IN_TOTO_STATEMENT_V1,
          subject: [
            { name: path.basename(file), digest: { sha256: fileDigest.slice(7) } },
            { name, digest: { sha256: index.digest.slice(7) } },
          ],
          predicateType: DEPLOYMENT_PREDICATE_TYPE,
          predicate: manifest,
        }),
      );
      const signed = await signStatement(deps.signer, statement, DEPLOYMENT_PREDICATE_TYPE);
      bundleFile = path.join(req.reportsDir, manifestBundleFileName(release.version));
      bundleBody = signed.bundle;
      await deps.writeText(bundleFile, signed.bundle);
      await attach(index.digest, index.mediaType, index.body.length, 'index', signed);
    }
    const pushed = await pushDeploymentManifest(
      deps.registry,
      repo,
      { mediaType: index.mediaType, digest: index.digest, size: index.body.length },
      {
        yamlFile: file,
        yaml: Buffer.from(text),
        ...(bundleFile && bundleBody ? { bundleFile, bundle: bundleBody } : {}),
      },
      deps.now(),
    );
    deps.log.info(
      `wrote ${file} (${fileDigest})${bundleFile ? ` and its bundle ${path.basename(bundleFile)}` : ''}; ` +
        `pushed as artifact ${name}@${pushed.referrer.digest} referring to the index`,
    );
    return { manifest, file, fileDigest, bundleFile, renderedTemplates };
  });

  if (deps.signer && deps.trustMaterial && deps.expectedSigner && firstSignature) {
    const trust = await deps.trustMaterial();
    const expected = deps.expectedSigner(firstSignature);
    await deps.log.group('Verify signatures', async () => {
      const indexCheck = await verifyAttached(deps.registry, repo, index.digest, trust, expected, {
        requiredPredicateTypes: [COSIGN_SIGN_PREDICATE_TYPE, DEPLOYMENT_PREDICATE_TYPE],
      });
      deps.log.info(`index: ${indexCheck.verified.length} bundle(s) verified`);
      for (const image of images) {
        const required = [COSIGN_SIGN_PREDICATE_TYPE, COSIGN_VULN_PREDICATE_TYPE];
        const sbom = preferredSbom(scanFor(req.gate, image.platform));
        if (sbom) required.push(sbom.predicateType);
        const check = await verifyAttached(deps.registry, repo, image.digest, trust, expected, {
          requiredPredicateTypes: required,
        });
        deps.log.info(`${image.platform}: ${check.verified.length} bundle(s) verified`);
      }
    });
  }

  const stage = deps.releaseAssets;
  if (stage) {
    await deps.log.group('Release assets (draft)', async () => {
      const done = await stage.stage(releaseAssetList(req, rendered));
      deps.log.info(
        `uploaded ${done.assets.length} asset(s) to ${done.releaseUrl}; published once the tags are written`,
      );
    });
  }

  let tags: string[];
  try {
    tags = await deps.log.group('Tag the release', async () => {
      const written = await applyTags(
        deps.registry,
        repo,
        plan,
        index,
        async (digest) => {
          const previous = await deps.registry.getManifest(repo, digest);
          return { body: previous.body, mediaType: previous.mediaType };
        },
        deps.log,
      );
      for (const tag of written) {
        const now = await deps.registry.headManifest(repo, tag);
        if (now?.digest !== index.digest) {
          throw new PublishError(
            `${name}:${tag} resolves to ${now?.digest ?? 'nothing'} after tagging, not to ${index.digest}`,
          );
        }
      }
      deps.log.info(`${written.map((t) => `${name}:${t}`).join(', ')} → ${index.digest}`);
      return written;
    });
  } catch (error) {
    if (stage) await stage.discard();
    throw error;
  }

  let releaseUrl: string | undefined;
  if (stage) {
    releaseUrl = await deps.log.group('Publish the GitHub release', async () => {
      const url = await stage.publish();
      deps.log.info(`published ${url}`);
      return url;
    });
  }

  return {
    indexDigest: index.digest,
    tags,
    manifestFile: rendered.file,
    ...(rendered.bundleFile ? { manifestBundleFile: rendered.bundleFile } : {}),
    manifestDigest: rendered.fileDigest,
    manifest: rendered.manifest,
    signatures,
    ...(releaseUrl ? { releaseUrl } : {}),
    renderedTemplates: rendered.renderedTemplates,
  };
}

async function readBaseline(req: PublishRequest, deps: PublishDeps): Promise<Baseline | undefined> {
  const tag = channelTag(req.release.channel);
  const repo = req.settings.image.path;
  if (!tag) {
    deps.log.info(`channel ${req.release.channel} keeps no baseline`);
    return undefined;
  }
  const head = await deps.registry.headManifest(repo, tag);
  if (!head) {
    deps.log.info(`no ${tag} baseline yet: this is the first ${tag} release, every layer counts as new`);
    return undefined;
  }
  const previous = await deps.registry.getManifest(repo, head.digest);
  const annotations = ((previous.json as { annotations?: Record<string, string> }).annotations ??
    {}) as Record<string, string>;
  const version = previousVersionFromIndexAnnotations(annotations) ?? '';
  // A baseline exists: '' (no version annotation) makes the guard skip with a warning.
  const guard = checkDowngrade(
    req.release.version,
    version,
    req.release.channel,
    req.settings.publish.allowDowngrade,
  );
  if (!guard.ok) throw new PublishError(guard.message);
  if (guard.warning) deps.log.warning(guard.warning);
  const layersByPlatform: Baseline['layersByPlatform'] = new Map();
  for (const image of req.images) {
    try {
      const entry = selectPlatformManifest(previous.json, parsePlatform(image.platform));
      const manifest = (await deps.registry.getManifest(repo, entry.digest)).json as {
        config: { digest: string };
        layers: Array<{ digest: string; size: number }>;
      };
      layersByPlatform.set(image.platform, {
        digest: entry.digest,
        layers: manifest.layers,
        configDigest: manifest.config.digest,
      });
    } catch {
      deps.log.info(
        `${image.platform} is not in the ${tag} baseline ${version}: its whole image counts as new`,
      );
    }
  }
  deps.log.info(`baseline ${tag} = ${version || '(unversioned)'} ${head.digest}`);
  return { version, index: head.digest, layersByPlatform };
}

/** The SBOM entry of each platform for the manifest, with the referrer of its attestation when signed. */
function manifestSboms(gate: GateResult, signatures: readonly SignatureRecord[]): Map<string, ManifestSbom> {
  const map = new Map<string, ManifestSbom>();
  for (const scan of gate.scans) {
    const sbom = scan.sbomFiles[0]!;
    const preferred = preferredSbom(scan);
    const attestation = preferred
      ? signatures.find((s) => s.platform === scan.platform && s.predicateType === preferred.predicateType)
      : undefined;
    map.set(scan.platform, {
      format: sbom.format,
      file: path.basename(preferred?.file ?? sbom.file),
      packages: scan.packages,
      ...(attestation ? { attestation: { referrer: attestation.referrer } } : {}),
    });
  }
  return map;
}

function scanFor(gate: GateResult, platform: string): PlatformScan {
  const scan = gate.scans.find((s) => s.platform === platform);
  if (!scan) throw new PublishError(`no scan of ${platform}: it was not gated, so it cannot be published`);
  return scan;
}

/** The SBOM attested on the image: SPDX (cosign's `spdxjson`) or CycloneDX, in the order asked for. */
function preferredSbom(scan: PlatformScan): { file: string; predicateType: string } | undefined {
  for (const sbom of scan.sbomFiles) {
    if (sbom.format === 'spdx-json') return { file: sbom.file, predicateType: SPDX_PREDICATE_TYPE };
    if (sbom.format === 'cyclonedx-json') return { file: sbom.file, predicateType: CYCLONEDX_PREDICATE_TYPE };
  }
  return undefined;
}

/** cosign's vulnerability predicate (attestation/vuln/v1) carrying Grype's JSON report. */
function vulnerabilityPredicate(
  scan: PlatformScan,
  reportText: string,
  req: PublishRequest,
  now: Date,
): unknown {
  return {
    invocation: {
      parameters: [],
      uri: req.git.workflowRun ?? '',
      event_id: '',
      'builder.id': 'https://github.com/edgeship/edgeship',
    },
    scanner: {
      uri: 'pkg:github/anchore/grype',
      version: scan.report.grypeVersion ?? 'unknown',
      db: { uri: 'https://grype.anchore.io/databases', version: scan.report.dbBuilt ?? 'unknown' },
      result: JSON.parse(reportText) as unknown,
    },
    metadata: { scanStartedOn: now.toISOString(), scanFinishedOn: now.toISOString() },
  };
}

function releaseAssetList(
  req: PublishRequest,
  rendered: { file: string; bundleFile?: string | undefined; renderedTemplates: string[] },
): AssetUpload[] {
  const assets: AssetUpload[] = [
    { name: path.basename(rendered.file), file: rendered.file, contentType: 'application/yaml' },
  ];
  if (rendered.bundleFile) {
    assets.push({
      name: path.basename(rendered.bundleFile),
      file: rendered.bundleFile,
      contentType: 'application/json',
    });
  }
  for (const scan of req.gate.scans) {
    for (const sbom of scan.sbomFiles)
      assets.push({ name: path.basename(sbom.file), file: sbom.file, contentType: 'application/json' });
    assets.push({
      name: path.basename(scan.sarifFile),
      file: scan.sarifFile,
      contentType: 'application/json',
    });
  }
  for (const file of rendered.renderedTemplates)
    assets.push({ name: path.basename(file), file, contentType: 'application/yaml' });
  return assets;
}
