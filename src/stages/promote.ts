import { mkdir, writeFile } from 'node:fs/promises';
import { carriedSignatures, type ReleaseToPromote } from '../lifecycle/carried-signatures.js';
import { readRelease, writeSbomFiles } from '../lifecycle/read-release.js';
import { expectedSourceSigner, trustMaterialFor } from '../publish/publish-deps.js';
import type { RegistryClient } from '../registry/client.js';
import type { SbomToScan } from '../scan/rescan.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import type { Settings } from '../settings/inputs.js';
import { reportsDirFor } from './scan.js';

/** The release to promote, verified, with its SBOMs written where a scan writes them. */
export interface PromotionSource extends ReleaseToPromote {
  sbomFiles: SbomToScan[];
}

/**
 * `mode: promote`, first step: the release named by `from` is resolved, its signatures (and SLSA provenance when
 * its manifest lists one) verified against the expected signer, its signed deployment manifest and its SBOM
 * attestations read; nothing is pulled but manifests, configs and bundles. An unsigned or foreign release stops here.
 */
export async function runReadReleaseStage(
  host: ActionHost,
  input: { settings: Settings; context: RunnerContext; registry: RegistryClient },
): Promise<PromotionSource> {
  const { settings, context, registry } = input;
  const from = settings.from!;
  return host.log.group(`Read and verify ${settings.imageName}:${from}`, async () => {
    const trust = {
      material: await trustMaterialFor(settings),
      expected: expectedSourceSigner(settings, host.env),
    };
    const repository = { path: settings.image.path, name: settings.imageName };
    const source = await readRelease(registry, repository, from, trust, host.log);
    const carried = await carriedSignatures(registry, repository, source, trust);
    host.log.info(
      `carried over: ${carried.bundles.length} bundle(s) and ${carried.classic.length} classic signature(s) verified`,
    );
    const reportsDir = reportsDirFor(settings, context.tempDir);
    await mkdir(reportsDir, { recursive: true });
    const sbomFiles = await writeSbomFiles(source.sboms, reportsDir, (f, text) => writeFile(f, text));
    return { ...source, carried, sbomFiles };
  });
}
