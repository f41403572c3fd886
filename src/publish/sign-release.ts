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
 * signed at once (each a Rekor and timestamp round trip) and recorded; their storing (each its own referrer and
 * `.att` tag) is returned, to go on while the deployment manifest that lists them is made.
 */
export async function attestRescan(
  ctx: PublishContext,
  signer: SignerConfig,
): Promise<{ stored: Promise<void> }> {
  const signed = await Promise.all(
    ctx.gated.map(async (gated) => {
      const predicate = await scanPredicate(ctx, gated);
      return {
        image: gated.image,
        signed: await attest(signer, gated.image.digest, COSIGN_VULN_PREDICATE_TYPE, predicate),
      };
    }),
  );
  const stored = Promise.all(
    signed.map(({ image, signed }) =>
      ctx.signatures.attach(imageSubject(image), image.platform, signed, { prepared: true }),
    ),
  ).then(() => undefined);
  stored.catch(() => undefined); // raised where it is awaited, before anything that lists it is written
  for (const { image } of signed)
    ctx.deps.log.info(`${image.platform}: vulnerability attestation of the rescan signed, being stored`);
  return { stored };
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
