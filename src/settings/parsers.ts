/**
 * Parsers of raw input strings. Each names the input it reads in the InputError it throws, so a message always says
 * which input is wrong, what was given and what is expected.
 */
import path from 'node:path';
import { formatPlatform, parsePlatform, PlatformError, PLATFORM_FORM, splitList } from '../image/platform.js';
import type { Platform } from '../image/platform.js';
import { isValidTag } from '../registry/reference.js';
import { parseSize, SIZE_FORM } from '../policy/size.js';
import { parseMaxDbAge, MAX_DB_AGE_FORM } from '../scan/grype-db.js';
import { DEFAULT_SBOM_FORMATS, SBOM_FORMATS, SBOM_FORMATS_FORM } from '../scan/syft.js';
import type { SbomFormat } from '../scan/syft.js';
import { parseVersionInput } from '../tools/install.js';
import type { ToolName } from '../tools/pinned.js';
import { InputError } from './errors.js';

/** What parsers that look at files need; fs in the action, in-memory in tests. */
export interface ParseContext {
  /** Working directory relative paths resolve against (GITHUB_WORKSPACE). */
  workspace: string;
  fileExists: (p: string) => 'file' | 'directory' | 'missing';
  readText: (p: string) => string;
}

export { splitList };

/** Non-empty lines of a multi-line input; lines starting with # are comments. */
export function lines(raw: string): string[] {
  return raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** `true`/`false` (any case); anything else names the input. */
export function parseBoolean(name: string, raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InputError(name, raw, 'true or false');
}

/** `90s`, `15m`, `1h` (or plain seconds) → milliseconds. */
export function parseDuration(name: string, raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/i.exec(raw.trim());
  const amount = match ? Number(match[1]) : NaN;
  if (!match || !(amount > 0)) throw new InputError(name, raw, 'a duration such as 90s, 15m or 1h');
  const unit = (match[2] ?? 's').toLowerCase();
  return amount * (unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : 1000);
}

/** A whole number within [min, max]. */
export function parseWholeNumber(name: string, raw: string, min: number, max: number, unit = ''): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new InputError(name, raw, `a whole number${unit ? ` of ${unit}` : ''} from ${min} to ${max}`);
  }
  return value;
}

/** One of the allowed words (any case). */
export function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  const lower = value.toLowerCase();
  const hit = allowed.find((a) => a === lower);
  if (!hit) throw new InputError(name, value, `one of ${allowed.join(', ')}`);
  return hit;
}

/** `KEY=VALUE` lines whose keys match a pattern. */
export function keyValueLines(
  name: string,
  raw: string,
  keyPattern: RegExp,
  keyWhat: string,
): Array<[string, string]> {
  return lines(raw).map((line) => {
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq).trim();
    if (eq <= 0 || !keyPattern.test(key)) {
      throw new InputError(name, line, `one KEY=VALUE per line, KEY being ${keyWhat}`);
    }
    return [key, line.slice(eq + 1)];
  });
}

/** os/arch[/variant] entries, each once (aliases such as linux/aarch64 count as their canonical platform). */
export function parsePlatforms(raw: string): Platform[] {
  const items = splitList(raw);
  if (items.length === 0) throw new InputError('platforms', raw, `one or more platforms, ${PLATFORM_FORM}`);
  const seen = new Set<string>();
  return items.map((item) => {
    let platform: Platform;
    try {
      platform = parsePlatform(item);
    } catch (error) {
      if (error instanceof PlatformError) throw new InputError('platforms', item, PLATFORM_FORM);
      throw error;
    }
    const key = formatPlatform(platform);
    if (seen.has(key)) throw new InputError('platforms', item, `each platform once (${key} is listed twice)`);
    seen.add(key);
    return platform;
  });
}

/** Docker tag names, comma or newline separated. */
export function parseTags(raw: string, name = 'tags'): string[] {
  const tags = splitList(raw);
  for (const tag of tags) {
    if (!isValidTag(tag)) {
      throw new InputError(
        name,
        tag,
        'tag names (letters, digits, _ . -, not starting with . or -, at most 128 characters), comma or newline separated',
      );
    }
  }
  return tags;
}

/** Registry hosts (no scheme, no path), comma or newline separated. */
export function parseRegistryHosts(name: string, raw: string): string[] {
  const hosts = splitList(raw);
  for (const host of hosts) {
    if (/[/\s]/.test(host) || host.includes('://'))
      throw new InputError(
        name,
        host,
        'registry hosts such as registry.lan:5000, comma or newline separated',
      );
  }
  return hosts;
}

/** The `sbom-formats` list: known formats, deduplicated; empty means the default. */
export function parseSbomFormats(raw: string): SbomFormat[] {
  const items = splitList(raw).map((item) => item.toLowerCase());
  if (items.length === 0) return [...DEFAULT_SBOM_FORMATS];
  const formats: SbomFormat[] = [];
  for (const item of items) {
    if (!(SBOM_FORMATS as readonly string[]).includes(item)) {
      throw new InputError('sbom-formats', raw.trim(), `${SBOM_FORMATS_FORM} (unknown format "${item}")`);
    }
    if (!formats.includes(item as SbomFormat)) formats.push(item as SbomFormat);
  }
  return formats;
}

/** `max-db-age` (`5d`, `36h`): checked here, kept as written for messages. */
export function parseMaxDbAgeInput(raw: string): string {
  try {
    parseMaxDbAge(raw);
  } catch {
    throw new InputError('max-db-age', raw.trim(), MAX_DB_AGE_FORM);
  }
  return raw;
}

/** `default`, `path` or a release version of a scanner. */
export function parseToolVersion(tool: ToolName, raw: string): string {
  parseVersionInput(tool, raw);
  return raw;
}

/** An http(s) URL without trailing slashes; `off` where allowed. */
export function parseUrl(name: string, raw: string, allowOff = false): string | undefined {
  if (!raw) return undefined;
  if (allowOff && raw === 'off') return raw;
  if (!/^https?:\/\/[^\s/]+/.test(raw))
    throw new InputError(name, raw, 'an http(s) URL such as https://fulcio.sigstore.dev');
  return raw.replace(/\/+$/, '');
}

/** `grype-db-url`: https, or http only to this machine (a loopback mirror); undefined when not given. */
export function parseGrypeDbUrl(raw: string): string | undefined {
  const url = parseUrl('grype-db-url', raw);
  if (url?.startsWith('http:') && !/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/.test(url))
    throw new InputError('grype-db-url', raw, 'an https URL (plain http only to 127.0.0.1 or localhost)');
  return url;
}

/** A path relative to the workspace that must be an existing file; undefined when not given. */
export function parseExistingFile(
  name: string,
  raw: string,
  ctx: ParseContext,
  expected: (resolved: string) => string,
): string | undefined {
  if (!raw) return undefined;
  const resolved = path.resolve(ctx.workspace, raw);
  if (ctx.fileExists(resolved) !== 'file') throw new InputError(name, raw, expected(resolved));
  return resolved;
}

/** A size such as 4GiB or 2000MB (policy's size grammar), e.g. `offline-bundle-max-size`. */
export function parseMaxSize(name: string, raw: string): number {
  try {
    return parseSize(raw);
  } catch {
    throw new InputError(name, raw, SIZE_FORM);
  }
}
