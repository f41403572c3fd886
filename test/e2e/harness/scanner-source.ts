/**
 * Which Syft and Grype a local release scans with, best first:
 *   1. the pinned releases, downloaded and sha256-verified by the action itself exactly as on a runner
 *      (`syft-version`/`grype-version: default`), when GitHub's release downloads are reachable;
 *   2. the same versions built from their Go modules (go-tools.ts), given to the action on PATH;
 *   3. the test doubles (real outputs of the real tools), only when neither is possible.
 * Grype's database comes from grype.anchore.io when reachable, otherwise from the loopback server of the
 * committed database of real busybox advisories (grype-db-server.ts).
 */
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { PINNED_TOOLS } from '../../../src/tools/pinned.js';
import { archiveName, releaseBaseUrl } from '../../../src/tools/install.js';
import { goToolsOrReason } from './go-tools.js';
import { maxDbAgeAccepting, startGrypeDbServer } from './grype-db-server.js';
import { FIXTURES, SCANNERS_FROM_PATH, scannerDoubleEnv } from './scanner-doubles.js';

export interface ScannerSource {
  kind: 'release' | 'modules' | 'doubles';
  /** One line: which scanners run and where they (and Grype's database) come from. */
  line: string;
  inputs: Record<string, string>;
  env: Record<string, string>;
  stop(): Promise<void>;
}

const GRYPE_DB_LISTING = 'https://grype.anchore.io/databases/v6/latest.json';

async function reachable(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: 'HEAD',
      redirect: 'follow',
      signal: AbortSignal.timeout(8_000),
    });
    return response.ok;
  } catch {
    return false;
  }
}

function releaseUrl(tool: 'syft' | 'grype'): string {
  const { version } = PINNED_TOOLS[tool];
  return `${releaseBaseUrl(tool)}/v${version}/${archiveName(tool, version, process.platform, process.arch)}`;
}

/** Grype's database: the public one when reachable, else the committed one from a loopback server. */
async function database(): Promise<{ inputs: Record<string, string>; note: string; stop(): Promise<void> }> {
  if (await reachable(GRYPE_DB_LISTING)) {
    return { inputs: {}, note: 'its database from grype.anchore.io', stop: async () => undefined };
  }
  const server = await startGrypeDbServer();
  return {
    inputs: { 'grype-db-url': server.url, 'max-db-age': maxDbAgeAccepting(server.built) },
    note: `its database built here from real busybox advisories (test/fixtures/grype-db), served at ${server.url}`,
    stop: () => server.stop(),
  };
}

export async function chooseScanners(log: (line: string) => void = console.log): Promise<ScannerSource> {
  const versions = `Syft ${PINNED_TOOLS.syft.version} and Grype ${PINNED_TOOLS.grype.version}`;
  let releaseError: string | undefined;
  try {
    if ((await reachable(releaseUrl('syft'))) && (await reachable(releaseUrl('grype')))) {
      const db = await database();
      return {
        kind: 'release',
        line: `${versions}: the pinned releases, downloaded and sha256-verified by the action as on a runner; Grype with ${db.note}`,
        inputs: { 'syft-version': 'default', 'grype-version': 'default', ...db.inputs },
        env: {},
        stop: db.stop,
      };
    }
  } catch (error) {
    releaseError = error instanceof Error ? error.message : String(error); // e.g. no release archive for this host
  }
  const tools = await goToolsOrReason(['syft', 'grype'], (line) => log(`  ${line}`));
  if ('paths' in tools) {
    const bin = await mkdtemp(path.join(os.tmpdir(), 'edgeship-scanners-bin-'));
    await mkdir(bin, { recursive: true });
    for (const [name, file] of Object.entries(tools.paths)) await symlink(file, path.join(bin, name));
    const db = await database();
    return {
      kind: 'modules',
      line: `${versions} built from their Go modules (the release downloads are not reachable here), on PATH; Grype with ${db.note}`,
      inputs: { ...SCANNERS_FROM_PATH, ...db.inputs },
      env: { PATH: `${bin}:${process.env.PATH}` },
      stop: async () => {
        await db.stop();
        await rm(bin, { recursive: true, force: true });
      },
    };
  }
  return {
    kind: 'doubles',
    line:
      `Real Syft/Grype unavailable (release downloads unreachable${releaseError ? `: ${releaseError}` : ''}; ` +
      `${tools.reason}): the test doubles in test/doubles scan instead, returning real outputs of the real tools`,
    inputs: { ...SCANNERS_FROM_PATH },
    env: scannerDoubleEnv({
      reports: { linux_amd64: FIXTURES.reportClean, linux_arm64: FIXTURES.reportClean },
    }),
    stop: async () => undefined,
  };
}
