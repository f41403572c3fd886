import { describe, expect, it } from 'vitest';
import {
  dbCacheKey,
  dbRestoreKeys,
  ensureGrypeDb,
  grypeDbStatusArgs,
  grypeDbUpdateArgs,
  parseDbStatus,
  parseGrypeTime,
  parseMaxDbAge,
} from '../../../src/scan/grype-db.js';
import type { GrypeDbDeps } from '../../../src/scan/grype-db.js';
import type { Exec, ExecOptions } from '../../../src/process/exec.js';

describe('grype db argv', () => {
  it('asks for JSON status and a plain update', () => {
    expect(grypeDbStatusArgs()).toEqual(['db', 'status', '-o', 'json']);
    expect(grypeDbUpdateArgs()).toEqual(['db', 'update']);
  });
});

describe('parseDbStatus', () => {
  it('reads the current JSON form (grype ≥ 0.88, schema v6)', () => {
    // `grype db status -o json`, as printed in a public project's docs (grype with DB v6.0.2).
    const stdout = `{
 "schemaVersion": "v6.0.2",
 "from": "https://grype.anchore.io/databases/v6/vulnerability-db_v6.0.2_2025-06-04T01:32:23Z_1749035557.tar.zst?checksum=sha256%3A77238f4ffbc7cf72bf4dedabbb21a3d0dd3ade90fb5d9df7c4da2870f8d1a9b7",
 "built": "2025-06-04T11:12:37Z",
 "path": "/home/hc_user/.cache/grype/db/6/vulnerability.db",
 "valid": true
}
`;
    expect(parseDbStatus(stdout)).toEqual({
      built: new Date('2025-06-04T11:12:37Z'),
      present: true,
      schemaVersion: 'v6.0.2',
      location: '/home/hc_user/.cache/grype/db/6/vulnerability.db',
      valid: true,
    });
  });

  it('reads the early v6 JSON form with checksum and error (grype db_status_test.go)', () => {
    const invalid = `{
 "schemaVersion": "6.0.0",
 "built": "2024-11-27T14:43:17Z",
 "path": "/Users/test/Library/Caches/grype/db/6/vulnerability.db",
 "checksum": "xxh64:89d3ae128f6e718e",
 "error": "checksum mismatch"
}`;
    expect(parseDbStatus(invalid)).toMatchObject({
      built: new Date('2024-11-27T14:43:17Z'),
      present: true,
      valid: false,
      error: 'checksum mismatch',
    });
    expect(parseDbStatus(invalid.replace('checksum mismatch', ''))).toMatchObject({ valid: true });
  });

  it('reads a stale database as present but invalid', () => {
    const stale = JSON.stringify({
      schemaVersion: 'v6.1.9',
      built: '2026-09-20T04:10:00Z',
      path: '/c/6/vulnerability.db',
      valid: false,
      error: 'the vulnerability database was built 2 weeks ago (max allowed age is 5 days)',
    });
    expect(parseDbStatus(stale)).toMatchObject({
      present: true,
      valid: false,
      built: new Date('2026-09-20T04:10:00Z'),
    });
  });

  it('reads a missing database (Go zero time) as not present', () => {
    const missing = JSON.stringify({
      schemaVersion: '',
      built: '0001-01-01T00:00:00Z',
      path: '',
      valid: false,
      error: 'database not found at "/c/6/vulnerability.db"',
    });
    expect(parseDbStatus(missing)).toEqual({
      built: new Date(0),
      present: false,
      schemaVersion: '',
      location: '',
      valid: false,
      error: 'database not found at "/c/6/vulnerability.db"',
    });
  });

  it('reads the legacy JSON form (schema 5, location, error null)', () => {
    const legacy = `{
      "built": "2026-02-15T01:16:13Z",
      "schemaVersion": 5,
      "location": "/root/.cache/grype/db/5",
      "checksum": "sha256:a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2",
      "error": null
    }`;
    expect(parseDbStatus(legacy)).toEqual({
      built: new Date('2026-02-15T01:16:13Z'),
      present: true,
      schemaVersion: '5',
      location: '/root/.cache/grype/db/5',
      valid: true,
    });
  });

  it('reads the legacy text form', () => {
    // `grype db status` (schema 5), as printed in a public air-gap guide.
    const text = `Location:  grype/db/5
Built:     2023-09-14 20:10:52 +0000 UTC
Schema:    5
Checksum:  sha256:7e7d3b6253c11a4bb10c4896e7cee895984ca2993fdd7fc907e4fb077d4d6a20
Status:    valid
`;
    expect(parseDbStatus(text)).toEqual({
      built: new Date('2023-09-14T20:10:52Z'),
      present: true,
      schemaVersion: '5',
      location: 'grype/db/5',
      valid: true,
    });
  });

  it('reads the v6 text form (grype db_status_test.go)', () => {
    const text = `Path:      /Users/test/Library/Caches/grype/db/6/vulnerability.db
Schema:    6.0.0
Built:     2024-11-27T14:43:17Z
Checksum:  xxh64:89d3ae128f6e718e
Status:    invalid
`;
    expect(parseDbStatus(text)).toEqual({
      built: new Date('2024-11-27T14:43:17Z'),
      present: true,
      schemaVersion: '6.0.0',
      location: '/Users/test/Library/Caches/grype/db/6/vulnerability.db',
      valid: false,
      error: 'status invalid',
    });
  });

  it('fails on output it cannot read', () => {
    expect(() => parseDbStatus('')).toThrow(
      'Could not read the output of "grype db status": it printed nothing',
    );
    expect(() => parseDbStatus('segfault')).toThrow(/"segfault"/);
  });

  it('parses Go time strings with offsets and fractions', () => {
    expect(parseGrypeTime('2023-01-10 08:17:04.123456789 -0500 EST')).toEqual(
      new Date('2023-01-10T13:17:04.123Z'),
    );
    expect(parseGrypeTime('2025-06-04T11:12:37+02:00')).toEqual(new Date('2025-06-04T09:12:37Z'));
    expect(parseGrypeTime('yesterday')).toBeUndefined();
  });
});

describe('max-db-age and cache keys', () => {
  it('parses days and hours and names the input on anything else', () => {
    expect(parseMaxDbAge('5d')).toBe(120);
    expect(parseMaxDbAge('36h')).toBe(36);
    expect(parseMaxDbAge(' 120H ')).toBe(120);
    expect(parseMaxDbAge('')).toBe(120);
    for (const bad of ['5', '0d', 'five days', '-1h', '2w']) {
      expect(() => parseMaxDbAge(bad)).toThrow(
        `Input "max-db-age": "${bad}" is not valid; expected a positive number of days or hours such as 5d, 36h or 120h`,
      );
    }
  });

  it('keys the cache by runner OS/arch and UTC day', () => {
    const late = new Date('2026-10-05T23:59:59Z');
    expect(dbCacheKey(late, 'linux', 'x64')).toBe('edgeship-grype-db-linux-x64-2026-10-05');
    expect(dbRestoreKeys('linux', 'x64')).toEqual(['edgeship-grype-db-linux-x64-']);
    expect(dbCacheKey(late, 'darwin', 'arm64', 'v6.0.2')).toBe(
      'edgeship-grype-db-darwin-arm64-v6-2026-10-05',
    );
    expect(dbRestoreKeys('darwin', 'arm64', '6')).toEqual(['edgeship-grype-db-darwin-arm64-v6-']);
    expect(dbCacheKey(late, 'linux', 'x64')).toMatch(new RegExp(`^${dbRestoreKeys('linux', 'x64')[0]}`));
  });
});

// ---------------------------------------------------------------------------------------------
// ensureGrypeDb against a fake grype that keeps a database build date, and an in-memory cache.

const NOW = new Date('2026-10-05T09:00:00Z');
const TODAY = 'edgeship-grype-db-linux-x64-2026-10-05';
const YESTERDAY = 'edgeship-grype-db-linux-x64-2026-10-04';

interface World {
  /** Build date of the installed DB (undefined: none installed). */
  built?: string;
  /** Build date `grype db update` would install (undefined: no newer DB published). */
  published?: string;
  updateFails?: boolean;
  cache: Map<string, string | undefined>;
  calls: Array<{ args: string[]; env?: ExecOptions['env'] }>;
  saved: string[];
  logs: string[];
}

function fakeGrype(world: World): Exec {
  return async (_file, args, options) => {
    world.calls.push({ args: [...args], env: options?.env });
    if (args[0] === 'db' && args[1] === 'status') {
      if (!world.built) {
        return {
          exitCode: 1,
          stderr: '',
          stdout: JSON.stringify({
            schemaVersion: '',
            built: '0001-01-01T00:00:00Z',
            path: '',
            valid: false,
            error: 'database not found at "/c/6/vulnerability.db"',
          }),
        };
      }
      const maxHours = Number.parseFloat(String(options?.env?.GRYPE_DB_MAX_ALLOWED_BUILT_AGE));
      const ageHours = (NOW.getTime() - new Date(world.built).getTime()) / 3_600_000;
      const stale = options?.env?.GRYPE_DB_VALIDATE_AGE === 'true' && ageHours > maxHours;
      const status = {
        schemaVersion: 'v6.1.9',
        from: 'https://grype.anchore.io/databases/v6/vulnerability-db_v6.1.9.tar.zst',
        built: world.built,
        path: '/c/6/vulnerability.db',
        valid: !stale,
        ...(stale
          ? {
              error: `the vulnerability database was built ${Math.round(ageHours)}h ago (max allowed age is ${maxHours}h)`,
            }
          : {}),
      };
      return { exitCode: stale ? 1 : 0, stdout: JSON.stringify(status, null, 1), stderr: '' };
    }
    if (args[0] === 'db' && args[1] === 'update') {
      if (world.updateFails) {
        return {
          exitCode: 1,
          stdout: '',
          stderr:
            'unable to update vulnerability database: unable to download db: Get "https://grype.anchore.io/databases/v6/latest.json": dial tcp: connection refused',
        };
      }
      if (world.published && world.published !== world.built) {
        world.built = world.published;
        return { exitCode: 0, stdout: 'Vulnerability database updated to latest version!', stderr: '' };
      }
      return { exitCode: 0, stdout: 'No vulnerability database update available', stderr: '' };
    }
    return { exitCode: 2, stdout: '', stderr: `unexpected ${args.join(' ')}` };
  };
}

function depsFor(world: World, overrides: Partial<GrypeDbDeps> = {}): GrypeDbDeps {
  return {
    exec: fakeGrype(world),
    grype: '/tools/grype',
    dbCacheDir: '/c',
    maxDbAge: '5d',
    platform: 'linux',
    arch: 'x64',
    now: () => NOW,
    restoreCache: async (_paths, key, restoreKeys) => {
      let hit: string | undefined = world.cache.has(key) ? key : undefined;
      if (!hit) {
        hit = [...world.cache.keys()]
          .filter((k) => restoreKeys.some((prefix) => k.startsWith(prefix)))
          .sort()
          .at(-1);
      }
      if (hit) world.built = world.cache.get(hit);
      return hit;
    },
    saveCache: async (_paths, key) => {
      if (world.cache.has(key))
        throw new Error(`Unable to reserve cache with key ${key}, another job may be creating this cache.`);
      world.cache.set(key, world.built);
      world.saved.push(key);
      return 1;
    },
    log: { info: (m) => void world.logs.push(m), warning: (m) => void world.logs.push(`warning: ${m}`) },
    ...overrides,
  };
}

function newWorld(partial: Partial<World> = {}): World {
  return { cache: new Map(), calls: [], saved: [], logs: [], ...partial };
}

const verbs = (world: World) => world.calls.map((c) => c.args.slice(0, 2).join(' '));

describe('ensureGrypeDb', () => {
  it("uses today's exact cache hit as is: no update, no save", async () => {
    const world = newWorld({
      cache: new Map([[TODAY, '2026-10-05T03:00:00Z']]),
      published: '2026-10-05T08:00:00Z',
    });
    const result = await ensureGrypeDb(depsFor(world));
    expect(verbs(world)).toEqual(['db status']);
    expect(world.saved).toEqual([]);
    expect(result).toMatchObject({ cacheKey: TODAY, restoredKey: TODAY, updated: false, ageHours: 6 });
    expect(result.status.built).toEqual(new Date('2026-10-05T03:00:00Z'));
    expect(result.env).toMatchObject({ GRYPE_DB_AUTO_UPDATE: 'false', GRYPE_DB_CACHE_DIR: '/c' });
    expect(world.calls[0]!.env).toEqual({
      GRYPE_CHECK_FOR_APP_UPDATE: 'false',
      GRYPE_DB_AUTO_UPDATE: 'false',
      GRYPE_DB_CACHE_DIR: '/c',
      GRYPE_DB_VALIDATE_AGE: 'true',
      GRYPE_DB_MAX_ALLOWED_BUILT_AGE: '120h',
    });
  });

  it("updates yesterday's database and saves the new build under today's key", async () => {
    const world = newWorld({
      cache: new Map([[YESTERDAY, '2026-10-04T03:00:00Z']]),
      published: '2026-10-05T03:00:00Z',
    });
    const result = await ensureGrypeDb(depsFor(world));
    expect(verbs(world)).toEqual(['db status', 'db update', 'db status']);
    expect(world.saved).toEqual([TODAY]);
    expect(world.cache.get(TODAY)).toBe('2026-10-05T03:00:00Z');
    expect(result).toMatchObject({ restoredKey: YESTERDAY, updated: true, savedKey: TODAY });

    // The next job today restores the exact key and downloads nothing.
    const next = newWorld({ cache: world.cache, published: '2026-10-05T08:00:00Z' });
    await ensureGrypeDb(depsFor(next));
    expect(verbs(next)).toEqual(['db status']);
    expect(next.saved).toEqual([]);
  });

  it('does not save when the update found no newer build', async () => {
    const world = newWorld({
      cache: new Map([[YESTERDAY, '2026-10-04T03:00:00Z']]),
      published: '2026-10-04T03:00:00Z',
    });
    const result = await ensureGrypeDb(depsFor(world));
    expect(verbs(world)).toEqual(['db status', 'db update', 'db status']);
    expect(world.saved).toEqual([]);
    expect(result.savedKey).toBeUndefined();
    expect(result.ageHours).toBe(30);
  });

  it('downloads a database on a cache miss and saves it', async () => {
    const world = newWorld({ published: '2026-10-05T04:30:00Z' });
    const result = await ensureGrypeDb(depsFor(world));
    expect(result.restoredKey).toBeUndefined();
    // Nothing restored: no status before the update (the directory is this run's), one after it.
    expect(verbs(world)).toEqual(['db update', 'db status']);
    expect(world.saved).toEqual([TODAY]);
    expect(world.logs).toContain('Downloading the grype database (none restored)');
  });

  it('fails closed when the database is older than max-db-age, saying which date and what to do', async () => {
    const world = newWorld({
      cache: new Map([[YESTERDAY, '2026-09-28T06:00:00Z']]),
      published: '2026-09-28T06:00:00Z',
    });
    await expect(ensureGrypeDb(depsFor(world))).rejects.toThrow(
      'The grype vulnerability database was built 2026-09-28T06:00:00.000Z (7.1 days ago), older than max-db-age 5d (120 hours); ' +
        'refusing to scan with stale data. Updating it did not bring a newer build: check that the runner can reach the grype database host, ' +
        'or raise max-db-age if older vulnerability data is acceptable.',
    );
    expect(world.saved).toEqual([]);
  });

  it('honours a tighter max-db-age in hours', async () => {
    const world = newWorld({ cache: new Map([[TODAY, '2026-10-04T12:00:00Z']]) });
    // Today's hit is 21 hours old: valid for 36h, stale for 12h (then an update is attempted, none newer).
    await expect(ensureGrypeDb(depsFor(world, { maxDbAge: '36h' }))).resolves.toMatchObject({
      updated: false,
    });
    const strict = newWorld({ cache: new Map([[TODAY, '2026-10-04T12:00:00Z']]) });
    await expect(ensureGrypeDb(depsFor(strict, { maxDbAge: '12h' }))).rejects.toThrow(
      /older than max-db-age 12h \(12 hours\)/,
    );
    expect(verbs(strict)).toEqual(['db status', 'db update', 'db status']);
    expect(strict.calls[0]!.env?.GRYPE_DB_MAX_ALLOWED_BUILT_AGE).toBe('12h');
  });

  it('keeps using a recent cached database when the update fails, with a warning', async () => {
    const world = newWorld({ cache: new Map([[YESTERDAY, '2026-10-04T03:00:00Z']]), updateFails: true });
    const result = await ensureGrypeDb(depsFor(world));
    expect(result).toMatchObject({ updated: true, ageHours: 30 });
    expect(
      world.logs.some(
        (l) => l.startsWith('warning: grype db update failed') && l.includes('connection refused'),
      ),
    ).toBe(true);
    expect(world.saved).toEqual([]);
  });

  it('reads what the directory holds only when the update fails and nothing was restored (a kept temp dir)', async () => {
    const world = newWorld({ built: '2026-10-04T03:00:00Z', updateFails: true });
    const result = await ensureGrypeDb(depsFor(world));
    expect(verbs(world)).toEqual(['db update', 'db status', 'db status']);
    expect(result).toMatchObject({ updated: true, ageHours: 30 });
    expect(world.logs.some((l) => l.startsWith('warning: grype db update failed'))).toBe(true);
    // The build it found is not new: it is not saved under today's key.
    expect(result.savedKey).toBeUndefined();
    expect(world.saved).toEqual([]);
  });

  it('fails when no database can be had at all', async () => {
    const world = newWorld({ updateFails: true });
    await expect(ensureGrypeDb(depsFor(world))).rejects.toThrow(
      /Could not download the grype vulnerability database and none was cached: \/tools\/grype exited with code 1:\n.*connection refused\nCheck that the runner can reach/,
    );
  });

  it('downloads from the grype-db-url mirror and names it when that fails', async () => {
    const world = newWorld({ published: '2026-10-05T04:30:00Z' });
    await ensureGrypeDb(depsFor(world, { updateUrl: 'https://mirror.example/grype' }));
    expect(world.calls[1]!.env?.GRYPE_DB_UPDATE_URL).toBe('https://mirror.example/grype');
    const down = newWorld({ updateFails: true });
    await expect(ensureGrypeDb(depsFor(down, { updateUrl: 'https://mirror.example/grype' }))).rejects.toThrow(
      /reach the grype database host \(https:\/\/mirror\.example\/grype\)/,
    );
  });

  it('carries on without the Actions cache when restoring or saving fails', async () => {
    const world = newWorld({ published: '2026-10-05T04:30:00Z' });
    const result = await ensureGrypeDb(
      depsFor(world, {
        restoreCache: async () => {
          throw new Error('Cache service responded with 503');
        },
        saveCache: async () => {
          throw new Error('Cache service responded with 503');
        },
      }),
    );
    expect(result.updated).toBe(true);
    expect(result.savedKey).toBeUndefined();
    expect(world.logs.filter((l) => l.startsWith('warning:'))).toHaveLength(2);
  });

  it('says nothing was saved when the cache saves nothing (no Actions cache here: the id is -1)', async () => {
    const world = newWorld({ published: '2026-10-05T04:30:00Z' });
    const result = await ensureGrypeDb(depsFor(world, { saveCache: async () => -1 }));
    expect(result.updated).toBe(true);
    expect(result.savedKey).toBeUndefined();
    expect(world.logs.filter((l) => l.startsWith('Saved the grype database'))).toEqual([]);
  });

  it('names the max-db-age input before touching anything', async () => {
    const world = newWorld();
    await expect(ensureGrypeDb(depsFor(world, { maxDbAge: '1 week' }))).rejects.toThrow(
      /Input "max-db-age": "1 week"/,
    );
    expect(world.calls).toEqual([]);
  });

  it('refuses a database grype reports invalid for another reason than age', async () => {
    const exec: Exec = async (_f, args) =>
      args[1] === 'status'
        ? {
            exitCode: 1,
            stderr: '',
            stdout: JSON.stringify({
              schemaVersion: 'v6.1.9',
              built: '2026-10-05T01:00:00Z',
              path: '/c/6/vulnerability.db',
              valid: false,
              error: 'bad db checksum',
            }),
          }
        : { exitCode: 0, stdout: 'No vulnerability database update available', stderr: '' };
    const world = newWorld({ cache: new Map([[TODAY, '2026-10-05T01:00:00Z']]) });
    await expect(ensureGrypeDb(depsFor(world, { exec }))).rejects.toThrow(
      /database at \/c\/6\/vulnerability\.db is not valid: bad db checksum\. Delete the cached database/,
    );
  });
});
