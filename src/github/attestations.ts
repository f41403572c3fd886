/**
 * GitHub artifact attestations: a Sigstore bundle stored with the repository (`POST /repos/{owner}/{repo}/attestations`,
 * body `{ bundle }`), so that `gh attestation verify oci://IMAGE@DIGEST --owner OWNER` finds it. One call per bundle;
 * each bundle Edgeship stores names one subject.
 */
import { createGitHubClient, GitHubCallError, type GitHubApi } from './client.js';

export class GitHubAttestationError extends Error {
  override name = 'GitHubAttestationError';
  constructor(
    message: string,
    /** GitHub refused for want of the `attestations: write` permission (HTTP 403). */
    readonly forbidden: boolean,
  ) {
    super(message);
  }
}

/** Stores one bundle; resolves to the attestation id GitHub gave it. */
export type AttestationStore = (bundle: unknown, what: string) => Promise<number | undefined>;

/** The attestations API of `api.repository`. */
export function githubAttestationStore(api: GitHubApi, warn: (message: string) => void): AttestationStore {
  const client = createGitHubClient(api, warn);
  const [owner = '', repo = ''] = api.repository.split('/');
  return async (bundle, what) => {
    try {
      const response = await client.call(`store the ${what} attestation`, (octokit) =>
        octokit.rest.repos.createAttestation({ owner, repo, bundle: bundle as never }),
      );
      return (response.data as { id?: number }).id;
    } catch (error) {
      throw describe(error, what, api.repository);
    }
  };
}

function describe(error: unknown, what: string, repository: string): Error {
  if (!(error instanceof GitHubCallError)) return error as Error;
  const f = error.failure;
  if (f.kind === 'network') {
    return new GitHubAttestationError(
      `GitHub could not be reached to store the ${what} attestation (${f.host})`,
      false,
    );
  }
  if (f.status === 403) {
    return new GitHubAttestationError(
      `GitHub refused to store the ${what} attestation in ${repository} (HTTP 403): the job needs ` +
        '`permissions: attestations: write` (and a token that has it, see github-token)',
      true,
    );
  }
  const message = (f.data as { message?: unknown } | undefined)?.message;
  return new GitHubAttestationError(
    `GitHub did not store the ${what} attestation in ${repository} (HTTP ${f.status}${typeof message === 'string' ? `: ${message}` : ''})`,
    false,
  );
}
