import path from 'node:path';
import os from 'node:os';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBundled } from './harness/action-runner.js';
import type { ActionRun } from './harness/action-runner.js';
import { PINNED_TOOLS } from '../../src/tools/pinned.js';
import { publishBaseImage } from './harness/base-images.js';
import { makeDebianBusyboxWorkspace } from './harness/debian-busybox.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { realScannerTools, startRealScanners } from './harness/real-scanners.js';
import type { RealScanners } from './harness/real-scanners.js';
import { startRegistry } from './harness/registry.js';
import type { TestRegistry } from './harness/registry.js';
import {
  buildahEnvironment,
  listTagsRaw,
  makeSampleWorkspace,
  readFileFromImage,
  skopeo,
} from './harness/workspace.js';

const scannerTools = await realScannerTools('release e2e');

/**
 * The foundation end to end, for real: a distribution registry with htpasswd auth and TLS, buildah
 * building linux/amd64 and linux/arm64 (the arm64 RUN step under QEMU), the real Syft and Grype
 * (harness/real-scanners.ts) scanning the pushed images against the loopback database, the bundled
 * dist/main.js and dist/post.js run as the runner runs them; the registry is then checked with skopeo,
 * not with Edgeship. The sample's busybox belongs to Debian's busybox-static package, so the gate passes.
 */
describe.skipIf('reason' in scannerTools)('release on a tag with buildah, real registry', () => {
  let reg: TestRegistry;
  let scanners: RealScanners;
  let base: string;
  let workspace: string;
  let storage: { env: Record<string, string>; dir: string };
  let run: ActionRun;
  const image = () => `${reg.host}/acme/edge-agent`;
  const inputs = (extra: Record<string, string> = {}) => ({
    image: image(),
    builder: 'buildah',
    mode: 'build',
    'records-dir': path.join(os.tmpdir(), `edgeship-records-${process.pid}`),
    'build-args': `BASE=${base}`,
    'registry-username': reg.username,
    'registry-password': reg.password,
    'registry-ca-file': reg.caFile,
    ...scanners.inputs,
    ...extra,
  });
  const withScanners = () => ({ ...storage.env, ...scanners.env });

  beforeAll(async () => {
    await ensureHostTools();
    await ensureBinfmt();
    scanners = await startRealScanners(scannerTools);
    reg = await startRegistry();
    base = await publishBaseImage(reg);
    workspace = await makeDebianBusyboxWorkspace();
    storage = await buildahEnvironment();
    run = await runBundled('main', { inputs: inputs(), workspace, env: withScanners() });
  });

  afterAll(async () => {
    await reg?.stop();
    await scanners?.stop();
    if (workspace) await rm(workspace, { recursive: true, force: true });
    if (storage) await rm(storage.dir, { recursive: true, force: true });
  });

  it('succeeds and reports one digest per platform', () => {
    expect(run.errors, run.stdout.slice(-3000)).toEqual([]);
    expect(run.exitCode).toBe(0);
    const digests = JSON.parse(run.outputs.digests ?? '[]') as Array<{
      platform: string;
      digest: string;
      size: number;
    }>;
    expect(digests.map((d) => d.platform)).toEqual(['linux/amd64', 'linux/arm64']);
    for (const d of digests) {
      expect(d.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect(d.size).toBeGreaterThan(500_000);
    }
    expect(run.outputs.version).toBe('1.2.3');
    expect(run.outputs.channel).toBe('production');
    expect(run.stdout).toContain('::group::Build linux/arm64 (buildah)');
    expect(run.summary).toContain('| linux/arm64 |');
  });

  it('the real Syft read each pushed image by digest and the real Grype found nothing in it: the gate passed', async () => {
    expect(run.outputs.gate).toBe('pass');
    const counts = JSON.parse(run.outputs.vulnerabilities!) as Record<string, Record<string, number>>;
    expect(Object.keys(counts)).toEqual(['linux/amd64', 'linux/arm64']);
    for (const perSeverity of Object.values(counts))
      expect(Object.values(perSeverity).every((n) => n === 0)).toBe(true);
    // The version of busybox-static Syft read from the image's dpkg status is the one this machine installed.
    const status = await readFile('/var/lib/dpkg/status', 'utf8');
    const stanza = status.split(/\n\n/).find((s) => /^Package: busybox-static$/m.test(s))!;
    const version = /^Version: (.*)$/m.exec(stanza)![1]!;
    const digests = JSON.parse(run.outputs.digests!) as Array<{ platform: string; digest: string }>;
    const sboms = JSON.parse(run.outputs['sbom-files']!) as string[];
    expect(sboms).toHaveLength(2);
    for (const [i, file] of sboms.entries()) {
      const sbom = JSON.parse(await readFile(file, 'utf8')) as {
        creationInfo: { creators: string[] };
        packages: Array<{ name: string; versionInfo?: string }>;
      };
      expect(sbom.creationInfo.creators).toContain(`Tool: syft-${PINNED_TOOLS.syft.version}`);
      // The image Syft read is the manifest pushed for that platform (its root package carries the digest).
      expect(sbom.packages).toContainEqual(
        expect.objectContaining({
          checksums: [{ algorithm: 'SHA256', checksumValue: digests[i]!.digest.slice(7) }],
        }),
      );
      expect(sbom.packages).toContainEqual(
        expect.objectContaining({ name: 'busybox-static', versionInfo: version }),
      );
    }
    for (const sarif of JSON.parse(run.outputs['sarif-files']!) as string[]) {
      const report = JSON.parse(await readFile(sarif.replace(/\.sarif$/, '.json'), 'utf8')) as {
        matches: unknown[];
        descriptor: { name: string; version: string };
      };
      expect(report.descriptor).toMatchObject({ name: 'grype', version: PINNED_TOOLS.grype.version });
      expect(report.matches).toEqual([]);
    }
    expect(scanners.db.requests).toContain('GET /v6/latest.json');
  });

  it('pushed both manifests by digest with the right architecture (checked with skopeo)', async () => {
    const digests = JSON.parse(run.outputs.digests!) as Array<{
      platform: string;
      digest: string;
      size: number;
    }>;
    for (const d of digests) {
      const ref = `${image()}@${d.digest}`;
      const manifest = JSON.parse(await skopeo(reg, ['inspect', '--raw', `docker://${ref}`])) as {
        config: { size: number };
        layers: Array<{ size: number }>;
      };
      const config = JSON.parse(await skopeo(reg, ['inspect', '--raw', '--config', `docker://${ref}`])) as {
        architecture: string;
        os: string;
        config: { User?: string; Healthcheck?: { Test: string[] }; Labels?: Record<string, string> };
      };
      expect(`${config.os}/${config.architecture}`).toBe(d.platform);
      expect(manifest.config.size + manifest.layers.reduce((s, l) => s + l.size, 0)).toBe(d.size);
      expect(config.config.User).toBe('1000:1000');
      expect(config.config.Healthcheck?.Test).toEqual(['CMD', '/bin/sh', '-c', 'test -f /opt/agent/arch']);
      expect(config.config.Labels?.['org.opencontainers.image.version']).toBe('1.2.3');
      expect(config.config.Labels?.['org.opencontainers.image.revision']).toBe(
        '0123456789abcdef0123456789abcdef01234567',
      );
    }
  });

  it('ran the arm64 RUN step under QEMU', async () => {
    const digests = JSON.parse(run.outputs.digests!) as Array<{ platform: string; digest: string }>;
    const arm = digests.find((d) => d.platform === 'linux/arm64')!;
    const amd = digests.find((d) => d.platform === 'linux/amd64')!;
    expect((await readFileFromImage(reg, `${image()}@${arm.digest}`, '/opt/agent/arch'))?.trim()).toBe(
      'aarch64',
    );
    expect((await readFileFromImage(reg, `${image()}@${amd.digest}`, '/opt/agent/arch'))?.trim()).toBe(
      'x86_64',
    );
  });

  it('created no tag', async () => {
    expect(await listTagsRaw(reg, 'acme/edge-agent')).toEqual([]);
    // The same question asked of a repository that has a tag answers with it, so the check can fail.
    expect(await listTagsRaw(reg, 'base/busybox')).toEqual(['1']);
  });

  it('post step removes what the run created', async () => {
    const paths = JSON.parse(run.state['edgeship-cleanup'] ?? '{}') as {
      paths: string[];
      buildahImages: string[];
    };
    expect(paths.paths.length).toBeGreaterThan(0);
    expect(paths.paths.some((p) => existsSync(p))).toBe(true);
    const post = await runBundled('post', { inputs: {}, workspace, env: withScanners(), state: run.state });
    expect(post.exitCode).toBe(0);
    expect(paths.paths.filter((p) => existsSync(p))).toEqual([]);
    expect(post.stdout).toContain(`removed ${paths.buildahImages.length} local buildah image(s)`);
  });

  it('a wrong registry password fails with a clear error and no stack trace', async () => {
    const failed = await runBundled('main', {
      inputs: inputs({ 'registry-password': 'wrong-password', platforms: 'linux/amd64' }),
      workspace,
      env: withScanners(),
    });
    expect(failed.exitCode).not.toBe(0);
    expect(failed.errors.join('\n')).toMatch(
      /unauthorized|authentication required|registry-username|registry-password/i,
    );
    expect(failed.errors.join('\n')).not.toMatch(/\n\s+at /);
    // The runner turns ::add-mask:: into masking; nothing else may carry the password.
    expect(
      failed.stdout
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n'),
    ).not.toContain('wrong-password');
  });

  it('a failing RUN step fails with the builder output in the error', async () => {
    const broken = await makeSampleWorkspace(`ARG BASE\nFROM \${BASE}\nRUN echo "about to fail" && exit 3\n`);
    try {
      const failed = await runBundled('main', {
        inputs: inputs({ platforms: 'linux/amd64' }),
        workspace: broken,
        env: withScanners(),
      });
      expect(failed.exitCode).not.toBe(0);
      expect(failed.errors.join('\n')).toMatch(
        /building linux\/amd64 with buildah failed: Error: building at STEP "RUN echo .*exit status 3\nbuildah exited with code/,
      );
      expect(failed.errors.join('\n')).not.toMatch(/\n\s+at /);
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});
