import { PolicyError } from './errors.js';

/** Byte sizes as people write them: 150MB, 150 MiB, 157286400, 1.5GB (kB/MB/GB 1000-based, KiB/MiB/GiB 1024-based). */

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

export const SIZE_FORM =
  'a number of bytes or a number with a unit: kB, MB, GB, TB (1000-based) or KiB, MiB, GiB, TiB (1024-based), ' +
  'e.g. 150MB, 150 MiB, 1.5GB or 157286400';

/** Bytes (a positive whole number) for a size string; throws PolicyError saying what is accepted. */
export function parseSize(raw: string): number {
  const text = String(raw).trim();
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/i.exec(text);
  const multiplier = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || multiplier === undefined) {
    throw new PolicyError(`${JSON.stringify(raw)} is not a size; expected ${SIZE_FORM}`);
  }
  const bytes = Math.round(Number(m[1]) * multiplier);
  if (!Number.isSafeInteger(bytes)) throw new PolicyError(`${JSON.stringify(raw)} is too large a size`);
  if (bytes < 1) throw new PolicyError(`${JSON.stringify(raw)} is not a size greater than zero`);
  return bytes;
}

/** "164.2 MB (164234567 bytes)" style text for messages. */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  const shown = unit === 0 ? String(value) : `${Number(value.toFixed(1))} ${units[unit]}`;
  return unit === 0 ? `${shown} B` : `${shown} (${bytes} bytes)`;
}
