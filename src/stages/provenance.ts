import path from 'node:path';
import { readFileSync } from 'node:fs';
import { formatPlatform } from '../image/platform.js';
import type { PlatformImage } from '../image/pushed-image.js';
import { buildProvenance } from '../provenance/build-provenance.js';
import { provenanceRun } from '../provenance/slsa.js';
import type { PlatformProvenance } from '../provenance/slsa.js';
import type { RegistryClient } from '../registry/client.js';
import type { RunnerContext } from '../runner/context.js';
import type { ActionHost } from '../runner/host.js';
import type { Settings } from '../settings/inputs.js';
import { baseImageClients } from './registry.js';

export interface ProvenanceStageInput {
  settings: Settings;
  context: RunnerContext;
  registry: RegistryClient;
  images: readonly PlatformImage[];
  /** When the builds started. */
  startedOn: Date;
}

/** SLSA provenance of every image this job built (none outside a workflow: no GITHUB_WORKFLOW_REF). */
export async function runProvenanceStage(
  host: ActionHost,
  input: ProvenanceStageInput,
): Promise<PlatformProvenance[]> {
  const { settings, context } = input;
  const run = provenanceRun(host.env);
  if (!run) {
    host.log.info('no GITHUB_WORKFLOW_REF: no build provenance is made outside a workflow run');
    return [];
  }
  const relative = (p: string) => path.relative(context.workspace, p) || '.';
  const remote = /^(https?:\/\/|git@|git:\/\/|ssh:\/\/)/.test(settings.context);
  const request = {
    run,
    build: {
      platforms: settings.platforms.map(formatPlatform),
      file: remote ? settings.file : relative(settings.file),
      context: remote ? settings.context : relative(settings.context),
      ...(settings.target ? { target: settings.target } : {}),
      buildArgs: settings.buildArgs.map(([name]) => name),
      builder: settings.builder,
    },
    dockerfile: remote ? undefined : readFileSync(settings.file, 'utf8'),
    buildArgs: settings.buildArgs,
    images: input.images,
    startedOn: input.startedOn,
    finishedOn: host.now(),
  };
  const clients = baseImageClients(settings, host, input.registry);
  return host.log.group('Build provenance (SLSA v1)', async () => {
    const made = await buildProvenance(request, clients, (m) => host.log.warning(m));
    for (const p of made) {
      const bases = p.predicate.buildDefinition.resolvedDependencies.slice(1).map((d) => d.uri);
      host.log.info(`${p.platform}: built from ${bases.join(', ') || 'no base image'}`);
    }
    return made;
  });
}
