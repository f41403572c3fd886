import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PlatformImage } from '../image/pushed-image.js';
import type { GateResult } from '../policy/decide.js';
import { githubReleaseStage } from '../github/release-assets.js';
import type { Policy } from '../policy/index.js';
import { publishRelease } from '../publish/release.js';
import type { PublishDeps, PublishResult } from '../publish/release.js';
import type { RegistryClient } from '../registry/client.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import type { Settings } from '../settings/inputs.js';
import { githubOidcTokenProvider, PUBLIC_TSA_URL } from '../sign/signer.js';
import type { SignerConfig } from '../sign/signer.js';
import { trustMaterialFromJSON } from '../sign/verify.js';
import type { ExpectedSigner } from '../sign/verify.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import { markdownTable } from '../summary/tables.js';

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

/** The publish stage: index, tags, signatures, attestations, deployment manifest, release assets. */
export async function runPublishStep(
  host: ActionHost,
  input: {
    settings: Settings;
    policy: Policy;
    release: ReleaseMetadata;
    images: readonly PlatformImage[];
    gate: GateResult;
    context: RunnerContext;
    registry: RegistryClient;
    reportsDir: string;
  },
): Promise<PublishResult> {
  const { settings, release, context } = input;
  const signer = signerConfig(settings, host.env);
  const tag = context.release.ref.startsWith('refs/tags/')
    ? context.release.ref.slice('refs/tags/'.length)
    : undefined;
  const token = settings.githubToken;
  const wantAssets = settings.publish.releaseAssets === 'auto' && tag !== undefined && token !== undefined;
  if (settings.publish.releaseAssets === 'auto' && tag && !token) {
    host.log.warning(
      'release-assets is auto but no github-token is available: no release assets are uploaded',
    );
  }
  const result = await publishRelease(
    {
      settings,
      policy: input.policy,
      release,
      images: input.images,
      gate: input.gate,
      git: {
        ref: context.release.ref,
        revision: context.release.sha,
        workflowRun:
          context.workflowRunUrl ?? `${context.release.serverUrl}/${context.release.repository}/actions`,
      },
      reportsDir: input.reportsDir,
    },
    {
      registry: input.registry,
      log: host.log,
      ...(signer
        ? {
            signer,
            expectedSigner: expectedSignerFor(settings, signer),
            trustMaterial: () => loadTrustMaterial(settings),
          }
        : {}),
      ...(wantAssets
        ? {
            releaseAssets: githubReleaseStage(
              {
                apiUrl: host.env.GITHUB_API_URL ?? 'https://api.github.com',
                token: token!,
                repository: context.release.repository,
                fetchImpl: fetch,
              },
              tag!,
              { readFile: (f) => readFile(f), log: host.log },
              { prerelease: release.kind === 'prerelease' },
            ),
          }
        : {}),
      readText: (f) => readFile(f, 'utf8'),
      writeText: (f, text) => writeFile(f, text),
      now: host.now,
    },
  );
  host.setOutput('digest', result.indexDigest);
  host.setOutput('tags', result.tags.map((t) => `${settings.imageName}:${t}`).join('\n'));
  host.setOutput('manifest-file', result.manifestFile);
  host.setOutput('manifest-digest', result.manifestDigest);
  host.setOutput('signatures', JSON.stringify(result.signatures));
  await host.appendSummary(
    [
      `### Published ${settings.imageName}@${result.indexDigest}`,
      markdownTable([
        ['Tag', 'Points at'],
        ...result.tags.map((t) => [`\`${settings.imageName}:${t}\``, `\`${result.indexDigest}\``]),
      ]),
      markdownTable([
        ['Platform', 'Digest', 'Delta to upgrade', 'Baseline'],
        ...result.manifest.platforms.map((p) => [
          p.platform,
          `\`${p.digest}\``,
          `${p.delta.bytes} bytes (${p.delta.layers} layer(s))`,
          p.delta.baseline ? p.delta.baseline.version : 'none',
        ]),
      ]),
      `Deployment manifest: \`${path.basename(result.manifestFile)}\` (${result.manifestDigest})` +
        (result.releaseUrl ? `, release: ${result.releaseUrl}` : ''),
      `Signatures and attestations: ${result.signatures.length}`,
      '',
    ].join('\n\n'),
  );
  return result;
}

async function loadTrustMaterial(settings: Settings) {
  if (settings.publish.trustMaterial) return settings.publish.trustMaterial;
  const { getTrustedRoot } = await import('@sigstore/tuf');
  const { TrustedRoot } = await import('@sigstore/protobuf-specs');
  return trustMaterialFromJSON(TrustedRoot.toJSON(await getTrustedRoot()));
}
