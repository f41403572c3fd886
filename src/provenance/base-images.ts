/**
 * Base images by digest: each reference a Dockerfile builds from, resolved against its registry (a tag becomes the
 * digest the registry serves for it; a digest is taken as written) and described as an SLSA resource descriptor
 * the way BuildKit names them (`pkg:docker/<name>@<tag>?platform=<os/arch>`).
 */
import type { RegistryClient } from '../registry/client.js';
import { DOCKER_HUB, parseRepository } from '../registry/reference.js';
import type { ResourceDescriptor } from './slsa.js';

/** A reference split into repository, tag and digest, as Docker normalises it. */
export interface BaseImageReference {
  registry: string;
  path: string;
  tag?: string;
  digest?: string;
}

export class BaseImageError extends Error {
  override name = 'BaseImageError';
}

/** `alpine:3.20`, `ghcr.io/acme/base@sha256:…`, `localhost:5000/base/busybox:1` → parts (tag `latest` by default). */
export function parseBaseImage(reference: string): BaseImageReference {
  const at = reference.indexOf('@');
  const digest = at === -1 ? undefined : reference.slice(at + 1);
  const name = at === -1 ? reference : reference.slice(0, at);
  const colon = name.lastIndexOf(':');
  const tag = colon > name.lastIndexOf('/') ? name.slice(colon + 1) : undefined;
  const repository = parseRepository(tag === undefined ? name : name.slice(0, colon));
  return {
    ...repository,
    ...(tag !== undefined ? { tag } : digest === undefined ? { tag: 'latest' } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/**
 * Resolves every reference to a descriptor with its digest; `clientFor` gives the client of a registry. One that
 * cannot be resolved (not a valid reference, unreachable, unknown) is listed by name only, and `warn` says why:
 * the build already used it, so the provenance names it rather than fail the release.
 */
export async function resolveBaseImages(
  references: readonly string[],
  platform: string,
  clientFor: (registry: string) => RegistryClient,
  warn: (message: string) => void = () => undefined,
): Promise<ResourceDescriptor[]> {
  const out: ResourceDescriptor[] = [];
  for (const reference of references) {
    try {
      const ref = parseBaseImage(reference);
      const digest = ref.digest ?? (await digestOfTag(clientFor(ref.registry), ref, reference));
      const [algorithm, hex] = digest.split(':') as [string, string];
      out.push({ uri: basePurl(ref, platform), digest: { [algorithm]: hex } });
    } catch (error) {
      warn(`provenance names the base image ${reference} without a digest: ${(error as Error).message}`);
      out.push({
        uri: `pkg:docker/${encodeURIComponent(reference)}?platform=${encodeURIComponent(platform)}`,
      });
    }
  }
  return out;
}

async function digestOfTag(client: RegistryClient, ref: BaseImageReference, reference: string) {
  const found = await client.headManifest(ref.path, ref.tag!);
  if (!found) {
    throw new BaseImageError(
      `the base image ${reference} (FROM in the Dockerfile) is not in ${ref.registry}: the build used it, so check the reference`,
    );
  }
  return found.digest;
}

/** BuildKit's name for a base image: `pkg:docker/alpine@3.20?platform=linux%2Famd64` (Docker Hub's `library/` left out). */
export function basePurl(ref: BaseImageReference, platform: string): string {
  const name =
    ref.registry === DOCKER_HUB
      ? ref.path.replace(/^library\//, '')
      : `${encodeURIComponent(ref.registry)}/${ref.path}`;
  const version = ref.tag ?? ref.digest!;
  return `pkg:docker/${name}@${encodeURIComponent(version)}?platform=${encodeURIComponent(platform)}`;
}
