import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactRecordStore, directoryRecordStore } from '../../../src/records/record-store.js';

describe('directoryRecordStore', () => {
  it('stores files under the record name, replaces a re-upload, and hands back records by prefix', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'records-'));
    const src = mkdtempSync(path.join(os.tmpdir(), 'record-src-'));
    writeFileSync(path.join(src, 'build-record.json'), '{"v":1}');
    writeFileSync(path.join(src, 'stale.json'), 'old');
    const store = directoryRecordStore(root);
    await store.upload(
      'edgeship-build-x-linux-amd64',
      [path.join(src, 'build-record.json'), path.join(src, 'stale.json')],
      src,
    );
    writeFileSync(path.join(src, 'build-record.json'), '{"v":2}');
    await store.upload('edgeship-build-x-linux-amd64', [path.join(src, 'build-record.json')], src);
    mkdirSync(path.join(root, 'other-artifact'));
    const into = mkdtempSync(path.join(os.tmpdir(), 'records-into-'));
    const got = await store.downloadAll('edgeship-build-x-', into);
    expect(got.map((g) => g.name)).toEqual(['edgeship-build-x-linux-amd64']);
    expect(readFileSync(path.join(got[0]!.dir, 'build-record.json'), 'utf8')).toBe('{"v":2}');
    expect(() => readFileSync(path.join(got[0]!.dir, 'stale.json'))).toThrow();
  });

  it('finds nothing in a directory that does not exist', async () => {
    expect(await directoryRecordStore('/nonexistent/records').downloadAll('x', os.tmpdir())).toEqual([]);
  });
});

describe('artifactRecordStore', () => {
  it('deletes before uploading (re-runs replace) and downloads only matching artifacts', async () => {
    const calls: string[] = [];
    const store = artifactRecordStore({
      uploadArtifact: async (name, files, root) => void calls.push(`upload ${name} ${files.length} ${root}`),
      deleteArtifact: async (name) => {
        calls.push(`delete ${name}`);
        throw new Error('Artifact not found');
      },
      listArtifacts: async () => ({
        artifacts: [
          { id: 2, name: 'edgeship-build-x-linux-arm64' },
          { id: 3, name: 'coverage' },
        ],
      }),
      downloadArtifact: async (id, options) =>
        void calls.push(`download ${id} ${path.basename(options!.path!)}`),
    });
    await store.upload('edgeship-build-x-linux-arm64', ['/r/a', '/r/b'], '/r');
    const got = await store.downloadAll('edgeship-build-x-', mkdtempSync(path.join(os.tmpdir(), 'art-')));
    expect(calls).toEqual([
      'delete edgeship-build-x-linux-arm64',
      'upload edgeship-build-x-linux-arm64 2 /r',
      'download 2 edgeship-build-x-linux-arm64',
    ]);
    expect(got.map((g) => g.name)).toEqual(['edgeship-build-x-linux-arm64']);
  });
});
