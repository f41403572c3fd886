/**
 * patches/@sigstore+core+4.0.1.patch: @sigstore/core re-encodes certificates (ASN1Obj.toDER) on every chain check,
 * signature check and comparison of a verification; the patch builds the same bytes with Buffer.concat instead of a
 * growing ByteStream, and keeps the encoding once built (a chain is re-encoded for every bundle verified). It also
 * keeps the public keys it made and the answers of certificate signature checks, by bytes: every bundle of a run
 * repeats the same chain, SCT and TSA checks. These tests fail when the patch is not applied (postinstall), changes
 * a single byte, or lets a kept answer stand for other bytes.
 */
import { createHash, generateKeyPairSync, X509Certificate as NodeX509 } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { ASN1Obj, crypto as sigstoreCrypto, X509Certificate } from '@sigstore/core';
import { describe, expect, it } from 'vitest';
import { startSigstoreStack } from '../../e2e/harness/sigstore-stack.js';

const derOf = (pem: string) => new NodeX509(pem).raw;

describe('the patched DER encoder of @sigstore/core', () => {
  it('is the one installed', () => {
    expect(ASN1Obj.prototype.toDER.toString()).toContain('Buffer.concat');
    expect(ASN1Obj.prototype.toDER.toString()).not.toContain('appendView');
  });

  it("re-encodes every certificate byte for byte: Node's root store and the local Sigstore's CAs (Fulcio leaves: every verification test)", async () => {
    const stack = await startSigstoreStack();
    try {
      const root = stack.trustedRoot as {
        certificateAuthorities: Array<{ certChain: { certificates: Array<{ rawBytes: string }> } }>;
        timestampAuthorities: Array<{ certChain: { certificates: Array<{ rawBytes: string }> } }>;
      };
      const sigstore = [...root.certificateAuthorities, ...root.timestampAuthorities].flatMap((ca) =>
        ca.certChain.certificates.map((c) => Buffer.from(c.rawBytes, 'base64')),
      );
      const ders = [...rootCertificates.map(derOf), ...sigstore];
      expect(ders.length).toBeGreaterThan(100);
      for (const der of ders) {
        const cert = X509Certificate.parse(der);
        expect(createHash('sha256').update(cert.root.toDER()).digest('hex')).toBe(
          createHash('sha256').update(der).digest('hex'),
        );
        // The to-be-signed part, which signature checks hash, is the slice of the original it was parsed from.
        expect(der.includes(cert.tbsCertificate.toDER())).toBe(true);
      }
    } finally {
      await stack.stop();
    }
  });

  it('builds an encoding once and hands each caller its own copy', () => {
    const der = derOf(rootCertificates[0]!);
    const cert = X509Certificate.parse(der);
    const first = cert.root.toDER();
    first.fill(0);
    const second = cert.root.toDER();
    expect(second.equals(der)).toBe(true);
    expect(ASN1Obj.prototype.toDER.toString()).toContain('#der');
  });

  it('keeps certificate signature checks by bytes: the same answer again, and no answer for other bytes', async () => {
    const stack = await startSigstoreStack();
    try {
      const root = stack.trustedRoot as {
        certificateAuthorities: Array<{ certChain: { certificates: Array<{ rawBytes: string }> } }>;
      };
      const chain = root.certificateAuthorities[0]!.certChain.certificates.map((c) =>
        X509Certificate.parse(Buffer.from(c.rawBytes, 'base64')),
      );
      const ca = chain[chain.length - 1]!;
      const other = X509Certificate.parse(derOf(rootCertificates[0]!));
      expect(X509Certificate.prototype.verify.toString()).toContain('verifiedSignatures');
      for (let round = 0; round < 2; round++) {
        expect(ca.verify()).toBe(true); // self-signed
        expect(ca.verify(other)).toBe(false);
        expect(other.verify(ca)).toBe(false);
      }
      // One byte of the signature changed: a new certificate's own answer, not the kept one.
      const der = Buffer.from(ca.root.toDER());
      der.writeUInt8(der.readUInt8(der.length - 5) ^ 0x01, der.length - 5);
      expect(X509Certificate.parse(der).verify()).toBe(false);
      expect(ca.verify()).toBe(true);
    } finally {
      await stack.stop();
    }
  });

  it('makes one public key object per key', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    const a = sigstoreCrypto.createPublicKey(spki);
    expect(sigstoreCrypto.createPublicKey(Buffer.from(spki))).toBe(a);
    expect(sigstoreCrypto.createPublicKey(spki.toString('base64'))).toBe(a); // base64 of the same DER
    const { publicKey: another } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(sigstoreCrypto.createPublicKey(another.export({ format: 'der', type: 'spki' })).equals(a)).toBe(
      false,
    );
  });

  it('encodes long lengths (over 127 and over 65535 bytes) as DER does', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    for (const size of [0, 127, 128, 255, 256, 65_535, 65_536, 200_000]) {
      const octets = Buffer.concat([Buffer.from([0x04]), lengthOf(size), Buffer.alloc(size, 7)]);
      const seq = Buffer.concat([Buffer.from([0x30]), lengthOf(octets.length + spki.length), octets, spki]);
      expect(ASN1Obj.parseBuffer(seq).toDER().equals(seq)).toBe(true);
    }
  });
});

/** A DER length: short form below 128, else 0x80 | count and the big-endian bytes. */
function lengthOf(n: number): Buffer {
  if (n < 128) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
