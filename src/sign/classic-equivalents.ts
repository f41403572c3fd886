/**
 * Classic `.att` layers that need no verification of their own: the exact layer a verified bundle makes, as a
 * release writes both signature formats from one signing (see classicEquivalents).
 */
import { digestOf } from '../registry/digest.js';
import type { VerifiedReferrer } from './bundle-referrers.js';
import {
  ANNOTATION_CERTIFICATE,
  ANNOTATION_REKOR_BUNDLE,
  classicAttestationLayer,
  type ClassicDescriptor,
  type ClassicLayer,
} from './classic-format.js';
import { statementNamesDigest } from './statements.js';
import type { ExpectedSigner } from './verify.js';

/** A classic layer whose verification a verified bundle already did (see classicEquivalents). */
export interface ClassicEquivalent {
  /** The layer the bundle makes: its digest, size, media type and every annotation. */
  layer: ClassicDescriptor;
  predicateType: string;
  identity?: string;
  issuer?: string;
}

export type ClassicEquivalents = ReadonlyMap<string, ClassicEquivalent>;

/**
 * The classic `.att` layers that `verified` bundles (each verified by the expected signer; only those about
 * `subjectDigest` count) make, by layer digest: classicAttestationLayer of the bundle, as a release writes both formats
 * from one signing. A layer equal to one of them in media type, digest, size and every annotation holds that
 * bundle's DSSE envelope, certificate and Rekor entry with its signed entry timestamp; the bundle's verification
 * checked each of them (sigstore-js verifies a log entry's promise whenever it has one, and the certificate chain at
 * the log's time), and the statement's subject and predicate type. So the layer verifies as the bundle did, and is
 * neither fetched nor verified again. Only keyless signers (a key-signed layer is also checked for the key Rekor
 * logged) and bundles whose log entry has a promise (the layer's only timestamp) make one.
 */
export function classicEquivalents(
  verified: readonly Pick<
    VerifiedReferrer,
    'bundle' | 'predicateType' | 'statement' | 'identity' | 'issuer'
  >[],
  expected: ExpectedSigner,
  /** The digest whose layers are checked: a bundle whose statement is not about it makes none. */
  subjectDigest: string,
): Map<string, ClassicEquivalent> {
  const out = new Map<string, ClassicEquivalent>();
  if (expected.kind !== 'certificate') return out;
  for (const v of verified) {
    if (!statementNamesDigest(v.statement, subjectDigest)) continue;
    let layer: ClassicLayer;
    try {
      layer = classicAttestationLayer(v.bundle, v.predicateType);
    } catch {
      continue; // a message signature: its classic layer signs another payload
    }
    if (!layer.annotations[ANNOTATION_REKOR_BUNDLE] || !layer.annotations[ANNOTATION_CERTIFICATE]) continue;
    const digest = digestOf(layer.body);
    out.set(digest, {
      layer: { mediaType: layer.mediaType, digest, size: layer.body.length, annotations: layer.annotations },
      predicateType: v.predicateType,
      ...(v.identity ? { identity: v.identity } : {}),
      ...(v.issuer ? { issuer: v.issuer } : {}),
    });
  }
  return out;
}

/** Whether two layers are the same: media type, digest, size and every annotation. */
export function sameClassicLayer(a: ClassicDescriptor, b: ClassicDescriptor): boolean {
  const keys = Object.keys(a.annotations);
  return (
    a.mediaType === b.mediaType &&
    a.digest === b.digest &&
    a.size === b.size &&
    keys.length === Object.keys(b.annotations).length &&
    keys.every((k) => Object.hasOwn(b.annotations, k) && a.annotations[k] === b.annotations[k])
  );
}
