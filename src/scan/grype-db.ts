/**
 * Grype's vulnerability database: argv builders and parsers (pure), and `ensureGrypeDb`, which
 * restores the database from the Actions cache, updates it at most once a day, saves it when a newer
 * build arrived, and refuses (fails closed) when the database is older than `max-db-age`.
 *
 * `grype db status -o json` prints, for grype ≥ 0.88 (schema v6):
 *   {"schemaVersion":"v6.0.2","from":"https://…","built":"2025-06-04T11:12:37Z",
 *    "path":"/…/grype/db/6/vulnerability.db","valid":true}
 * with `"valid": false` and an `"error"` (and exit code 1) when the database is missing, corrupt or
 * older than GRYPE_DB_MAX_ALLOWED_BUILT_AGE. Older grype printed `location`/`error` in JSON, and the
 * text form `Location:  …` / `Built:     2023-09-14 20:10:52 +0000 UTC` / `Schema:    5` /
 * `Status:    valid`; all of these are read.
 */
import type { Exec, ExecResult } from '../process/exec.js';
import { describeFailure } from '../process/exec.js';
import { grypeEnvironment } from './grype.js';
import { isRecord } from '../validation/json.js';

export function grypeDbStatusArgs(): string[] {
  return ['db', 'status', '-o', 'json'];
}

export function grypeDbUpdateArgs(): string[] {
  return ['db', 'update'];
}

export interface GrypeDbStatus {
  /** When the database was built; the Unix epoch when no database is installed (see `present`). */
  built: Date;
  /** False when grype reports no database at all. */
  present: boolean;
  /** `v6.0.2` (v6) or `5` (legacy). */
  schemaVersion: string;
  /** The database file (v6 `path`) or directory (legacy `location`). */
  location: string;
  /** Grype's own verdict (checksum, schema and age under the configured maximum). */
  valid: boolean;
  /** Grype's reason when not valid. */
  error?: string;
}

export class GrypeDbError extends Error {
  override name = 'GrypeDbError';
}

type Json = Record<string, unknown>;

/** Parses RFC 3339 (`2025-06-04T11:12:37Z`) and Go's time.String() (`2023-09-14 20:10:52 +0000 UTC`). */
export function parseGrypeTime(raw: string): Date | undefined {
  const match =
    /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?(?:\s+[A-Z]{2,5})?(?:\s+m=.*)?$/.exec(
      raw.trim(),
    );
  if (!match) return undefined;
  const fraction = match[3] ? match[3].slice(0, 4) : '';
  const zone = match[4] ?? 'Z';
  const offset = zone === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const date = new Date(`${match[1]}T${match[2]}${fraction}${offset}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const EPOCH = new Date(0);

function statusFrom(
  builtRaw: string | undefined,
  schema: string,
  location: string,
  validFlag: boolean | undefined,
  error: string | undefined,
): GrypeDbStatus {
  const parsed = builtRaw ? parseGrypeTime(builtRaw) : undefined;
  // Go's zero time (0001-01-01) is what grype prints when no database is installed.
  const present = parsed !== undefined && parsed.getUTCFullYear() >= 2000;
  const valid = present && (validFlag ?? !error);
  return {
    built: present ? parsed : EPOCH,
    present,
    schemaVersion: schema,
    location,
    valid,
    ...(error ? { error } : {}),
  };
}

function parseJsonStatus(doc: Json): GrypeDbStatus {
  const str = (value: unknown): string | undefined =>
    typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
  const error = str(doc.error) || undefined;
  const valid = typeof doc.valid === 'boolean' ? doc.valid : undefined;
  return statusFrom(
    str(doc.built),
    str(doc.schemaVersion) ?? '',
    str(doc.path) ?? str(doc.location) ?? '',
    valid,
    error,
  );
}

function parseTextStatus(text: string): GrypeDbStatus | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(Location|Path|Built|Schema|Checksum|Status|Error):\s*(.*?)\s*$/i.exec(line);
    if (match) fields.set(match[1]!.toLowerCase(), match[2]!);
  }
  if (!fields.has('built') && !fields.has('status')) return undefined;
  const status = fields.get('status')?.toLowerCase();
  return statusFrom(
    fields.get('built'),
    fields.get('schema') ?? '',
    fields.get('path') ?? fields.get('location') ?? '',
    status === undefined ? undefined : status === 'valid',
    fields.get('error') || (status && status !== 'valid' ? `status ${status}` : undefined),
  );
}

/** Parses `grype db status` output (JSON of any grype version, or the text form). */
export function parseDbStatus(stdout: string): GrypeDbStatus {
  const start = stdout.indexOf('{');
  const end = stdout.lastIndexOf('}');
  if (start !== -1 && end > start) {
    try {
      const doc: unknown = JSON.parse(stdout.slice(start, end + 1));
      if (isRecord(doc)) return parseJsonStatus(doc);
    } catch {
      // fall through to the text form
    }
  }
  const text = parseTextStatus(stdout);
  if (text) return text;
  throw new GrypeDbError(
    `Could not read the output of "grype db status": ${stdout.trim() === '' ? 'it printed nothing' : JSON.stringify(stdout.trim().slice(0, 300))}`,
  );
}

/** How the `max-db-age` input is written. */
export const MAX_DB_AGE_FORM = 'a positive number of days or hours such as 5d, 36h or 120h';

/** `max-db-age`: `5d`, `36h`, `120h` → hours. */
export function parseMaxDbAge(raw: string): number {
  const value = raw.trim() === '' ? '5d' : raw.trim();
  const match = /^(\d+(?:\.\d+)?)\s*([dh])$/i.exec(value);
  const amount = match ? Number(match[1]) : NaN;
  if (!match || !(amount > 0)) {
    throw new GrypeDbError(`Input "max-db-age": "${raw.trim()}" is not valid; expected ${MAX_DB_AGE_FORM}`);
  }
  return match[2]!.toLowerCase() === 'd' ? amount * 24 : amount;
}

function utcDate(now: Date): string {
  return now.toISOString().slice(0, 10);
}

function schemaPart(schema?: string): string {
  if (!schema) return '';
  const major = /^v?(\d+)/.exec(schema.trim())?.[1];
  return major ? `v${major}-` : '';
}

/** Prefix of every cache key for one runner OS/arch (and DB schema, when given). */
export function dbRestoreKeys(platform: string, arch: string, schema?: string): string[] {
  return [`edgeship-grype-db-${platform}-${arch}-${schemaPart(schema)}`];
}

/** `edgeship-grype-db-linux-x64-2026-10-05` (or `…-x64-v6-2026-10-05` with a schema): one key per UTC day. */
export function dbCacheKey(now: Date, platform: string, arch: string, schema?: string): string {
  return `${dbRestoreKeys(platform, arch, schema)[0]!}${utcDate(now)}`;
}

export interface GrypeDbDeps {
  exec: Exec;
  /** The grype executable. */
  grype: string;
  /** GRYPE_DB_CACHE_DIR, the directory that is cached. */
  dbCacheDir: string;
  /** The `max-db-age` input (default `5d`). */
  maxDbAge: string;
  /** The `grype-db-url` input: where the database listing is downloaded from (grype's default when absent). */
  updateUrl?: string;
  platform: string;
  arch: string;
  /** DB schema major to separate cache keys by (e.g. `6`), optional. */
  schema?: string;
  now(): Date;
  /** @actions/cache restoreCache: the key that was restored, or undefined on a miss. */
  restoreCache(paths: string[], primaryKey: string, restoreKeys: string[]): Promise<string | undefined>;
  /** @actions/cache saveCache: the cache id, or -1 when nothing was saved (the reason is already logged). */
  saveCache(paths: string[], key: string): Promise<number>;
  log: { info(message: string): void; warning(message: string): void };
  statusTimeoutMs?: number;
  updateTimeoutMs?: number;
}

export interface GrypeDbResult {
  status: GrypeDbStatus;
  /** Today's cache key. */
  cacheKey: string;
  restoredKey?: string;
  /** Whether `grype db update` was run. */
  updated: boolean;
  /** The key the database was saved under, when it was saved. */
  savedKey?: string;
  /** Age of the database build at `now()`, in hours. */
  ageHours: number;
  /** The environment grype must be run with to use this database (no auto-update, age enforced). */
  env: Record<string, string>;
}

function formatAge(hours: number): string {
  if (hours < 48) return `${Math.round(hours)} hours`;
  return `${(hours / 24).toFixed(1)} days`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function ensureGrypeDb(deps: GrypeDbDeps): Promise<GrypeDbResult> {
  const maxHours = parseMaxDbAge(deps.maxDbAge);
  const now = deps.now();
  const key = dbCacheKey(now, deps.platform, deps.arch, deps.schema);
  const env = grypeEnvironment({
    dbCacheDir: deps.dbCacheDir,
    maxDbAgeHours: maxHours,
    ...(deps.updateUrl ? { updateUrl: deps.updateUrl } : {}),
  });
  const restoredKey = await restoreDb(deps, key);
  // Nothing restored: the directory is this run's, so only the update can fill it, and what it holds is read after
  // the update (before it only when the update fails: a runner that keeps its temp dir may hold an older build).
  let before = restoredKey ? await readDbStatus(deps, env) : undefined;
  const exactHit = restoredKey === key;
  let after = before;
  let updated = false;
  if (!exactHit || !before?.present || !before.valid) {
    ({ before, after } = await updateDb(deps, env, before, exactHit));
    updated = true;
  } else {
    deps.log.info(
      `The grype database restored from today's cache (built ${before.built.toISOString()}) is used as is`,
    );
  }
  if (!after?.present) {
    throw new GrypeDbError(
      `No grype vulnerability database is installed after the update${after?.error ? ` (${after.error})` : ''}. ` +
        'Check that the runner can reach the grype database host and that the cache directory is writable, then re-run',
    );
  }
  const buildChanged = !before?.present || before.built.getTime() !== after.built.getTime();
  const savedKey = buildChanged && restoredKey !== key ? await saveDb(deps, key, after) : undefined;
  const ageHours = (now.getTime() - after.built.getTime()) / 3_600_000;
  assertUsable(deps, after, { ageHours, maxHours, updated });
  deps.log.info(
    `grype database: schema ${after.schemaVersion}, built ${after.built.toISOString()} (${formatAge(ageHours)} old)`,
  );
  return {
    status: after,
    cacheKey: key,
    ...(restoredKey ? { restoredKey } : {}),
    updated,
    ...(savedKey ? { savedKey } : {}),
    ageHours,
    env,
  };
}

/** The database from the Actions cache: the key restored, or undefined (a miss, or a cache that failed: warned). */
async function restoreDb(deps: GrypeDbDeps, key: string): Promise<string | undefined> {
  const restoreKeys = dbRestoreKeys(deps.platform, deps.arch, deps.schema);
  let restoredKey: string | undefined;
  try {
    restoredKey = await deps.restoreCache([deps.dbCacheDir], key, restoreKeys);
  } catch (error) {
    deps.log.warning(
      `Could not restore the grype database from the Actions cache (${errorText(error)}); it will be downloaded`,
    );
  }
  deps.log.info(
    restoredKey
      ? `Restored the grype database from cache key ${restoredKey}`
      : `No cached grype database for ${restoreKeys[0]!}*`,
  );
  return restoredKey;
}

/** `grype db status`: what is installed. A failure with no parsable status counts as no usable database. */
async function readDbStatus(deps: GrypeDbDeps, env: Record<string, string>): Promise<GrypeDbStatus> {
  const result: ExecResult = await deps.exec(deps.grype, grypeDbStatusArgs(), {
    env,
    timeoutMs: deps.statusTimeoutMs ?? 120_000,
  });
  if (result.failure) {
    throw new GrypeDbError(`Could not run "grype db status": ${describeFailure(deps.grype, result)}`);
  }
  try {
    return parseDbStatus(result.stdout);
  } catch (error) {
    if (result.exitCode === 0) throw error;
    // No parsable status and a failure: treat as no usable database; the update decides.
    return {
      built: new Date(0),
      present: false,
      schemaVersion: '',
      location: '',
      valid: false,
      error: describeFailure(deps.grype, result),
    };
  }
}

/**
 * `grype db update`, then what is installed (`after`). A failed update keeps a database that was there (warned;
 * its age is still checked), read first when nothing was restored (`before`), and fails when there was none.
 */
async function updateDb(
  deps: GrypeDbDeps,
  env: Record<string, string>,
  restored: GrypeDbStatus | undefined,
  exactHit: boolean,
): Promise<{ before: GrypeDbStatus | undefined; after: GrypeDbStatus }> {
  let before = restored;
  deps.log.info(
    before?.present
      ? `Updating the grype database (current build ${before.built.toISOString()}${exactHit ? ', not valid' : `, cache not from today`})`
      : `Downloading the grype database (${before ? 'none installed' : 'none restored'})`,
  );
  const result = await deps.exec(deps.grype, grypeDbUpdateArgs(), {
    env,
    timeoutMs: deps.updateTimeoutMs ?? 900_000,
  });
  if (result.exitCode !== 0 || result.failure) {
    const why = describeFailure(deps.grype, result);
    before ??= await readDbStatus(deps, env);
    if (!before.present) {
      throw new GrypeDbError(
        `Could not download the grype vulnerability database and none was cached: ${why}\n` +
          `Check that the runner can reach the grype database host (${deps.updateUrl ?? 'grype.anchore.io over HTTPS'}), then re-run the job`,
      );
    }
    deps.log.warning(
      `grype db update failed; continuing with the cached database if it is recent enough. ${why}`,
    );
  }
  return { before, after: await readDbStatus(deps, env) };
}

/** Saves a new build under today's key: the key, or undefined when nothing was saved (the reason is logged). */
async function saveDb(deps: GrypeDbDeps, key: string, after: GrypeDbStatus): Promise<string | undefined> {
  try {
    if ((await deps.saveCache([deps.dbCacheDir], key)) === -1) return undefined;
    deps.log.info(`Saved the grype database (built ${after.built.toISOString()}) under cache key ${key}`);
    return key;
  } catch (error) {
    deps.log.warning(
      `Could not save the grype database to the Actions cache under ${key}: ${errorText(error)}`,
    );
    return undefined;
  }
}

/** Fails closed on a database older than `max-db-age` or one grype calls invalid. */
function assertUsable(
  deps: GrypeDbDeps,
  after: GrypeDbStatus,
  age: { ageHours: number; maxHours: number; updated: boolean },
): void {
  if (age.ageHours > age.maxHours) {
    throw new GrypeDbError(
      `The grype vulnerability database was built ${after.built.toISOString()} (${formatAge(age.ageHours)} ago), ` +
        `older than max-db-age ${deps.maxDbAge.trim() || '5d'} (${age.maxHours} hours); refusing to scan with stale data. ` +
        (age.updated
          ? 'Updating it did not bring a newer build: check that the runner can reach the grype database host, '
          : '') +
        'or raise max-db-age if older vulnerability data is acceptable.',
    );
  }
  if (!after.valid) {
    throw new GrypeDbError(
      `The grype vulnerability database at ${after.location || deps.dbCacheDir} is not valid: ${after.error ?? 'grype reported it invalid'}. ` +
        'Delete the cached database (or the Actions cache entry) and re-run so a fresh one is downloaded',
    );
  }
}
