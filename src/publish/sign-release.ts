import { preferredSbom, vulnerabilityPredicate, COSIGN_VULN_PREDICATE_TYPE } from '../sign/predicates.js';
import { attest, type SignerConfig } from '../sign/signer.js';
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
 * they come from (verified when it was read); only each platform's fresh scan is attested. The platforms are
 * signed and stored at once (each a Fulcio, Rekor and timestamp round trip, then its own referrer and `.att` tag).
 */
export async function attestRescan(ctx: PublishContext, signer: SignerConfig): Promise<void> {
  const stored = await Promise.all(
    ctx.gated.map(async (gated) => {
      const { image } = gated;
      const predicate = await scanPredicate(ctx, gated);
      const signed = await attest(signer, image.digest, COSIGN_VULN_PREDICATE_TYPE, predicate);
      await ctx.signatures.attach(imageSubject(image), image.platform, signed);
      return image.platform;
    }),
  );
  for (const platform of stored)
    ctx.deps.log.info(`${platform}: vulnerability attestation of the rescan stored`);
}

/** The platform's Grype report in cosign's vuln predicate, scan date inside. */
async function attestScan(ctx: PublishContext, signer: SignerConfig, gated: GatedImage): Promise<void> {
  const { image } = gated;
  const vuln = await scanPredicate(ctx, gated);
  await ctx.signatures.attest(signer, imageSubject(image), image.platform, COSIGN_VULN_PREDICATE_TYPE, vuln);
}

async function scanPredicate({ req, deps }: PublishContext, { scan }: GatedImage): Promise<unknown> {
  return vulnerabilityPredicate({
    reportText: await deps.readText(scan.reportFile),
    grypeVersion: scan.report.grypeVersion,
    dbBuilt: scan.report.dbBuilt,
    dbSource: scan.report.dbSource,
    workflowRun: req.git.workflowRun,
    scannedAt: deps.now(),
  });
}

function imageSubject(image: GatedImage['image']) {
  return { mediaType: image.mediaType, digest: image.digest, size: image.manifestSize };
}
