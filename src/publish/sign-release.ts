import { preferredSbom, vulnerabilityPredicate, COSIGN_VULN_PREDICATE_TYPE } from '../sign/predicates.js';
import type { SignerConfig } from '../sign/signer.js';
import { indexSubject, type GatedImage, type PublishContext } from './model.js';

/**
 * Signs the index, then each platform image, and attests each image's SBOM (SPDX or CycloneDX, when there
 * is one) and its vulnerability scan (Grype's report in cosign's vuln predicate); each is stored, as it is
 * made, in the formats `signature-format` asks for (see ReleaseSignatures).
 */
export async function signRelease(ctx: PublishContext, signer: SignerConfig): Promise<void> {
  const { deps, index, signatures } = ctx;
  await signatures.sign(signer, indexSubject(index), 'index');
  for (const gated of ctx.gated) {
    const { image, scan } = gated;
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.manifestSize };
    await signatures.sign(signer, subject, image.platform);
    const sbom = preferredSbom(scan.sbomFiles);
    if (sbom) {
      const predicate = JSON.parse(await deps.readText(sbom.file)) as unknown;
      await signatures.attest(signer, subject, image.platform, sbom.predicateType, predicate);
    }
    await attestScan(ctx, signer, gated);
    deps.log.info(
      `${image.platform}: signed, SBOM and vulnerability attestations stored (${signatures.format})`,
    );
  }
}

/**
 * Promotion: the index and platform images keep the signatures and SBOM/provenance attestations of the release
 * they come from (verified when it was read); only each platform's fresh scan is attested.
 */
export async function attestRescan(ctx: PublishContext, signer: SignerConfig): Promise<void> {
  for (const gated of ctx.gated) {
    await attestScan(ctx, signer, gated);
    ctx.deps.log.info(`${gated.image.platform}: vulnerability attestation of the rescan stored`);
  }
}

/** The platform's Grype report in cosign's vuln predicate, scan date inside. */
async function attestScan(
  ctx: PublishContext,
  signer: SignerConfig,
  { image, scan }: GatedImage,
): Promise<void> {
  const { req, deps, signatures } = ctx;
  const subject = { mediaType: image.mediaType, digest: image.digest, size: image.manifestSize };
  const vuln = vulnerabilityPredicate({
    reportText: await deps.readText(scan.reportFile),
    grypeVersion: scan.report.grypeVersion,
    dbBuilt: scan.report.dbBuilt,
    workflowRun: req.git.workflowRun,
    scannedAt: deps.now(),
  });
  await signatures.attest(signer, subject, image.platform, COSIGN_VULN_PREDICATE_TYPE, vuln);
}
