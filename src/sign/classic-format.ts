/**
 * cosign's classic ("legacy") storage of signatures and attestations, what cosign 2.x, containers/image
 * (podman, skopeo, CRI-O `sigstoreSigned` policies), bootc and Kyverno/policy-controller key attestors read:
 * an OCI image manifest in the tag `sha256-<hex>.sig` (signatures) or `sha256-<hex>.att` (attestations)
 * next to the signed digest, one layer per signature.
 *
 * - A signature layer is the simple signing payload (`application/vnd.dev.cosign.simplesigning.v1+json`),
 *   signed as a message (ECDSA/RSA over SHA-256, Rekor `hashedrekord` entry).
 * - An attestation layer is the DSSE envelope (`application/vnd.dsse.envelope.v1+json`) around an in-toto
 *   statement, byte for byte the envelope logged in Rekor (its `dsse` entry's envelopeHash is the layer's
 *   SHA-256, which cosign checks), with the `predicateType` annotation and an empty signature annotation.
 * - Each layer carries `dev.cosignproject.cosign/signature` (base64), `dev.sigstore.cosign/certificate`
 *   (keyless: the Fulcio certificate, PEM) and `dev.sigstore.cosign/bundle` (the Rekor entry with its
 *   SignedEntryTimestamp, verified offline against the log's key).
 *
 * The RFC 3161 timestamp (`dev.sigstore.cosign/rfc3161timestamp`) is not written: cosign 2.x refuses a layer
 * that has one unless the verifier passes `--timestamp-certificate-chain`/`--use-signed-timestamps`, and
 * the log's signed entry time already bounds the certificate. The chain (`dev.sigstore.cosign/chain`) is not
 * written either: sigstore-js keeps only the leaf, and cosign and containers/image take intermediates and
 * roots from their trust root (both annotations are read when present).
 *
 * Pure functions only: built from the Sigstore bundles ./signer.ts makes, and read back into such bundles
 * for verification (./classic-tags.ts). Facts from cosign's specs/SIGNATURE_SPEC.md and pkg/oci; code here.
 */
import { bundleFromJSON, envelopeToJSON, type Bundle } from '@sigstore/bundle';

import { digestOf } from '../registry/digest.js';
import { OCI_IMAGE_CONFIG, OCI_IMAGE_MANIFEST } from '../registry/media-types.js';
import { parseDigest } from '../registry/reference.js';
import { isRecord } from '../validation/json.js';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const DSSE_ENVELOPE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';

export const ANNOTATION_SIGNATURE = 'dev.cosignproject.cosign/signature';
export const ANNOTATION_CERTIFICATE = 'dev.sigstore.cosign/certificate';
export const ANNOTATION_CHAIN = 'dev.sigstore.cosign/chain';
export const ANNOTATION_REKOR_BUNDLE = 'dev.sigstore.cosign/bundle';
export const ANNOTATION_TIMESTAMP = 'dev.sigstore.cosign/rfc3161timestamp';
export const ANNOTATION_PREDICATE_TYPE = 'predicateType';

/** The Sigstore bundle media type classic layers are read back into (v0.1: a log promise, no proof). */
const BUNDLE_V01_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle+json;version=0.1';

export type ClassicKind = 'sig' | 'att';

/** One layer of a `.sig` or `.att` manifest: its content and annotations. */
export interface ClassicLayer {
  mediaType: string;
  body: Buffer;
  annotations: Record<string, string>;
}

/** A layer as the manifest lists it. */
export interface ClassicDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

/** `sha256-<hex>.sig` / `sha256-<hex>.att`: where cosign looks for the signatures of a digest. */
export function classicTag(digest: string, kind: ClassicKind): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}-${hex}.${kind}`;
}

/**
 * The simple signing payload cosign signs for an image: `docker-reference` is the repository (registry
 * and path, no tag), which containers/image matches against the image it pulls.
 */
export function simpleSigningPayload(dockerReference: string, digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': dockerReference },
        image: { 'docker-manifest-digest': digest },
        type: SIMPLE_SIGNING_TYPE,
      },
      optional: null,
    }),
  );
}

/** The signature layer of a simple signing payload, from the message-signature bundle that signs it. */
export function classicSignatureLayer(payload: Buffer, bundleJson: Buffer): ClassicLayer {
  const bundle = parseBundle(bundleJson);
  if (bundle.content.$case !== 'messageSignature') {
    throw new Error('a classic signature needs a message-signature bundle, not a DSSE envelope');
  }
  const signature = bundle.content.messageSignature.signature.toString('base64');
  return {
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    body: payload,
    annotations: { [ANNOTATION_SIGNATURE]: signature, ...verificationAnnotations(bundle) },
  };
}

/** The attestation layer of a DSSE bundle: its envelope, as logged in Rekor. */
export function classicAttestationLayer(bundleJson: Buffer, predicateType: string): ClassicLayer {
  const bundle = parseBundle(bundleJson);
  if (bundle.content.$case !== 'dsseEnvelope') {
    throw new Error('a classic attestation needs a DSSE bundle, not a message signature');
  }
  // The exact JSON sigstore-js sends to Rekor (and whose SHA-256 the dsse entry records).
  const envelope = Buffer.from(JSON.stringify(envelopeToJSON(bundle.content.dsseEnvelope)));
  return {
    mediaType: DSSE_ENVELOPE_MEDIA_TYPE,
    body: envelope,
    annotations: {
      [ANNOTATION_SIGNATURE]: '',
      ...verificationAnnotations(bundle),
      [ANNOTATION_PREDICATE_TYPE]: predicateType,
    },
  };
}

function verificationAnnotations(bundle: Bundle): Record<string, string> {
  const out: Record<string, string> = {};
  const material = bundle.verificationMaterial.content;
  const der =
    material.$case === 'certificate'
      ? material.certificate.rawBytes
      : material.$case === 'x509CertificateChain'
        ? material.x509CertificateChain.certificates[0]?.rawBytes
        : undefined;
  if (der) out[ANNOTATION_CERTIFICATE] = toPem(Buffer.from(der));
  const entry = bundle.verificationMaterial.tlogEntries[0];
  if (entry?.inclusionPromise) {
    out[ANNOTATION_REKOR_BUNDLE] = JSON.stringify({
      SignedEntryTimestamp: Buffer.from(entry.inclusionPromise.signedEntryTimestamp).toString('base64'),
      Payload: {
        body: Buffer.from(entry.canonicalizedBody).toString('base64'),
        integratedTime: Number(entry.integratedTime),
        logIndex: Number(entry.logIndex),
        logID: Buffer.from(entry.logId.keyId).toString('hex'),
      },
    });
  }
  return out;
}

/**
 * The `.sig`/`.att` manifest over `layers` (cosign's form: an OCI image manifest whose config lists the
 * layers' digests as diff_ids), and its config.
 */
export function classicManifest(layers: readonly ClassicDescriptor[]): { manifest: Buffer; config: Buffer } {
  const epoch = '0001-01-01T00:00:00Z';
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      created: epoch,
      history: layers.map(() => ({ created: epoch })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_IMAGE_MANIFEST,
      config: { mediaType: OCI_IMAGE_CONFIG, size: config.length, digest: digestOf(config) },
      layers: layers.map((l) => ({
        mediaType: l.mediaType,
        size: l.size,
        digest: l.digest,
        annotations: l.annotations,
      })),
    }),
  );
  return { manifest, config };
}

/** The layers of a `.sig`/`.att` manifest; throws when it is not an image manifest with layers. */
export function parseClassicManifest(body: Buffer): ClassicDescriptor[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new Error(`the signature manifest is not JSON (${(error as Error).message})`, { cause: error });
  }
  if (!isRecord(json) || !Array.isArray(json.layers)) {
    throw new Error('the signature manifest is not an image manifest with layers');
  }
  return json.layers.map((layer: unknown, i) => {
    if (
      !isRecord(layer) ||
      typeof layer.mediaType !== 'string' ||
      typeof layer.digest !== 'string' ||
      typeof layer.size !== 'number'
    ) {
      throw new Error(`layer ${i} of the signature manifest has no media type, digest or size`);
    }
    const annotations: Record<string, string> = {};
    if (isRecord(layer.annotations)) {
      for (const [k, v] of Object.entries(layer.annotations)) if (typeof v === 'string') annotations[k] = v;
    }
    return { mediaType: layer.mediaType, digest: layer.digest, size: layer.size, annotations };
  });
}

/**
 * A classic layer read back as a Sigstore bundle (v0.1: the Rekor entry with its promise), so it is verified
 * like any bundle; the signer key is the certificate's, or the expected key (`publicKeyHint` only names it).
 * Signature layers become message signatures over the payload, attestation layers DSSE envelopes.
 */
export function bundleFromClassicLayer(layer: ClassicDescriptor, body: Buffer): unknown {
  const a = layer.annotations;
  const certificate = a[ANNOTATION_CERTIFICATE];
  const verificationMaterial: Record<string, unknown> = certificate
    ? { x509CertificateChain: { certificates: [{ rawBytes: fromPem(certificate).toString('base64') }] } }
    : { publicKey: { hint: '' } };
  const rekor = a[ANNOTATION_REKOR_BUNDLE];
  verificationMaterial.tlogEntries = rekor ? [tlogEntry(rekor)] : [];
  verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [] };
  if (layer.mediaType === DSSE_ENVELOPE_MEDIA_TYPE) {
    const envelope = JSON.parse(body.toString('utf8')) as unknown;
    return { mediaType: BUNDLE_V01_MEDIA_TYPE, verificationMaterial, dsseEnvelope: envelope };
  }
  const signature = a[ANNOTATION_SIGNATURE];
  if (!signature) throw new Error('the signature layer has no signature annotation');
  return {
    mediaType: BUNDLE_V01_MEDIA_TYPE,
    verificationMaterial,
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: digestBytes(digestOf(body)) },
      signature,
    },
  };
}

/** The image digest and repository a simple signing payload names; throws when it is not one. */
export function parseSimpleSigning(payload: Buffer): { digest: string; dockerReference: string } {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (error) {
    throw new Error(`the simple signing payload is not JSON (${(error as Error).message})`, { cause: error });
  }
  const critical = isRecord(json) ? json.critical : undefined;
  const image = isRecord(critical) ? critical.image : undefined;
  const identity = isRecord(critical) ? critical.identity : undefined;
  const digest = isRecord(image) ? image['docker-manifest-digest'] : undefined;
  const reference = isRecord(identity) ? identity['docker-reference'] : undefined;
  if (!isRecord(critical) || critical.type !== SIMPLE_SIGNING_TYPE || typeof digest !== 'string') {
    throw new Error('the payload is not a cosign simple signing payload with a manifest digest');
  }
  return { digest, dockerReference: typeof reference === 'string' ? reference : '' };
}

function tlogEntry(annotation: string): Record<string, unknown> {
  const rekor = JSON.parse(annotation) as {
    SignedEntryTimestamp: string;
    Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
  };
  const body = JSON.parse(Buffer.from(rekor.Payload.body, 'base64').toString('utf8')) as {
    kind?: string;
    apiVersion?: string;
  };
  return {
    logIndex: String(rekor.Payload.logIndex),
    logId: { keyId: Buffer.from(rekor.Payload.logID, 'hex').toString('base64') },
    kindVersion: { kind: body.kind ?? '', version: body.apiVersion ?? '' },
    integratedTime: String(rekor.Payload.integratedTime),
    inclusionPromise: { signedEntryTimestamp: rekor.SignedEntryTimestamp },
    canonicalizedBody: rekor.Payload.body,
  };
}

function parseBundle(json: Buffer): Bundle {
  return bundleFromJSON(JSON.parse(json.toString('utf8')));
}

function digestBytes(digest: string): string {
  return Buffer.from(parseDigest(digest).hex, 'hex').toString('base64');
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function fromPem(pem: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (!match?.[1]) throw new Error('the certificate annotation holds no PEM certificate');
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}
