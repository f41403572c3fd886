import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

import type { TestRegistry } from './registry.js';
import { skopeo } from './workspace.js';

/**
 * Where `needle` occurs in an image, read with skopeo (not Edgeship): its manifest, its config (history included)
 * and every layer, uncompressed. An empty list means nowhere, e.g. for a build secret.
 */
export async function findInImage(reg: TestRegistry, reference: string, needle: string): Promise<string[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'es-image-'));
  try {
    await skopeo(reg, ['copy', `docker://${reference}`, `dir:${dir}`]);
    const manifestText = await readFile(path.join(dir, 'manifest.json'), 'utf8');
    const manifest = JSON.parse(manifestText) as {
      config: { digest: string };
      layers: Array<{ digest: string }>;
    };
    const blob = (digest: string) => readFile(path.join(dir, digest.split(':')[1]!));
    const found: string[] = [];
    if (manifestText.includes(needle)) found.push('manifest');
    const config = (await blob(manifest.config.digest)).toString('utf8');
    if (!config.includes('"history"')) throw new Error(`the config of ${reference} has no history to check`);
    if (config.includes(needle)) found.push('config');
    for (const layer of manifest.layers) {
      if (gunzipSync(await blob(layer.digest)).includes(needle)) found.push(`layer ${layer.digest}`);
    }
    return found;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
