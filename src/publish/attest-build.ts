import { normalisePlatform, openVexDocument, OPENVEX_CONTEXT } from '../policy/index.js';
import { indexProvenance, SLSA_PROVENANCE_V1_PREDICATE_TYPE } from '../provenance/slsa.js';
import { attest, type SignerConfig } from '../sign/signer.js';
import { indexSubject, type GatedImage, type PublishContext } from './model.js';

/** The predicate type of the OpenVEX attestation (its @context, as vexctl and Trivy's `--vex oci` read it). */
export const OPENVEX_PREDICATE_TYPE = OPENVEX_CONTEXT;

/**
 * Attests, through the same signing and attaching path as the SBOM and vulnerability attestations: the SLSA
 * provenance of each platform image (made by the job that built it) and of the index (made here), and each
 * platform's OpenVEX document of the findings released with a decision (waivers, `vex` statements).
 */
export async function attestBuildAndTriage(ctx: PublishContext, signer: SignerConfig): Promise<void> {
  const { req, deps, index, signatures } = ctx;
  const name = req.settings.imageName;
  const made = (req.provenance ?? []).filter((p) => ctx.gated.some((g) => g.image.digest === p.digest));
  const sign = (digest: string, type: string, predicate: unknown) =>
    attest(signer, digest, type, predicate, { subjectName: name });
  for (const gated of ctx.gated) {
    const { image } = gated;
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.manifestSize };
    const provenance = made.find((p) => p.digest === image.digest)?.predicate;
    if (provenance)
      await signatures.attach(
        subject,
        image.platform,
        await sign(image.digest, SLSA_PROVENANCE_V1_PREDICATE_TYPE, provenance),
      );
    const vex = platformVex(ctx, gated);
    if (vex)
      await signatures.attach(subject, image.platform, await sign(image.digest, OPENVEX_PREDICATE_TYPE, vex));
    deps.log.info(
      `${image.platform}: ${provenance ? 'provenance' : 'no provenance'}, ${vex ? 'OpenVEX' : 'no decision to state in OpenVEX'}`,
    );
  }
  const run = { imageName: name, invocationId: req.git.workflowRun, finishedOn: deps.now() };
  const ofIndex = indexProvenance(made, run);
  if (ofIndex)
    await signatures.attach(
      indexSubject(index),
      'index',
      await sign(index.digest, SLSA_PROVENANCE_V1_PREDICATE_TYPE, ofIndex),
    );
}

function platformVex(ctx: PublishContext, { image }: GatedImage): Record<string, unknown> | undefined {
  const { req, deps } = ctx;
  const verdict = req.gate.verdict.platforms.find((p) => p.platform === normalisePlatform(image.platform));
  if (!verdict) return undefined;
  return openVexDocument({
    verdict,
    imageName: req.settings.imageName,
    digest: image.digest,
    workflowRun: req.git.workflowRun,
    now: deps.now(),
  });
}
