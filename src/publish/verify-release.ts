import { verifyAttached } from '../sign/bundle-referrers.js';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  COSIGN_VULN_PREDICATE_TYPE,
  DEPLOYMENT_PREDICATE_TYPE,
  preferredSbom,
} from '../sign/predicates.js';
import type { ExpectedSigner, TrustMaterial } from '../sign/verify.js';
import type { PublishContext } from './model.js';

/**
 * Reads back every bundle attached to the index and to each platform image and verifies them against the
 * trust root and the expected signer: the index must carry its signature and the deployment manifest
 * attestation, each image its signature, its vulnerability attestation and its SBOM attestation.
 */
export async function verifyRelease(
  { req, deps, index, gated }: PublishContext,
  trust: TrustMaterial,
  expected: ExpectedSigner,
): Promise<void> {
  const repository = req.settings.image.path;
  const indexCheck = await verifyAttached(deps.registry, repository, index.digest, trust, expected, {
    requiredPredicateTypes: [COSIGN_SIGN_PREDICATE_TYPE, DEPLOYMENT_PREDICATE_TYPE],
  });
  deps.log.info(`index: ${indexCheck.verified.length} bundle(s) verified`);
  for (const { image, scan } of gated) {
    const required = [COSIGN_SIGN_PREDICATE_TYPE, COSIGN_VULN_PREDICATE_TYPE];
    const sbom = preferredSbom(scan.sbomFiles);
    if (sbom) required.push(sbom.predicateType);
    const check = await verifyAttached(deps.registry, repository, image.digest, trust, expected, {
      requiredPredicateTypes: required,
    });
    deps.log.info(`${image.platform}: ${check.verified.length} bundle(s) verified`);
  }
}
