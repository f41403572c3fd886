/**
 * How cosign 3 stores a signature or attestation in a registry by default: a Sigstore bundle v0.3 (its
 * DSSE envelope carries an in-toto statement, see ./statements.ts) as the one layer of an OCI 1.1
 * referrer manifest (artifactType = the bundle media type, empty config, `subject` = the signed image,
 * see ../registry/referrer-manifest.ts), annotated with what the bundle holds.
 *
 * Pure functions only: no I/O. Byte layouts follow cosign v3.0.2 (pkg/oci/remote/write.go,
 * `WriteAttestationNewBundleFormat`/`WriteReferrer`, serialised by go-containerregistry's v1.Manifest),
 * checked against the manifests cosign pushed to real registries.
 */
import { digestOf } from '../registry/digest.js';
import {
  ANNOTATION_CREATED,
  formatCreated,
  referrerManifest,
  type SubjectDescriptor,
} from '../registry/referrer-manifest.js';

/** The Sigstore bundle media type cosign 3 writes (bundle layer media type and referrer artifactType). */
export const SIGSTORE_BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** The older spelling of the v0.3 bundle media type, still accepted by readers. */
export const SIGSTORE_BUNDLE_V03_LEGACY_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle+json;version=0.3';

/** Annotation keys cosign puts on the referrer manifest (besides `org.opencontainers.image.created`). */
export const ANNOTATION_BUNDLE_CONTENT = 'dev.sigstore.bundle.content';
export const ANNOTATION_BUNDLE_PREDICATE_TYPE = 'dev.sigstore.bundle.predicateType';
/** The only `dev.sigstore.bundle.content` value cosign writes: the bundle holds a DSSE envelope. */
export const BUNDLE_CONTENT_DSSE = 'dsse-envelope';

export interface BundleReferrerInput {
  /** The serialised Sigstore bundle (the layer). */
  bundle: Buffer;
  subject: SubjectDescriptor;
  /** The statement's predicate type, for the `dev.sigstore.bundle.predicateType` annotation. */
  predicateType: string;
  /** `org.opencontainers.image.created`, written as RFC 3339 UTC to the second like cosign. */
  created: Date | string;
}

/** The referrer manifest that carries a bundle, byte-for-byte as cosign writes it. */
export function bundleReferrerManifest(input: BundleReferrerInput): Buffer {
  return referrerManifest({
    artifactType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
    layers: [
      {
        mediaType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
        size: input.bundle.length,
        digest: digestOf(input.bundle),
      },
    ],
    annotations: {
      [ANNOTATION_CREATED]: formatCreated(input.created),
      [ANNOTATION_BUNDLE_CONTENT]: BUNDLE_CONTENT_DSSE,
      [ANNOTATION_BUNDLE_PREDICATE_TYPE]: input.predicateType,
    },
    subject: input.subject,
  });
}

/** Whether a media type names a Sigstore bundle v0.3 (either spelling). */
export function isBundleV03MediaType(mediaType: string | undefined): boolean {
  return mediaType === SIGSTORE_BUNDLE_V03_MEDIA_TYPE || mediaType === SIGSTORE_BUNDLE_V03_LEGACY_MEDIA_TYPE;
}
