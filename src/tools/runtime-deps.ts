/**
 * The real side effects behind `installTool`: @actions/tool-cache for download (with its retries),
 * extraction and the runner's tool cache; node:fs and node:crypto for the rest.
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { access, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tc from '@actions/tool-cache';
import type { InstallDeps } from './install.js';

/** sha256 of a file, streamed, as lowercase hex. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Finds an executable on a PATH string (no shell involved). */
export async function whichOnPath(
  name: string,
  pathValue: string | undefined = process.env.PATH,
  platform: NodeJS.Platform = process.platform,
): Promise<string | undefined> {
  const dirs = (pathValue ?? '').split(platform === 'win32' ? ';' : ':').filter((d) => d.length > 0);
  const names = platform === 'win32' ? [`${name}.exe`, name] : [name];
  for (const dir of dirs) {
    for (const candidate of names) {
      const full = path.join(dir, candidate);
      try {
        const info = await stat(full);
        if (!info.isFile()) continue;
        if (platform !== 'win32') await access(full, constants.X_OK);
        return full;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Install deps backed by @actions/tool-cache (needs RUNNER_TEMP and RUNNER_TOOL_CACHE, as on every runner). */
export function toolCacheInstallDeps(
  log: InstallDeps['log'],
  overrides: Partial<Omit<InstallDeps, 'log'>> = {},
): InstallDeps {
  return {
    download: (url) => tc.downloadTool(url),
    extractTar: (file) => tc.extractTar(file),
    cacheDir: (dir, tool, version, arch) => tc.cacheDir(dir, tool, version, arch),
    find: (tool, version, arch) => tc.find(tool, version, arch),
    readFile: (file) => readFile(file, 'utf8'),
    writeFile: (file, text) => writeFile(file, text, 'utf8'),
    sha256File,
    which: (name) => whichOnPath(name),
    isFile,
    log,
    ...overrides,
  };
}
