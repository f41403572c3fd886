import path from 'node:path';
import type { PhaseLog } from '../logging/phase-log.js';
import type { GateResult } from '../policy/decide.js';
import type { AssetUpload, ReleaseAssetsStage } from './model.js';

/**
 * The files a GitHub release carries: the deployment manifest and its bundle, each platform's SBOMs and
 * SARIF report, and the rendered deployment templates.
 */
export function releaseAssetList(
  gate: Pick<GateResult, 'scans'>,
  written: { file: string; bundleFile?: string | undefined; renderedTemplates: readonly string[] },
): AssetUpload[] {
  const assets: AssetUpload[] = [
    { name: path.basename(written.file), file: written.file, contentType: 'application/yaml' },
  ];
  if (written.bundleFile) {
    assets.push({
      name: path.basename(written.bundleFile),
      file: written.bundleFile,
      contentType: 'application/json',
    });
  }
  for (const scan of gate.scans) {
    for (const sbom of scan.sbomFiles)
      assets.push({ name: path.basename(sbom.file), file: sbom.file, contentType: 'application/json' });
    assets.push({
      name: path.basename(scan.sarifFile),
      file: scan.sarifFile,
      contentType: 'application/json',
    });
  }
  for (const file of written.renderedTemplates)
    assets.push({ name: path.basename(file), file, contentType: 'application/yaml' });
  return assets;
}

/** Uploads the assets to the draft release; it is published once the tags are written. */
export async function stageReleaseAssets(
  stage: ReleaseAssetsStage,
  assets: AssetUpload[],
  log: PhaseLog,
): Promise<void> {
  const done = await stage.stage(assets);
  log.info(
    `uploaded ${done.assets.length} asset(s) to ${done.releaseUrl}; published once the tags are written`,
  );
}

/** Publishes the draft release (every tag is in place); returns its URL. */
export async function publishDraftRelease(stage: ReleaseAssetsStage, log: PhaseLog): Promise<string> {
  const url = await stage.publish();
  log.info(`published ${url}`);
  return url;
}
