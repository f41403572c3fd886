import path from 'node:path';
import type { Baseline } from '../deployment/baseline.js';
import { platformDeltas } from '../deployment/delta.js';
import {
  buildDeploymentManifest,
  manifestBundleFileName,
  manifestFileName,
  renderDeploymentManifest,
  type DeploymentManifest,
  type ManifestBundle,
  type ManifestClassicSignature,
  type ManifestOfflineBundle,
  type ManifestPromotion,
  type ManifestSbom,
  type ManifestTagDecision,
} from '../deployment/manifest.js';
import { renderTemplate, renderedFileName } from '../deployment/templates.js';
import type { PlatformImage } from '../image/pushed-image.js';
import type { CarriedSignatures } from '../lifecycle/carried-signatures.js';
import { digestOf } from '../registry/digest.js';
import type { GateResult } from '../policy/decide.js';
import { DEPLOYMENT_PREDICATE_TYPE, preferredSbom } from '../sign/predicates.js';
import { signStatement, type SignResult } from '../sign/signer.js';
import { deploymentManifestStatement } from '../sign/statements.js';
import { pushDeploymentManifest } from './manifest-artifact.js';
import { indexSubject, type PublishContext } from './model.js';
import type { SignatureRecord } from './signatures.js';

/** The deployment manifest as written, and the templates rendered beside it. */
export interface WrittenManifest {
  manifest: DeploymentManifest;
  file: string;
  /** sha256 of the file. */
  fileDigest: string;
  /** The Sigstore bundle that signs it; undefined when signing is off. */
  bundleFile: string | undefined;
  renderedTemplates: string[];
}

/** What a publish records in its deployment manifest beyond the release itself. */
export interface ManifestRecord {
  tagPlan?: readonly ManifestTagDecision[];
  promotedFrom?: ManifestPromotion;
  /** A promotion: the source's signatures the promoted digests keep, listed beside this run's. */
  carried?: CarriedSignatures;
  bundles?: ReadonlyMap<string, readonly ManifestOfflineBundle[]>;
}

/**
 * Renders the deployment templates pinned to the index, builds the deployment manifest (deltas against the
 * channel baseline, SBOMs, the gate's verdict, the bundles attached so far), writes it, signs it (one
 * statement naming the file and the index, attached to the index) and pushes it as an OCI artifact
 * referring to the index.
 */
export async function writeDeploymentManifest(
  ctx: PublishContext,
  tags: readonly string[],
  baseline: Baseline | undefined,
  record: ManifestRecord = {},
  /** Signatures the manifest lists that are still being stored: the manifest is made meanwhile, written after. */
  storing?: Promise<void>,
): Promise<WrittenManifest> {
  const { req, deps, index, signatures } = ctx;
  const { settings, release } = req;
  const name = settings.imageName;
  const renderedTemplates = await renderTemplates(ctx);
  const manifest = assembleManifest(ctx, tags, baseline, record);
  const text = renderDeploymentManifest(manifest);
  const file = path.join(req.reportsDir, manifestFileName(release.version));
  await deps.writeText(file, text);
  const yaml = Buffer.from(text);
  const fileDigest = digestOf(yaml);
  const { signed, bundle } = await signManifestFile(ctx, manifest, { file, fileDigest });
  if (storing && signed) {
    // What storing it needs goes up (its blobs) or is read (the tags it adds to) while the signatures it lists
    // are still being stored; nothing that lists them is written before they are.
    await Promise.all([
      signatures.prepareAttach(indexSubject(index), signed),
      ctx.referrers.client.uploadBlob(settings.image.path, yaml, fileDigest, { knownMissing: true }),
    ]);
  }
  await storing;
  if (signed) await signatures.attach(indexSubject(index), 'index', signed);
  const pushed = await pushDeploymentManifest(
    ctx.referrers,
    settings.image.path,
    indexSubject(index),
    { yamlFile: file, yaml, ...(bundle ? { bundleFile: bundle.file, bundle: bundle.body } : {}) },
    deps.now(),
  );
  deps.log.info(
    `wrote ${file} (${fileDigest})${bundle ? ` and its bundle ${path.basename(bundle.file)}` : ''}; ` +
      `pushed as artifact ${name}@${pushed.referrer.digest} referring to the index`,
  );
  return { manifest, file, fileDigest, bundleFile: bundle?.file, renderedTemplates };
}

/** The deployment manifest of this publish: deltas against the baseline, SBOMs, verdict, signatures listed. */
function assembleManifest(
  ctx: PublishContext,
  tags: readonly string[],
  baseline: Baseline | undefined,
  record: ManifestRecord,
): DeploymentManifest {
  const { req, deps, index, signatures } = ctx;
  const { settings, release, images } = req;
  const deltas = platformDeltas(
    images.map((i) => ({
      platform: i.platform,
      layers: i.layers,
      configDigest: i.configDigest,
      configSize: i.size - i.layers.reduce((s, l) => s + l.size, 0),
    })),
    baseline?.layersByPlatform ?? new Map(),
  );
  const first = signatures.first;
  const { carried, ...recorded } = record;
  const listed = signatureListings(signatures.records, carried);
  return buildDeploymentManifest({
    release,
    git: req.git,
    created: deps.now(),
    repository: settings.imageName,
    index: indexSubject(index),
    tags,
    images,
    sboms: manifestSboms(req.gate, images, listed.bundles),
    verdict: req.gate.verdict,
    policy: req.policy,
    deltas,
    ...(record.bundles ? { bundles: record.bundles } : {}),
    ...(settings.publish.deviceRun ? { run: settings.publish.deviceRun } : {}),
    baseline: baseline
      ? {
          channel: release.channel,
          version: baseline.version,
          index: baseline.index,
          platforms: baseline.layersByPlatform,
        }
      : null,
    ...recorded,
    signatures: {
      mode: settings.publish.signing === 'off' ? 'none' : settings.publish.signing,
      ...(first?.identity ? { identity: first.identity } : {}),
      ...(first?.issuer ? { issuer: first.issuer } : {}),
      bundles: listed.bundles,
      ...(settings.publish.signing === 'off'
        ? {}
        : {
            format: signatures.format,
            ...(signatures.storesClassic || listed.classic.length > 0 ? { classic: listed.classic } : {}),
          }),
    },
  });
}

/**
 * Signs the written manifest file (one statement naming the file and the index) and writes its bundle beside it;
 * nothing when signing is off.
 */
async function signManifestFile(
  { req, deps, index }: PublishContext,
  manifest: DeploymentManifest,
  written: { file: string; fileDigest: string },
): Promise<{ signed?: SignResult; bundle?: { file: string; body: Buffer } }> {
  if (!deps.signer) return {};
  const statement = deploymentManifestStatement(
    {
      file: { name: path.basename(written.file), digest: written.fileDigest },
      index: { name: req.settings.imageName, digest: index.digest },
    },
    manifest,
  );
  const signed = await signStatement(deps.signer, statement, DEPLOYMENT_PREDICATE_TYPE);
  const bundle = {
    file: path.join(req.reportsDir, manifestBundleFileName(req.release.version)),
    body: signed.bundle,
  };
  await deps.writeText(bundle.file, signed.bundle);
  return { signed, bundle };
}

/** Renders each deployment template with the release's references pinned to the index digest. */
export async function renderTemplates({ req, deps, index }: PublishContext): Promise<string[]> {
  const name = req.settings.imageName;
  const rendered: string[] = [];
  for (const template of req.settings.publish.deployTemplates) {
    const out = renderTemplate(await deps.readText(template), {
      repository: name,
      indexDigest: index.digest,
      tags: req.release.tags,
    });
    const file = path.join(req.reportsDir, renderedFileName(path.basename(template)));
    await deps.writeText(file, out.text);
    rendered.push(file);
    deps.log.info(
      `${path.basename(template)}: pinned ${out.replaced} reference(s) to ${name}@${index.digest}`,
    );
    if (out.replaced === 0)
      deps.log.warning(`${path.basename(template)} does not reference ${name}; it is published unchanged`);
  }
  return rendered;
}

/**
 * The bundles and classic signatures of the manifest: this run's, then those a promotion carries over (each once;
 * a classic tag holds several layers, listed once per subject and predicate type).
 */
export function signatureListings(
  records: readonly SignatureRecord[],
  carried?: CarriedSignatures,
): { bundles: ManifestBundle[]; classic: ManifestClassicSignature[] } {
  const bundles = new Map<string, ManifestBundle>();
  const classic = new Map<string, ManifestClassicSignature>();
  for (const s of records) {
    if (s.format === 'bundle')
      bundles.set(s.referrer, { subject: s.subject, predicateType: s.predicateType, referrer: s.referrer });
    else
      classic.set(`${s.subject} ${s.predicateType} ${s.tag}`, {
        subject: s.subject,
        predicateType: s.predicateType,
        tag: s.tag,
      });
  }
  for (const b of carried?.bundles ?? []) if (!bundles.has(b.referrer)) bundles.set(b.referrer, { ...b });
  for (const c of carried?.classic ?? []) {
    const key = `${c.subject} ${c.predicateType} ${c.tag}`;
    if (!classic.has(key)) classic.set(key, { ...c });
  }
  return { bundles: [...bundles.values()], classic: [...classic.values()] };
}

/** The SBOM entry of each platform for the manifest, with the referrer of its attestation when signed. */
function manifestSboms(
  gate: GateResult,
  images: readonly PlatformImage[],
  bundles: readonly ManifestBundle[],
): Map<string, ManifestSbom> {
  const map = new Map<string, ManifestSbom>();
  for (const scan of gate.scans) {
    const sbom = scan.sbomFiles[0]!;
    const preferred = preferredSbom(scan.sbomFiles);
    const digest = images.find((i) => i.platform === scan.platform)?.digest;
    const attestation = preferred
      ? bundles.find((b) => b.subject === digest && b.predicateType === preferred.predicateType)
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
