/**
 * The REAL Syft and Grype (pinned in src/tools/pinned.ts, built from their Go modules by go-tools.ts) for any e2e
 * suite that releases: a folder holding the two binaries to put first on PATH, a loopback listing server for the
 * Grype database of real busybox advisories (test/fixtures/grype-db), and the inputs that make the action use both.
 *
 * Images built FROM the plain busybox base (makeSampleWorkspace) carry the bare busybox 1.35.0 binary that NVD
 * rates Critical (CVE-2022-48174) and High (CVE-2022-28391): the default policy blocks them. Images whose busybox
 * belongs to Debian's package (makeDebianBusyboxWorkspace) scan clean and pass.
 *
 * Usage, at the top of a test file (so `describe.skipIf` can say why before any suite starts):
 *   const scannerTools = await realScannerTools();
 *   describe.skipIf('reason' in scannerTools)(...)
 * and in beforeAll: `scanners = await startRealScanners(scannerTools)`; afterAll: `await scanners?.stop()`.
 * With CI=true a tool that cannot be built fails the run instead of skipping (goToolsOrReason).
 */
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { goToolsOrReason } from './go-tools.js';
import { maxDbAgeAccepting, startGrypeDbServer } from './grype-db-server.js';
import type { GrypeDbServer } from './grype-db-server.js';

export type ScannerTools = Awaited<ReturnType<typeof goToolsOrReason>>;

/** The real Syft and Grype binaries, or one line saying why they are missing (printed once). */
export async function realScannerTools(suite: string): Promise<ScannerTools> {
  const tools = await goToolsOrReason(['syft', 'grype']);
  if ('reason' in tools) console.log(`${suite} skipped: real Syft/Grype unavailable (${tools.reason})`);
  return tools;
}

export interface RealScanners {
  /** Environment for the action's process: the real tools first on PATH (add other PATH entries before or after). */
  readonly env: { PATH: string };
  /** The folder holding `syft` and `grype` (to compose a PATH of one's own). */
  readonly bin: string;
  /** Inputs: scanners from PATH, the loopback database, a max-db-age the fixture database meets. */
  readonly inputs: Readonly<Record<string, string>>;
  readonly db: GrypeDbServer;
  stop(): Promise<void>;
}

export async function startRealScanners(tools: ScannerTools): Promise<RealScanners> {
  if ('reason' in tools) throw new Error(`real Syft/Grype unavailable: ${tools.reason}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edgeship-real-scanners-'));
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  for (const [name, file] of Object.entries(tools.paths)) await symlink(file, path.join(bin, name));
  const db = await startGrypeDbServer();
  return {
    env: { PATH: `${bin}:${process.env.PATH}` },
    bin,
    inputs: {
      'syft-version': 'path',
      'grype-version': 'path',
      'grype-db-url': db.url,
      'max-db-age': maxDbAgeAccepting(db.built),
    },
    db,
    async stop() {
      await db.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
