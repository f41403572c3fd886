import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

/**
 * Verifies a Sigstore bundle with @sigstore/verify directly (not through Edgeship's code): the chain
 * to the trusted root, the transparency log entry, the timestamp, the certificate identity and issuer.
 * Returns the DSSE payload (the in-toto statement) on success; throws otherwise.
 */
export function verifyBundleIndependently(
  bundleJson: unknown,
  trustedRoot: unknown,
  expected: { identity: string; issuer: string },
): {
  statement: { subject: Array<{ name?: string; digest: Record<string, string> }>; predicateType: string };
} {
  const bundle = bundleFromJSON(bundleJson);
  const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(trustedRoot)), {
    tlogThreshold: 1,
    ctlogThreshold: 1,
    timestampThreshold: 1,
  });
  verifier.verify(toSignedEntity(bundle), {
    subjectAlternativeName: expected.identity,
    extensions: { issuer: expected.issuer },
  });
  if (bundle.content.$case !== 'dsseEnvelope') throw new Error('expected a DSSE bundle');
  return { statement: JSON.parse(Buffer.from(bundle.content.dsseEnvelope.payload).toString('utf8')) };
}
