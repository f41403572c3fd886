/**
 * The publish steps of offline bundles: the image part of each bundle before the deployment manifest (which
 * lists them), the signed manifest, trusted root, installer and signed SHA256SUMS after it. Undefined when
 * `offline-bundles` is off.
 */
import { readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { BundleRegistry } from '../bundles/collect.js';
import type { Baseline } from '../deployment/baseline.js';
import type { PlatformImage } from '../image/pushed-image.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { Settings } from '../settings/inputs.js';
import { OFFLINE_BUNDLE_PREDICATE_TYPE, renderInstaller } from '../bundles/installer.js';
import { INSTALLER_FILE, SUMS_FILE } from '../bundles/layout.js';
import {
  finishBundles,
  HAND_OVER_PART,
  HAND_OVER_SUMS,
  writeBundleImages,
  writeHandOverPart,
  type OfflineBundle,
  type StartedBundle,
} from '../bundles/offline-bundles.js';
import { DEPLOYMENT_PREDICATE_TYPE } from '../sign/predicates.js';
import { attest } from '../sign/signer.js';
import type { AssetUpload, PublishContext } from './model.js';
import type { WrittenManifest } from './deployment-manifest.js';

export interface OfflineBundleSteps {
  start(): Promise<StartedBundle[]>;
  finish(started: readonly StartedBundle[], written: WrittenManifest): Promise<OfflineBundle[]>;
}

export function offlineBundleSteps(
  ctx: PublishContext,
  baseline: Baseline | undefined,
): OfflineBundleSteps | undefined {
  const { req, deps } = ctx;
  const { mode, compression, maxSize } = req.settings.publish.offlineBundles;
  if (mode === 'off') return undefined;
  return {
    start: () =>
      writeBundleImages({
        registry: deps.registry,
        repository: req.settings.image.path,
        reference: `${req.settings.imageName}:${req.release.version}`,
        version: req.release.version,
        images: req.images,
        ...(baseline ? { baseline } : {}),
        mode,
        compression,
        dir: req.reportsDir,
        log: deps.log,
      }),
    finish: async (started, written) => {
      const installer = renderInstaller(written.manifest, {
        manifest: path.basename(written.file),
        manifestBundle: path.basename(written.bundleFile ?? `${written.file}.sigstore.json`),
        predicateType: DEPLOYMENT_PREDICATE_TYPE,
      });
      await deps.writeText(path.join(req.reportsDir, INSTALLER_FILE), installer);
      const signer = deps.signer;
      return finishBundles(started, {
        manifest: { name: path.basename(written.file), body: Buffer.from(await deps.readText(written.file)) },
        ...(written.bundleFile
          ? {
              manifestBundle: {
                name: path.basename(written.bundleFile),
                body: Buffer.from(await deps.readText(written.bundleFile)),
              },
            }
          : {}),
        ...(signer ? { trustedRoot: Buffer.from(await trustedRootJson(ctx)) } : {}),
        installer,
        ...(signer
          ? {
              signSums: async (sha256, bundle) => {
                const predicate = {
                  file: path.basename(bundle.file),
                  platform: bundle.platform,
                  kind: bundle.kind,
                  image: written.manifest.platforms.find((p) => p.platform === bundle.platform)?.digest,
                  deploymentManifest: { name: path.basename(written.file), digest: written.fileDigest },
                };
                const signed = await attest(
                  signer,
                  `sha256:${sha256}`,
                  OFFLINE_BUNDLE_PREDICATE_TYPE,
                  predicate,
                  {
                    subjectName: SUMS_FILE,
                  },
                );
                return signed.bundle;
              },
            }
          : {}),
        ...(maxSize ? { maxSize } : {}),
        log: deps.log,
      });
    },
  };
}

/** The trusted root the release verifies against: the `trusted-root` file, else the public-good one (TUF). */
async function trustedRootJson({ req, deps }: PublishContext): Promise<string> {
  const file = req.settings.publish.trustedRootFile;
  if (file) return deps.readText(file);
  const { getTrustedRoot } = await import('@sigstore/tuf');
  const { TrustedRoot } = await import('@sigstore/protobuf-specs');
  return JSON.stringify(TrustedRoot.toJSON(await getTrustedRoot()));
}

/** Release assets of the bundles: every file (or part) and the installer. */
export function offlineBundleAssets(reportsDir: string, bundles: readonly OfflineBundle[]): AssetUpload[] {
  if (bundles.length === 0) return [];
  const file = path.join(reportsDir, INSTALLER_FILE);
  return [
    ...bundles.flatMap((b) =>
      b.files.map((f) => ({
        name: path.basename(f.file),
        file: f.file,
        contentType: 'application/octet-stream',
      })),
    ),
    { name: INSTALLER_FILE, file, contentType: 'text/x-shellscript' },
  ];
}

/**
 * Matrix build job (`mode: build`): writes each gated platform's full-bundle image part into its record folder
 * (the bytes are on this runner); returns the file names to upload with the record. None when off.
 */
export async function handOverBundleParts(
  input: { settings: Settings; version: string; registry: BundleRegistry; log: PhaseLog },
  image: PlatformImage,
  dir: string,
): Promise<string[]> {
  const { settings } = input;
  const { mode, compression } = settings.publish.offlineBundles;
  if (mode === 'off') return [];
  return writeHandOverPart(
    {
      registry: input.registry,
      repository: settings.image.path,
      reference: `${settings.imageName}:${input.version}`,
      version: input.version,
      compression,
      dir,
      log: input.log,
    },
    image,
  );
}

/** Matrix publish job: moves the image parts a build record carries into the reports folder. */
export function placeHandOverBundleParts(recordDir: string, reportsDir: string): void {
  for (const file of readdirSync(recordDir))
    if (file.endsWith(HAND_OVER_PART) || file.endsWith(HAND_OVER_SUMS))
      renameSync(path.join(recordDir, file), path.join(reportsDir, file));
}
