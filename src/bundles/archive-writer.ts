/**
 * Writes bundle files as a compressed tar: one compressed frame per call (zstd frames and gzip members
 * concatenate into one valid stream), so a bundle is written in two parts — the image
 * first, whose bytes and sha256 the deployment manifest pins, then signatures, the signed manifest and sums, which
 * cannot name their own digest. Node's zlib does both compressions (zstd since Node 22.15/23.8).
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { BundleCompression, BundleFile } from './layout.js';
import { TAR_END, tarHeader, tarPadding } from './tar.js';

/** What one frame added to the file, its sha256 (see `whole`), and the sha256 of every file in it (hex). */
export interface WrittenFrame {
  bytes: number;
  sha256: string;
  files: Array<{ path: string; sha256: string }>;
}

/** Files opened (reading ahead) while one is written. */
const READ_AHEAD = 1;
/** Bytes handed to the compressor at a time. */
const BLOCK = 1 << 20;

/** The compressor bundles are written with (exported for the bench, which compares it with the `zstd` CLI). */
export function compressor(compression: BundleCompression): Transform {
  // Large chunks: the default 16 kB makes one thread-pool round trip per 16 kB of a layer.
  const chunkSize = 1 << 20;
  if (compression === 'gzip') return zlib.createGzip({ chunkSize });
  const zstd = (zlib as { createZstdCompress?: (o?: object) => Transform }).createZstdCompress;
  if (!zstd)
    throw new Error(`offline-compression zstd needs Node 22.15 or later (this is ${process.version})`);
  // Level 3 (zstd's and the `zstd` CLI's default, said explicitly), with a checksum per frame like the CLI: layers
  // are compressed already, a higher level buys little. One worker: the CLI's default too, and extra workers cost
  // more than they give on a few MB (measured: 25 ms single-threaded against 76 ms with 2 workers for 8 MB).
  // Measured against the CLI (zstd 1.5.4 here, Node 24 has 1.5.7) on one input, the bench's skopeo archive:
  // in 12 of 16 runs 170 to 2,600 bytes smaller per 4 MB, in 4 21 to 65 bytes larger; level 1 is 0.01%
  // larger than level 3 and level 5 only 0.001% smaller while slower on layers that are not compressed.
  const { ZSTD_c_checksumFlag, ZSTD_c_compressionLevel } = zlib.constants as unknown as {
    ZSTD_c_checksumFlag: number;
    ZSTD_c_compressionLevel: number;
  };
  return zstd({ chunkSize, params: { [ZSTD_c_compressionLevel]: 3, [ZSTD_c_checksumFlag]: 1 } });
}

/**
 * Appends `files` (and, when `end`, the end-of-archive marker) to `file` as one compressed frame. Blobs
 * stream from where they are read through the tar writer and the compressor into the file; the next
 * READ_AHEAD files are opened while one is written, each reading at most its stream's read-ahead (a few
 * MB) before it is written, so memory stays bounded whatever the blob sizes. A file that fails (a broken
 * download given up, a digest mismatch) fails the frame; a first frame that fails is removed.
 */
export async function writeFrame(
  file: string,
  files: readonly BundleFile[],
  options: {
    compression: BundleCompression;
    append: boolean;
    end: boolean;
    /**
     * The file's running hash across frames (no read-back): `sha256` is then of everything it was fed, which
     * for a first frame is the frame itself.
     */
    whole?: Hash;
  },
): Promise<WrittenFrame> {
  const sums: WrittenFrame['files'] = [];
  async function* tar() {
    // Small pieces (tar headers, a download's 16-64 kB chunks) go to the compressor in blocks of about
    // BLOCK bytes: each write is one round trip to the thread pool.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const piece of entries()) {
      pending.push(piece);
      pendingBytes += piece.length;
      if (pendingBytes >= BLOCK) {
        yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
      }
    }
    if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
  }
  async function* entries() {
    const opened: Array<Buffer | Readable | undefined> = [];
    const open = (i: number) => {
      const entry = files[i];
      if (!entry || i in opened) return;
      const content = entry.content();
      // Read by the loop below when its turn comes; a failure meanwhile must not go unhandled.
      if (!Buffer.isBuffer(content)) content.on('error', () => undefined);
      opened[i] = content;
    };
    try {
      for (const [i, entry] of files.entries()) {
        for (let next = i; next <= i + READ_AHEAD; next++) open(next);
        const content = opened[i]!;
        opened[i] = undefined;
        yield tarHeader(entry.path, entry.size);
        // A known sha256 was checked where the data came from (RegistryClient.blobStream, memoryFile).
        const hash = entry.sha256 ? undefined : createHash('sha256');
        let bytes = 0;
        for await (const chunk of Buffer.isBuffer(content) ? [content] : content) {
          const data = chunk as Buffer;
          bytes += data.length;
          hash?.update(data);
          yield data;
        }
        if (bytes !== entry.size)
          throw new Error(`${entry.path}: expected ${entry.size} bytes, read ${bytes}`);
        sums.push({ path: entry.path, sha256: entry.sha256 ?? hash!.digest('hex') });
        yield tarPadding(entry.size);
      }
      if (options.end) yield TAR_END;
    } finally {
      for (const content of opened) if (content && !Buffer.isBuffer(content)) content.destroy();
    }
  }
  const hash = options.whole ?? createHash('sha256');
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.from(tar()),
      compressor(options.compression),
      count,
      createWriteStream(file, { flags: options.append ? 'a' : 'w' }),
    );
  } catch (error) {
    if (!options.append) await rm(file, { force: true });
    throw error;
  }
  return { bytes, sha256: hash.copy().digest('hex'), files: sums };
}
