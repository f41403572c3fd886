/**
 * Checks a blob read as a stream against its digest (and size, when known) while the bytes pass on, and
 * makes a read that broke off restartable: the next read starts from the first byte again, the bytes the
 * reader already has are held back (and must hash the same as what was passed on: the registry may not
 * change a blob under its digest), then the read carries on where the reader is. The digest is checked when
 * the read ends, so a reader sees a wrong blob fail before its end, never end cleanly.
 *
 * Pure (hashing only); RegistryClient.blobStream does the reading.
 */
import { createHash, type Hash } from 'node:crypto';
import { parseDigest, type DigestAlgorithm } from './reference.js';

/** The bytes read are not the blob the digest (or size) names. */
export class BlobCheckError extends Error {
  override name = 'BlobCheckError';
}

export class BlobCheck {
  readonly #digest: string;
  readonly #algorithm: DigestAlgorithm;
  readonly #size: number | undefined;
  #hash: Hash;
  /** Bytes passed on to the reader, over all reads. */
  #passed = 0;
  /** Bytes of the current read. */
  #seen = 0;
  /** The hash of the bytes passed on, while a new read has not reached them yet. */
  #prefix: string | undefined;

  constructor(digest: string, size?: number) {
    this.#digest = digest;
    this.#algorithm = parseDigest(digest).algorithm;
    this.#size = size;
    this.#hash = createHash(this.#algorithm);
  }

  /** Bytes passed on to the reader so far. */
  get passed(): number {
    return this.#passed;
  }

  /** A new read from the first byte (after one that broke off). */
  restart(): void {
    // A read that broke off again before reaching the bytes passed on keeps the prefix it was checking.
    if (this.#prefix === undefined && this.#passed > 0) this.#prefix = this.#hash.copy().digest('hex');
    this.#hash = createHash(this.#algorithm);
    this.#seen = 0;
  }

  /** The part of `chunk` to pass on: all of it, or what lies beyond the bytes passed on already. */
  take(chunk: Uint8Array): Buffer {
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const start = this.#seen;
    this.#seen += data.length;
    if (this.#size !== undefined && this.#seen > this.#size) {
      throw new BlobCheckError(`the registry sent more than the ${this.#size} bytes the blob has`);
    }
    if (start >= this.#passed) {
      this.#hash.update(data);
      this.#passed += data.length;
      return data;
    }
    const held = Math.min(data.length, this.#passed - start);
    this.#hash.update(data.subarray(0, held));
    if (start + held === this.#passed) {
      if (this.#hash.copy().digest('hex') !== this.#prefix) {
        throw new BlobCheckError(
          `read again after a broken connection, the first ${this.#passed} bytes differ from the first read`,
        );
      }
      this.#prefix = undefined;
    }
    const rest = data.subarray(held);
    this.#hash.update(rest);
    this.#passed += rest.length;
    return rest;
  }

  /** At the end of a read: throws when the bytes fall short of the size or do not hash to the digest. */
  finish(): void {
    if (this.#seen < this.#passed || (this.#size !== undefined && this.#seen !== this.#size)) {
      throw new BlobCheckError(
        `the registry sent ${this.#seen} bytes, the blob has ${this.#size ?? this.#passed}`,
      );
    }
    const got = `${this.#algorithm}:${this.#hash.digest('hex')}`;
    if (got !== this.#digest) throw new BlobCheckError(`the ${this.#seen} bytes received hash to ${got}`);
  }
}
