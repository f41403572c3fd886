export const OCI_IMAGE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_IMAGE_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST_V2 = 'application/vnd.docker.distribution.manifest.list.v2+json';

export const OCI_IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const DOCKER_IMAGE_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const OCI_EMPTY_JSON = 'application/vnd.oci.empty.v1+json';

/** The Accept header for manifest requests: indexes and single-platform manifests, OCI and Docker. */
export const ACCEPT_MANIFESTS = [
  OCI_IMAGE_INDEX,
  OCI_IMAGE_MANIFEST,
  DOCKER_MANIFEST_LIST_V2,
  DOCKER_MANIFEST_V2,
].join(', ');

/** The media type without parameters (`; charset=…`), lowercased. */
export function baseMediaType(mediaType: string): string {
  return (mediaType.split(';')[0] ?? '').trim().toLowerCase();
}

/** An OCI image index or a Docker manifest list (multi-platform). */
export function isIndexMediaType(mediaType: string): boolean {
  const base = baseMediaType(mediaType);
  return base === OCI_IMAGE_INDEX || base === DOCKER_MANIFEST_LIST_V2;
}

/** An OCI image manifest or a Docker schema 2 manifest (single platform). */
export function isManifestMediaType(mediaType: string): boolean {
  const base = baseMediaType(mediaType);
  return base === OCI_IMAGE_MANIFEST || base === DOCKER_MANIFEST_V2;
}
