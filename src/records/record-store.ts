import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Settings } from '../settings/inputs.js';

/** Where build jobs leave their records for the publish job. */
export interface RecordStore {
  /** Stores `files` (paths under `rootDir`) under `name`, replacing an earlier upload of that name. */
  upload(name: string, files: readonly string[], rootDir: string): Promise<void>;
  /** Fetches every stored record whose name starts with `prefix` into `into/<name>/`. */
  downloadAll(prefix: string, into: string): Promise<Array<{ name: string; dir: string }>>;
  describe(): string;
}

/**
 * Records in a directory (input `records-dir`): for self-hosted runners that share a file system, and
 * for running matrix builds locally.
 */
export function directoryRecordStore(root: string): RecordStore {
  return {
    describe: () => `directory ${root}`,
    async upload(name, files, rootDir) {
      const target = path.join(root, name);
      rmSync(target, { recursive: true, force: true });
      mkdirSync(target, { recursive: true });
      for (const file of files) cpSync(file, path.join(target, path.relative(rootDir, file)));
    },
    async downloadAll(prefix, into) {
      if (!existsSync(root)) return [];
      return readdirSync(root)
        .filter((name) => name.startsWith(prefix))
        .sort()
        .map((name) => {
          const dir = path.join(into, name);
          cpSync(path.join(root, name), dir, { recursive: true });
          return { name, dir };
        });
    },
  };
}

/** The subset of @actions/artifact's client the store uses (injected; loaded lazily by the action). */
export interface ArtifactClientLike {
  uploadArtifact(
    name: string,
    files: string[],
    rootDirectory: string,
    options?: { retentionDays?: number },
  ): Promise<unknown>;
  deleteArtifact(name: string): Promise<unknown>;
  listArtifacts(options?: { latest?: boolean }): Promise<{ artifacts: Array<{ id: number; name: string }> }>;
  downloadArtifact(id: number, options?: { path?: string }): Promise<unknown>;
}

/** Records as workflow artifacts of this run (GitHub Actions). */
export function artifactRecordStore(client: ArtifactClientLike, retentionDays = 7): RecordStore {
  return {
    describe: () => `workflow artifacts of this run (kept ${retentionDays} days)`,
    async upload(name, files, rootDir) {
      // A re-run job uploads again under the same name: replace, so re-runs are idempotent.
      await client.deleteArtifact(name).catch(() => undefined);
      await client.uploadArtifact(name, [...files], rootDir, { retentionDays });
    },
    async downloadAll(prefix, into) {
      const { artifacts } = await client.listArtifacts({ latest: true });
      const wanted = artifacts
        .filter((a) => a.name.startsWith(prefix))
        .sort((a, b) => a.name.localeCompare(b.name));
      const result: Array<{ name: string; dir: string }> = [];
      for (const artifact of wanted) {
        const dir = path.join(into, artifact.name);
        mkdirSync(dir, { recursive: true });
        await client.downloadArtifact(artifact.id, { path: dir });
        result.push({ name: artifact.name, dir });
      }
      return result;
    },
  };
}

/** The record store: `records-dir` when set, else the workflow run's artifacts. */
export async function recordStoreFor(
  settings: Pick<Settings, 'recordsDir' | 'recordsRetentionDays'>,
  env: Record<string, string | undefined>,
): Promise<RecordStore> {
  if (settings.recordsDir) return directoryRecordStore(settings.recordsDir);
  if (!env.ACTIONS_RUNTIME_TOKEN) {
    throw new Error(
      'mode: build and mode: publish hand build records over as workflow artifacts, which only exist inside GitHub Actions; ' +
        'elsewhere set records-dir to a directory both jobs can reach',
    );
  }
  const { DefaultArtifactClient } = await import('@actions/artifact');
  return artifactRecordStore(new DefaultArtifactClient(), settings.recordsRetentionDays);
}
