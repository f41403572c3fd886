/**
 * A minimal POSIX ustar writer: regular files only, fixed owner (0/0), mode 0644 and mtime, so the same
 * entries always give the same bytes. The one tar library in node_modules (tar-stream, via @actions/artifact's
 * archiver) adds about 40 kB to the bundled action, where this needs a few hundred bytes and bundles need
 * nothing more than files.
 *
 * Pure: headers and padding are Buffers; the caller writes them where it wants.
 */

const BLOCK = 512;
/** ustar stores sizes as 11 octal digits: 8 GiB - 1 at most. */
export const MAX_ENTRY_BYTES = 8 ** 11 - 1;

export class TarError extends Error {
  override name = 'TarError';
}

/** Splits a path into ustar's prefix (≤ 155 bytes) and name (≤ 100 bytes). */
function splitName(file: string): { name: string; prefix: string } {
  if (Buffer.byteLength(file) <= 100) return { name: file, prefix: '' };
  const cut = file.lastIndexOf('/', 155);
  const prefix = cut > 0 ? file.slice(0, cut) : '';
  const name = cut > 0 ? file.slice(cut + 1) : file;
  if (!prefix || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) {
    throw new TarError(`${file}: the path is too long for a ustar archive (name ≤ 100, prefix ≤ 155 bytes)`);
  }
  return { name, prefix };
}

const octal = (value: number, width: number) => `${value.toString(8).padStart(width - 1, '0')}\0`;

/** The 512-byte header of a regular file of `size` bytes. */
export function tarHeader(file: string, size: number, mtime = 0): Buffer {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_ENTRY_BYTES) {
    throw new TarError(`${file}: ${size} bytes do not fit a ustar entry (at most ${MAX_ENTRY_BYTES})`);
  }
  const { name, prefix } = splitName(file);
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(0o644, 8), 100);
  header.write(octal(0, 8), 108);
  header.write(octal(0, 8), 116);
  header.write(octal(size, 12), 124);
  header.write(octal(mtime, 12), 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}

/** Zero bytes that complete an entry of `size` bytes to a whole block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The end-of-archive marker: two zero blocks. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

/** Bytes an entry of `size` bytes takes in the archive (header, data, padding). */
export function tarEntryBytes(size: number): number {
  return BLOCK + size + tarPadding(size).length;
}
