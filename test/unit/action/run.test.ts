/**
 * runAction end to end on an in-memory runner: real settings, metadata, registry client (against the loopback fake
 * registry), builder, scanner and gate code; only the processes (buildah, syft, grype) are fake-exec doubles.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAction } from '../../../src/action/run.js';
import { InputError } from '../../../src/settings/inputs.js';
import { GateFailedError } from '../../../src/stages/gate.js';
import { buildah } from '../helpers/builder-doubles.js';
import { fakeExec, groupsOf, memoryHost } from '../helpers/memory-host.js';
import { scannerDoubles } from '../helpers/scanner-doubles.js';
import type { ScannerDoubleOptions } from '../helpers/scanner-doubles.js';
import { FakeRegistry } from '../registry/fake-registry.js';

const USER = 'bot';
const PASSWORD = 'registry-s3cret';
const NOW = new Date('2026-01-02T03:04:05Z');

let registry: FakeRegistry;
let root: string;
let savedPath: string | undefined;

beforeAll(async () => {
  registry = await new FakeRegistry({ auth: { kind: 'basic', username: USER, password: PASSWORD } }).start();
});
afterAll(async () => registry.stop());
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'edgeship-run-'));
  mkdirSync(path.join(root, 'workspace'));
  writeFileSync(path.join(root, 'workspace', 'Dockerfile'), 'FROM scratch\n');
  // syft-version/grype-version: path finds these; the fake exec answers for them.
  mkdirSync(path.join(root, 'bin'));
  for (const tool of ['syft', 'grype']) {
    writeFileSync(path.join(root, 'bin', tool), '#!/bin/sh\nexit 1\n');
    chmodSync(path.join(root, 'bin', tool), 0o755);
  }
  savedPath = process.env.PATH;
  process.env.PATH = `${path.join(root, 'bin')}:${savedPath}`;
  registry.requests.length = 0;
});
afterEach(() => {
  process.env.PATH = savedPath;
  rmSync(root, { recursive: true, force: true });
});

function action(inputs: Record<string, string>, scanners: ScannerDoubleOptions = {}) {
  return memoryHost({
    inputs: {
      image: `${registry.host}/acme/agent`,
      builder: 'buildah',
      platforms: 'linux/amd64,linux/arm64',
      'registry-username': USER,
      'registry-password': PASSWORD,
      'syft-version': 'path',
      'grype-version': 'path',
      signing: 'off',
      'scan-concurrency': '1',
      ...inputs,
    },
    env: {
      GITHUB_REF: 'refs/tags/v1.2.3',
      GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
      GITHUB_REPOSITORY: 'acme/agent',
      GITHUB_WORKSPACE: path.join(root, 'workspace'),
      GITHUB_RUN_ID: '4242',
      GITHUB_RUN_ATTEMPT: '1',
      RUNNER_TEMP: path.join(root, 'temp'),
      RUNNER_TOOL_CACHE: path.join(root, 'tool-cache'),
    },
    exec: fakeExec(buildah, scannerDoubles({ now: NOW, ...scanners })),
    now: () => NOW,
  });
}

describe('runAction', () => {
  it('mode build: builds, scans and gates every platform and pushes nothing under a tag', async () => {
    const records = path.join(root, 'records');
    const host = action({ mode: 'build', 'records-dir': records });
    const result = await runAction(host);

    expect(result.gate?.verdict.pass).toBe(true);
    expect(result.images.map((i) => i.platform)).toEqual(['linux/amd64', 'linux/arm64']);
    expect(groupsOf(host.log)).toEqual([
      'Check registry access',
      'Set up buildah',
      'Build linux/amd64 (buildah)',
      'Build linux/arm64 (buildah)',
      'Install scanners',
      'SBOM and scan linux/amd64',
      'SBOM and scan linux/arm64',
      'Upload build records',
    ]);
    expect(host.outputs).toMatchObject({ version: '1.2.3', channel: 'production', gate: 'pass' });
    expect(JSON.parse(host.outputs.digests!).map((d: { digest: string }) => d.digest)).toEqual(
      result.images.map((i) => i.digest),
    );
    expect(host.secrets).toContain(PASSWORD);
    expect(registry.tags.size).toBe(0);
    for (const image of result.images)
      expect(registry.manifests.has(`acme/agent@${image.digest}`)).toBe(true);
    const manifestPuts = registry.requests.filter((r) => r.method === 'PUT' && r.url.includes('/manifests/'));
    expect(manifestPuts.length).toBeGreaterThanOrEqual(2);
    expect(manifestPuts.filter((r) => !/\/manifests\/sha256:[a-f0-9]{64}$/.test(r.url))).toEqual([]);
  });

  it('mode build in a workflow: each platform record carries its SLSA provenance for the publish job to sign', async () => {
    const records = path.join(root, 'records');
    const host = action({ mode: 'build', 'records-dir': records, 'build-args': 'TOKEN=s3cret-value' });
    host.env.GITHUB_WORKFLOW_REF = 'acme/agent/.github/workflows/release.yml@refs/tags/v1.2.3';
    const result = await runAction(host);
    expect(groupsOf(host.log)).toContain('Build provenance (SLSA v1)');
    const files = readdirSync(records, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('build-record.json'),
    );
    expect(files).toHaveLength(2);
    for (const file of files) {
      const record = JSON.parse(readFileSync(path.join(records, file), 'utf8')) as {
        digest: string;
        provenance: {
          buildDefinition: { externalParameters: { build: unknown }; resolvedDependencies: unknown[] };
        };
      };
      expect(result.images.map((i) => i.digest)).toContain(record.digest);
      expect(record.provenance.buildDefinition.externalParameters.build).toEqual({
        platforms: ['linux/amd64', 'linux/arm64'],
        file: 'Dockerfile',
        context: '.',
        buildArgs: ['TOKEN'],
        builder: 'buildah',
      });
      // FROM scratch: the source is the only dependency.
      expect(record.provenance.buildDefinition.resolvedDependencies).toEqual([
        {
          uri: 'git+https://github.com/acme/agent@refs/tags/v1.2.3',
          digest: { gitCommit: '0123456789abcdef0123456789abcdef01234567' },
        },
      ]);
      expect(JSON.stringify(record)).not.toContain('s3cret-value');
    }
  });

  it('stops at the gate when a platform carries a critical finding: no tag, no record of a pass', async () => {
    const host = action(
      { mode: 'build', 'records-dir': path.join(root, 'records') },
      { matches: { 'linux/arm64': [{ id: 'CVE-2026-9999', severity: 'Critical', fixedIn: '1.0.1' }] } },
    );
    await expect(runAction(host)).rejects.toThrow(GateFailedError);
    expect(host.outputs.gate).toBe('fail');
    expect(registry.tags.size).toBe(0);
  });

  it.each([
    ['certificate-identity', { 'certificate-identity': '/^https://(acme/$/', signing: 'keyless' }],
    [
      'signing-key',
      { signing: 'key', 'signing-key': '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----' },
    ],
    ['trusted-root', { 'trusted-root': 'root.json', signing: 'keyless' }],
  ])(
    'a bad %s fails before anything is built, pushed or even asked of the registry',
    async (input, inputs) => {
      writeFileSync(path.join(root, 'workspace', 'root.json'), '{ "mediaType": ');
      const host = action(inputs);
      host.env.ACTIONS_ID_TOKEN_REQUEST_URL = 'http://127.0.0.1:9/token';
      host.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = 'token';
      const error = await runAction(host).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).input).toBe(input);
      expect(host.exec.calls).toEqual([]);
      expect(registry.requests).toEqual([]);
      expect(host.outputs).toEqual({});
      expect(groupsOf(host.log)).toEqual([]);
    },
  );
});
