import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runBundled } from './harness/action-runner.js';
import { publishBaseImage } from './harness/base-images.js';
import { makeDebianBusyboxWorkspace } from './harness/debian-busybox.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { findInImage } from './harness/image-contents.js';
import { startRegistry } from './harness/registry.js';
import type { TestRegistry } from './harness/registry.js';
import { realScannerTools, startRealScanners } from './harness/real-scanners.js';
import type { RealScanners } from './harness/real-scanners.js';
import { buildahEnvironment, listTagsRaw, readFileFromImage } from './harness/workspace.js';

/**
 * The build inputs buildah honours, for real (buildah 1.28, both platforms, arm64 under QEMU): `secrets` (handed over
 * through buildah's environment as `--secret id=…,src=<variable>,type=env`), `secret-files` and `build-contexts`. The
 * secrets were readable by their RUN step and are nowhere in the pushed images (layers, config, history), the log or
 * the reports. The real Syft and Grype scan both images (harness/real-scanners.ts); the busybox in them belongs to
 * Debian's package (harness/debian-busybox.ts), so the gate passes.
 */
const SECRET = `edgeship-buildah-secret-${Math.random().toString(36).slice(2)}`;
const FILE_SECRET = `edgeship-file-secret-${Math.random().toString(36).slice(2)}`;
const NOTE = 'from the extra build context';

const DOCKERFILE = `ARG BASE
FROM \${BASE}
RUN --mount=type=secret,id=token --mount=type=secret,id=npmrc mkdir -p /opt/agent && uname -m > /opt/agent/arch && wc -c < /run/secrets/token > /opt/agent/token-length && wc -c < /run/secrets/npmrc > /opt/agent/npmrc-length
COPY --from=extra note.txt /opt/agent/note.txt
`;

const scannerTools = await realScannerTools('buildah build options e2e');

describe.skipIf('reason' in scannerTools)('build inputs with buildah, real registry', () => {
  let reg: TestRegistry;
  let scanners: RealScanners;
  let workspace: string;
  let extra: string;
  let records: string;
  let storage: { env: Record<string, string>; dir: string };

  beforeAll(async () => {
    await ensureHostTools();
    await ensureBinfmt();
    reg = await startRegistry();
    scanners = await startRealScanners(scannerTools);
    workspace = await makeDebianBusyboxWorkspace(DOCKERFILE);
    await writeFile(path.join(workspace, 'npmrc'), FILE_SECRET);
    extra = await mkdtemp(path.join(os.tmpdir(), 'es-extra-context-'));
    await writeFile(path.join(extra, 'note.txt'), `${NOTE}\n`);
    records = await mkdtemp(path.join(os.tmpdir(), 'es-records-'));
    storage = await buildahEnvironment();
  });

  afterAll(async () => {
    await reg?.stop();
    await scanners?.stop();
    for (const dir of [workspace, extra, records, storage?.dir])
      if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('uses secrets, secret-files and build-contexts, and leaves no secret in the images or the log', async () => {
    const base = await publishBaseImage(reg);
    const run = await runBundled('main', {
      workspace,
      inputs: {
        image: `${reg.host}/acme/buildah-options`,
        builder: 'buildah',
        mode: 'build',
        'records-dir': records,
        'build-args': `BASE=${base}`,
        'registry-username': reg.username,
        'registry-password': reg.password,
        'registry-ca-file': reg.caFile,
        secrets: `token=${SECRET}`,
        'secret-files': 'npmrc=npmrc',
        'build-contexts': `extra=${extra}`,
        'reports-dir': path.join(records, 'reports'),
        ...scanners.inputs,
      },
      env: { ...storage.env, ...scanners.env },
    });
    expect(run.errors, run.stdout.slice(-3000)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.outputs.gate).toBe('pass');
    const digests = JSON.parse(run.outputs.digests ?? '[]') as Array<{ platform: string; digest: string }>;
    expect(digests.map((d) => d.platform)).toEqual(['linux/amd64', 'linux/arm64']);
    for (const d of digests) {
      const ref = `${reg.host}/acme/buildah-options@${d.digest}`;
      const file = async (name: string) => (await readFileFromImage(reg, ref, `/opt/agent/${name}`))?.trim();
      expect(await file('arch')).toBe(d.platform === 'linux/arm64' ? 'aarch64' : 'x86_64');
      expect(await file('token-length')).toBe(String(SECRET.length));
      expect(await file('npmrc-length')).toBe(String(FILE_SECRET.length));
      expect(await file('note.txt')).toBe(NOTE);
      expect(await findInImage(reg, ref, SECRET)).toEqual([]);
      expect(await findInImage(reg, ref, FILE_SECRET)).toEqual([]);
    }
    expect(await listTagsRaw(reg, 'acme/buildah-options')).toEqual([]);
    const log = `${run.stdout}\n${run.stderr}`
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n');
    expect(log).not.toContain(SECRET);
    // The records and the reports (SBOMs, Grype's reports) the real scanners wrote.
    expect(await readdir(path.join(records, 'reports'))).toContain('sbom-linux-arm64.spdx.json');
    for (const f of await readdir(records, { recursive: true }))
      for (const secret of [SECRET, FILE_SECRET])
        expect(await readFile(path.join(records, f)).catch(() => Buffer.alloc(0))).not.toContain(secret);
    await runBundled('post', { workspace, inputs: {}, state: run.state, env: storage.env });
  });
});
