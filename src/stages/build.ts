import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BuilderDeps, BuildRequest } from '../builders/builder.js';
import { selectBuilder } from '../builders/select-builder.js';
import { formatPlatform, nativeArchitecture } from '../image/platform.js';
import type { PlatformImage } from '../image/pushed-image.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { RegistryClient } from '../registry/client.js';
import type { ReleaseMetadata } from '../release/metadata.js';
import { CLEANUP_STATE_KEY, CleanupRecorder } from '../runner/cleanup-state.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import type { Settings } from '../settings/inputs.js';
import { buildSummaryTable, markdownTable, releaseSummaryTable } from '../summary/tables.js';

export interface BuildStageInput {
  settings: Settings;
  release: ReleaseMetadata;
  context: RunnerContext;
  registry: RegistryClient;
}

/** Builds every platform of this job and pushes each by digest (no tag); outputs `digests`. */
export async function runBuildStage(host: ActionHost, input: BuildStageInput): Promise<PlatformImage[]> {
  const { settings, release, context, registry } = input;
  const deps = builderDeps(host, context, registry);
  const builder = selectBuilder(settings, nativeArchitecture(process.arch), deps);
  await host.log.group('Check registry access', () => checkRegistryAccess(registry, settings, host.log));
  await builder.setUp();
  const request: BuildRequest = {
    labels: { ...release.labels, ...settings.labels },
    annotations: release.annotations,
    ...(context.sourceDateEpoch !== undefined ? { sourceDateEpoch: context.sourceDateEpoch } : {}),
  };
  const images: PlatformImage[] = [];
  for (const platform of settings.platforms) {
    const name = formatPlatform(platform);
    const image = await host.log.group(`Build ${name} (${settings.builder})`, async () => {
      const pushed = await builder.build(platform, request);
      host.log.info(
        `${name}: pushed ${settings.imageName}@${pushed.digest} (${pushed.size} bytes compressed, no tag)`,
      );
      return pushed;
    });
    images.push(image);
  }
  host.setOutput('digests', digestsOutput(images));
  await host.appendSummary(buildSummary(settings, release, images));
  return images;
}

/** The `digests` output: platform, digest and compressed size of every pushed image. */
export function digestsOutput(images: readonly PlatformImage[]): string {
  return JSON.stringify(images.map((i) => ({ platform: i.platform, digest: i.digest, size: i.size })));
}

/** Fails in seconds on wrong credentials or an unreachable registry instead of after the builds. */
async function checkRegistryAccess(registry: RegistryClient, settings: Settings, log: PhaseLog) {
  const tags = await registry.listTags(settings.image.path);
  log.info(`${settings.imageName} is reachable (${tags.length} existing tag(s))`);
}

/** A private work directory and cleanup state for this run (the post step removes what is recorded). */
function builderDeps(host: ActionHost, context: RunnerContext, registry: RegistryClient): BuilderDeps {
  const cleanup = new CleanupRecorder((serialized) => host.saveState(CLEANUP_STATE_KEY, serialized));
  const workDir = mkdtempSync(path.join(context.tempDir, 'edgeship-'));
  cleanup.record((s) => s.paths.push(workDir));
  return {
    exec: host.exec,
    log: host.log,
    registry,
    cleanup,
    workDir,
    readText: (f) => {
      try {
        return readFileSync(f, 'utf8');
      } catch {
        return undefined;
      }
    },
    readBinary: (f) => readFile(f),
    writePrivateFile: (f, content) => writeFileSync(f, content, { mode: 0o600 }),
    writeBinary: (f, content) => writeFileSync(f, content),
    makeDir: (d) => void mkdirSync(d, { recursive: true }),
    copyFile: (from, to) => copyFileSync(from, to),
    runKey: `${context.runId}-${context.runAttempt}-${randomBytes(3).toString('hex')}`,
  };
}

function buildSummary(
  settings: Settings,
  release: ReleaseMetadata,
  images: readonly PlatformImage[],
): string {
  return [
    `## Edgeship: ${settings.imageName}`,
    markdownTable(releaseSummaryTable(release)),
    '### Images pushed by digest (no tag yet)',
    markdownTable(buildSummaryTable(settings.imageName, images)),
    '',
  ].join('\n\n');
}
