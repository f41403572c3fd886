import { GitHubAttestationError } from '../github/attestations.js';
import { CYCLONEDX_PREDICATE_TYPE, SPDX_PREDICATE_TYPE } from '../sign/predicates.js';
import { SLSA_PROVENANCE_V1_PREDICATE_TYPE } from '../provenance/slsa.js';
import { PublishError, type GitHubAttestations, type PublishContext } from './model.js';

/** Which bundles go to GitHub: the build provenance and the SBOMs (what `gh attestation verify` checks). */
const STORED = new Set([SLSA_PROVENANCE_V1_PREDICATE_TYPE, SPDX_PREDICATE_TYPE, CYCLONEDX_PREDICATE_TYPE]);

/**
 * Stores the provenance and SBOM bundles as GitHub artifact attestations, one call per bundle (each names one
 * subject). `auto`: a refusal (HTTP 403, no `attestations: write`) or any other failure is a warning and the release
 * goes on; `required`: it fails the release before any tag is written.
 */
export async function storeGitHubAttestations(
  ctx: PublishContext,
  github: GitHubAttestations,
): Promise<number> {
  const { deps, signatures } = ctx;
  const bundles = signatures.bundles.filter((b) => STORED.has(b.predicateType));
  const fail = (message: string): number => {
    if (github.mode === 'required')
      throw new PublishError(`${message}; github-attestations is required, so nothing is tagged`);
    deps.log.warning(`${message}; the release is complete without GitHub artifact attestations`);
    return 0;
  };
  if (!github.store) return fail('no github-token or repository to store GitHub artifact attestations with');
  let stored = 0;
  for (const b of bundles) {
    const what = `${b.predicateType} (${b.platform}, ${b.subject})`;
    try {
      await github.store(JSON.parse(b.bundle.toString('utf8')) as unknown, what);
      stored += 1;
    } catch (error) {
      if (!(error instanceof GitHubAttestationError)) throw error;
      return fail(`${error.message}${stored ? ` (${stored} of ${bundles.length} stored)` : ''}`);
    }
  }
  deps.log.info(`${stored} GitHub artifact attestation(s) stored (provenance and SBOM)`);
  return stored;
}
