/**
 * The provenance of each platform this job built: the Dockerfile's base images resolved for that platform, the
 * build inputs and the run, timed from the start of the builds to their end.
 */
import type { RegistryClient } from '../registry/client.js';
import { resolveBaseImages } from './base-images.js';
import { dockerfileBaseImages } from './dockerfile-from.js';
import { slsaProvenance } from './slsa.js';
import type { BuildParameters, PlatformProvenance, ProvenanceRun } from './slsa.js';

export interface ProvenanceRequest {
  run: ProvenanceRun;
  build: BuildParameters;
  /** The Dockerfile's text; undefined when it cannot be read here (a remote context). */
  dockerfile: string | undefined;
  buildArgs: ReadonlyArray<readonly [string, string]>;
  images: ReadonlyArray<{ platform: string; digest: string }>;
  startedOn: Date;
  finishedOn: Date;
}

/** One provenance per image; `clientFor` reaches the registry of a base image. */
export async function buildProvenance(
  req: ProvenanceRequest,
  clientFor: (registry: string) => RegistryClient,
  warn: (message: string) => void = () => undefined,
): Promise<PlatformProvenance[]> {
  const out: PlatformProvenance[] = [];
  for (const image of req.images) {
    const context = {
      buildArgs: req.buildArgs,
      platform: image.platform,
      ...(req.build.target ? { target: req.build.target } : {}),
    };
    const references = req.dockerfile === undefined ? [] : dockerfileBaseImages(req.dockerfile, context);
    const dependencies = await resolveBaseImages(references, image.platform, clientFor, warn);
    const predicate = slsaProvenance({ ...req, dependencies });
    out.push({ platform: image.platform, digest: image.digest, predicate });
  }
  return out;
}
