import { createHash } from 'node:crypto';
import { parseDigest, type DigestAlgorithm } from './reference.js';

/** The content digest of `body`, e.g. `sha256:<hex>`. */
export function digestOf(body: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
}

/** Whether `body` hashes to `digest` (sha256 or sha512; throws InvalidReferenceError on an unsupported digest). */
export function matchesDigest(body: Uint8Array, digest: string): boolean {
  const { algorithm } = parseDigest(digest);
  return digestOf(body, algorithm) === digest;
}
