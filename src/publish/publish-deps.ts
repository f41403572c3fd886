/**
 * What the publish phase is given from the settings and the run: the signer (key or keyless), whom the bundles must
 * verify against and the trust root to check them with, and the GitHub release of the tag when assets are wanted.
 */
import { githubAttestationStore } from '../github/attestations.js';
import { githubReleaseStage } from '../github/release-assets.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import type { Settings } from '../settings/inputs.js';
import { githubOidcTokenProvider, loadSigning, PUBLIC_TSA_URL } from '../sign/signer.js';
import type { SignerConfig } from '../sign/signer.js';
import { trustMaterialFromJSON } from '../sign/verify.js';
import type { ExpectedSigner, TrustMaterial } from '../sign/verify.js';
import type { PublishDeps } from './model.js';

/** Signer settings from the inputs; undefined when signing is off. */
export function signerConfig(
  settings: Settings,
  env: Record<string, string | undefined>,
): SignerConfig | undefined {
  const p = settings.publish;
  if (p.signing === 'off') return undefined;
  const common = {
    ...(p.rekorUrl ? { rekorURL: p.rekorUrl } : {}),
    tsaURL: p.tsaUrl === 'off' ? (false as const) : (p.tsaUrl ?? PUBLIC_TSA_URL),
  };
  if (p.signing === 'key') return { identity: { kind: 'key', key: p.key! }, ...common };
  return {
    identity: {
      kind: 'keyless',
      tokenProvider: githubOidcTokenProvider({ env }),
      ...(p.fulcioUrl ? { fulcioURL: p.fulcioUrl } : {}),
    },
    ...common,
  };
}

/** Whom the published bundles must verify against. */
export function expectedSignerFor(settings: Settings, config: SignerConfig): PublishDeps['expectedSigner'] {
  const p = settings.publish;
  return (first): ExpectedSigner => {
    if (config.identity.kind === 'key') return { kind: 'key', publicKey: config.identity.key.publicKeyPem };
    const identity = p.expectedIdentity ?? first.identity;
    const issuer = p.certificateOidcIssuer ?? first.issuer;
    if (!identity || !issuer)
      throw new Error('the signing certificate names no identity or issuer to verify against');
    return { kind: 'certificate', identity, issuer };
  };
}

/** Signer, expected signer and trust root; nothing when signing is off. */
export function signingDeps(
  settings: Settings,
  env: Record<string, string | undefined>,
): Pick<PublishDeps, 'signer' | 'expectedSigner' | 'trustMaterial' | 'workflowIdentity'> {
  const signer = signerConfig(settings, env);
  if (!signer) return {};
  const workflowRef = env['GITHUB_WORKFLOW_REF'];
  return {
    signer,
    expectedSigner: expectedSignerFor(settings, signer),
    trustMaterial: () => loadTrustMaterial(settings),
    // Fulcio names a GitHub workflow by its URL and ref, issued by GitHub's OIDC provider.
    ...(signer.identity.kind === 'keyless' && workflowRef
      ? {
          workflowIdentity: {
            identity: `${env['GITHUB_SERVER_URL'] ?? 'https://github.com'}/${workflowRef}`,
            issuer: GITHUB_OIDC_ISSUER,
          },
        }
      : {}),
  };
}

export const GITHUB_OIDC_ISSUER = 'https://token.actions.githubusercontent.com';

/**
 * Whom a release being promoted must have been signed by, known before anything is signed: the signing key's
 * public key; else `certificate-identity` (exact or /regex/) from `certificate-oidc-issuer` (default GitHub's); else
 * this workflow file of this repository at any tag (`<server>/<owner>/<repo>/.github/workflows/x.yml@refs/tags/…`).
 */
export function expectedSourceSigner(
  settings: Settings,
  env: Record<string, string | undefined>,
): ExpectedSigner {
  const p = settings.publish;
  if (p.signing === 'key' && p.key) return { kind: 'key', publicKey: p.key.publicKeyPem };
  const issuer = p.certificateOidcIssuer ?? GITHUB_OIDC_ISSUER;
  if (p.expectedIdentity) return { kind: 'certificate', identity: p.expectedIdentity, issuer };
  const workflow = env['GITHUB_WORKFLOW_REF']?.replace(/@.*$/, '');
  if (!workflow)
    throw new Error(
      'the signer of the release to promote is not known: set certificate-identity (and certificate-oidc-issuer)',
    );
  const prefix = `${env['GITHUB_SERVER_URL'] ?? 'https://github.com'}/${workflow}@refs/tags/`;
  return {
    kind: 'certificate',
    identity: new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}.+$`),
    issuer,
  };
}

/** The trust root signatures are verified against (`trusted-root`, else the public-good root through TUF). */
export function trustMaterialFor(settings: Settings): Promise<TrustMaterial> {
  return loadTrustMaterial(settings);
}

/** The `trusted-root` input's trust material, else the public-good root through TUF. */
export async function loadTrustMaterial(settings: Settings): Promise<TrustMaterial> {
  if (settings.publish.trustMaterial) return settings.publish.trustMaterial;
  const { getTrustedRoot } = await import('@sigstore/tuf');
  const { TrustedRoot } = await import('@sigstore/protobuf-specs');
  return trustMaterialFromJSON(TrustedRoot.toJSON(await getTrustedRoot()));
}

/** The GitHub release of the tag, when release assets are on and there is a tag and a token. */
export function releaseAssetsDeps(
  settings: Settings,
  run: { ref: string; repository: string; apiUrl: string },
  release: ReleaseMetadata,
  io: { readFile: (file: string) => Promise<Buffer>; log: PhaseLog },
): Pick<PublishDeps, 'releaseAssets'> {
  const tag = run.ref.startsWith('refs/tags/') ? run.ref.slice('refs/tags/'.length) : undefined;
  const token = settings.githubToken;
  if (settings.publish.releaseAssets !== 'auto' || !tag) return {};
  if (!token) {
    io.log.warning('release-assets is auto but no github-token is available: no release assets are uploaded');
    return {};
  }
  const api = { apiUrl: run.apiUrl, token, repository: run.repository, fetchImpl: fetch };
  return {
    releaseAssets: githubReleaseStage(api, tag, io, { prerelease: release.kind === 'prerelease' }),
  };
}

/**
 * GitHub artifact attestations: with `auto`, only on GitHub (a token and a repository); with `required`, always
 * (without a token the step fails the release).
 */
export function githubAttestationsDeps(
  settings: Settings,
  run: { repository: string; apiUrl: string },
  log: PhaseLog,
): Pick<PublishDeps, 'githubAttestations'> {
  const mode = settings.publish.githubAttestations;
  const token = settings.githubToken;
  if (mode === 'off' || (mode === 'auto' && (!token || !run.repository))) return {};
  if (!token || !run.repository) return { githubAttestations: { mode } };
  const api = { apiUrl: run.apiUrl, token, repository: run.repository, fetchImpl: fetch };
  return { githubAttestations: { mode, store: githubAttestationStore(api, (m) => log.warning(m)) } };
}

/**
 * Whom an existing release of this repository must be signed by, when this run did not sign it (rescans, checks):
 * the signing key's public key; keyless, `certificate-identity` (default: any workflow of this repository) and
 * `certificate-oidc-issuer` (default: GitHub's). Undefined with signing off.
 */
export function releaseSigner(
  settings: Settings,
  run: { serverUrl: string; repository: string },
): ExpectedSigner | undefined {
  const p = settings.publish;
  if (p.signing === 'off') return undefined;
  if (p.signing === 'key') return p.key ? { kind: 'key', publicKey: p.key.publicKeyPem } : undefined;
  const workflows = `${run.serverUrl.replace(/\/+$/, '')}/${run.repository}/.github/workflows/`;
  const identity = p.expectedIdentity ?? new RegExp(`^${workflows.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
  return { kind: 'certificate', identity, issuer: p.certificateOidcIssuer ?? GITHUB_OIDC_ISSUER };
}

/** The signing library loaded ahead of the first signature, when the run signs (see loadSigning). */
export function loadSigningFor(settings: Settings): void {
  if (settings.publish.signing !== 'off') loadSigning();
}
