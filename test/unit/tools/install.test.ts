import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  archiveName,
  checksumsFileName,
  installTool,
  parseChecksums,
  parseVersionInput,
} from '../../../src/tools/install.js';
import type { InstallDeps } from '../../../src/tools/install.js';
import { PINNED_TOOLS } from '../../../src/tools/pinned.js';
import type { PinTable } from '../../../src/tools/pinned.js';
import { toolCacheInstallDeps, whichOnPath } from '../../../src/tools/runtime-deps.js';
import { VERIFIED_SIDECAR } from '../../../src/tools/verified-sidecar.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A real .tar.gz with an executable shell script named `tool` at its top level, like the releases. */
function makeArchive(root: string, name: string, tool: string, output: string): Buffer {
  const dir = path.join(root, `src-${name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, tool), `#!/bin/sh\necho "${output}"\n`);
  chmodSync(path.join(dir, tool), 0o755);
  writeFileSync(path.join(dir, 'LICENSE'), 'test license\n');
  const file = path.join(root, name);
  execFileSync('tar', ['czf', file, '-C', dir, tool, 'LICENSE']);
  return readFileSync(file);
}

let root: string;
let server: Server;
let base: string;
const hits = new Map<string, number>();
const routes = new Map<string, { status: number; body: Buffer }>();
let good: Buffer;
let tampered: Buffer;
let grypeUnpinned: Buffer;

const SYFT_ASSET = 'syft_9.9.9_linux_amd64.tar.gz';
const GRYPE_ASSET = 'grype_1.2.3_linux_amd64.tar.gz';
let pins: PinTable;

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'edgeship-install-'));
  good = makeArchive(root, 'good.tar.gz', 'syft', 'syft 9.9.9 (test build)');
  tampered = makeArchive(root, 'tampered.tar.gz', 'syft', 'not the published syft');
  grypeUnpinned = makeArchive(root, 'grype.tar.gz', 'grype', 'grype 1.2.3 (test build)');
  pins = {
    syft: { version: '9.9.9', archives: { [SYFT_ASSET]: sha256(good) } },
    grype: { version: '0.0.1', archives: {} },
  };
  const sumsLine = (data: Buffer, name: string) => `${sha256(data)}  ${name}\n`;
  routes.set(`/good/v9.9.9/${SYFT_ASSET}`, { status: 200, body: good });
  routes.set(`/tampered/v9.9.9/${SYFT_ASSET}`, { status: 200, body: tampered });
  routes.set(`/good/v1.2.3/${GRYPE_ASSET}`, { status: 200, body: grypeUnpinned });
  routes.set(`/good/v1.2.3/${checksumsFileName('grype', '1.2.3')}`, {
    status: 200,
    body: Buffer.from(
      sumsLine(Buffer.from('other'), 'grype_1.2.3_darwin_arm64.tar.gz') +
        sumsLine(grypeUnpinned, GRYPE_ASSET) +
        sumsLine(Buffer.from('sbom'), `${GRYPE_ASSET}.sbom.json`),
    ),
  });
  // A release whose checksums file and archive disagree (the archive was swapped).
  routes.set(`/swapped/v1.2.3/${GRYPE_ASSET}`, { status: 200, body: tampered });
  routes.set(`/swapped/v1.2.3/${checksumsFileName('grype', '1.2.3')}`, {
    status: 200,
    body: Buffer.from(sumsLine(grypeUnpinned, GRYPE_ASSET)),
  });
  // An old-style release that ships only a macOS zip.
  routes.set(`/zip/v1.2.3/${checksumsFileName('grype', '1.2.3')}`, {
    status: 200,
    body: Buffer.from(sumsLine(Buffer.from('zip'), 'grype_1.2.3_darwin_arm64.zip')),
  });

  server = createServer((req, res) => {
    const url = req.url ?? '';
    hits.set(url, (hits.get(url) ?? 0) + 1);
    if (url.startsWith('/broken/')) {
      res.writeHead(500).end('upstream exploded');
      return;
    }
    const route = routes.get(url);
    if (!route) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(route.status, { 'content-type': 'application/octet-stream' }).end(route.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // tool-cache's own retry waits 10-20 s between attempts; its test hook makes it immediate.
  const hooks = globalThis as unknown as Record<string, unknown>;
  hooks.TEST_DOWNLOAD_TOOL_RETRY_MIN_SECONDS = 0;
  hooks.TEST_DOWNLOAD_TOOL_RETRY_MAX_SECONDS = 0;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

let log: { infos: string[]; warnings: string[]; info(m: string): void; warning(m: string): void };

beforeEach(() => {
  // A fresh runner tool cache and temp dir for every test.
  const runner = mkdtempSync(path.join(root, 'runner-'));
  process.env.RUNNER_TEMP = path.join(runner, 'temp');
  process.env.RUNNER_TOOL_CACHE = path.join(runner, 'tool-cache');
  hits.clear();
  const infos: string[] = [];
  const warnings: string[] = [];
  log = { infos, warnings, info: (m) => void infos.push(m), warning: (m) => void warnings.push(m) };
});

function deps(prefix: string, overrides: Partial<InstallDeps> = {}): InstallDeps {
  return toolCacheInstallDeps(log, {
    baseUrl: `${base}/${prefix}`,
    which: async () => undefined,
    ...overrides,
  });
}

const linux = { platform: 'linux' as const, arch: 'x64' };

describe('installTool: the pinned default', () => {
  it('downloads the archive, verifies it against the pinned table, extracts and caches the executable', async () => {
    const installed = await installTool({ tool: 'syft', version: 'default', ...linux }, deps('good'), pins);
    expect(installed).toMatchObject({ version: '9.9.9', pinned: true, source: 'download' });
    expect(installed.path).toBe(path.join(process.env.RUNNER_TOOL_CACHE!, 'syft', '9.9.9', 'amd64', 'syft'));
    expect(execFileSync(installed.path).toString().trim()).toBe('syft 9.9.9 (test build)');
    expect(hits.get(`/good/v9.9.9/${SYFT_ASSET}`)).toBe(1);
    // The pinned path never consults the release's checksums file.
    expect([...hits.keys()].some((url) => url.includes('checksums'))).toBe(false);
    expect(log.warnings).toEqual([]);
    expect(log.infos.join('\n')).toContain(`Verified ${SYFT_ASSET}: sha256 ${sha256(good)} (pinned)`);

    // A second install is a tool-cache hit: nothing is downloaded again.
    const again = await installTool({ tool: 'syft', version: '', ...linux }, deps('good'), pins);
    expect(again).toEqual({ ...installed, source: 'cache' });
    expect(hits.get(`/good/v9.9.9/${SYFT_ASSET}`)).toBe(1);
  });

  it('treats an explicit v-prefixed version equal to the pin as pinned', async () => {
    const installed = await installTool({ tool: 'syft', version: 'v9.9.9', ...linux }, deps('good'), pins);
    expect(installed).toMatchObject({ version: '9.9.9', pinned: true, source: 'download' });
    expect(log.warnings).toEqual([]);
  });

  it('refuses a tampered archive with the archive name and both hashes, and caches nothing', async () => {
    const attempt = installTool({ tool: 'syft', version: 'default', ...linux }, deps('tampered'), pins);
    await expect(attempt).rejects.toThrow(
      `Checksum mismatch for ${SYFT_ASSET}: expected sha256 ${sha256(good)} (pinned in Edgeship), got ${sha256(tampered)}; refusing to run it.`,
    );
    const cacheRoot = path.join(process.env.RUNNER_TOOL_CACHE!, 'syft');
    expect(() => readFileSync(path.join(cacheRoot, '9.9.9', 'amd64', 'syft'))).toThrow();
  });

  it('retries a server error, then names the URL and says how to pin or use path', async () => {
    const url = `${base}/broken/v9.9.9/${SYFT_ASSET}`;
    const attempt = installTool({ tool: 'syft', version: 'default', ...linux }, deps('broken'), pins);
    await expect(attempt).rejects.toThrow(`Could not download ${url}: Unexpected HTTP response: 500.`);
    await expect(
      installTool({ tool: 'syft', version: 'default', ...linux }, deps('broken'), pins),
    ).rejects.toThrow(/set syft-version to a release version .* or install syft .* set syft-version: path/);
    // tool-cache's downloadTool made 3 attempts for each install.
    expect(hits.get(`/broken/v9.9.9/${SYFT_ASSET}`)).toBe(6);
  });

  it('has no pin for a platform the table does not cover', async () => {
    await expect(
      installTool(
        { tool: 'syft', version: 'default', platform: 'darwin', arch: 'arm64' },
        deps('good'),
        pins,
      ),
    ).rejects.toThrow(/pins no sha256 for syft_9\.9\.9_darwin_arm64\.tar\.gz/);
    await expect(
      installTool({ tool: 'syft', version: 'default', platform: 'win32', arch: 'x64' }, deps('good'), pins),
    ).rejects.toThrow(/no release archive for win32\/x64.*syft-version: path/);
  });
});

describe('installTool: a version that is not pinned', () => {
  it('verifies the archive against the release checksums file and warns that it is not pinned', async () => {
    const installed = await installTool({ tool: 'grype', version: 'v1.2.3', ...linux }, deps('good'), pins);
    expect(installed).toMatchObject({ version: '1.2.3', pinned: false, source: 'download' });
    expect(execFileSync(installed.path).toString().trim()).toBe('grype 1.2.3 (test build)');
    expect(hits.get(`/good/v1.2.3/grype_1.2.3_checksums.txt`)).toBe(1);
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toContain('grype 1.2.3 is not the version pinned in Edgeship (0.0.1)');
    expect(log.warnings[0]).toContain('grype-version: default');
  });

  it('refuses an archive that does not match the release checksums file', async () => {
    await expect(
      installTool({ tool: 'grype', version: '1.2.3', ...linux }, deps('swapped'), pins),
    ).rejects.toThrow(
      `Checksum mismatch for ${GRYPE_ASSET}: expected sha256 ${sha256(grypeUnpinned)} (from grype_1.2.3_checksums.txt), got ${sha256(tampered)}; refusing to run it.`,
    );
  });

  it('explains a release without a checksums file (404, not retried)', async () => {
    await expect(
      installTool({ tool: 'grype', version: '7.7.7', ...linux }, deps('good'), pins),
    ).rejects.toThrow(
      /Could not download .*\/good\/v7\.7\.7\/grype_7\.7\.7_checksums\.txt: Unexpected HTTP response: 404\. The release grype v7\.7\.7 may not exist/,
    );
    expect(hits.get('/good/v7.7.7/grype_7.7.7_checksums.txt')).toBe(1);
  });

  it('explains a release whose checksums list no archive for this runner', async () => {
    await expect(
      installTool({ tool: 'grype', version: '1.2.3', platform: 'darwin', arch: 'arm64' }, deps('zip'), pins),
    ).rejects.toThrow(
      /lists no grype_1\.2\.3_darwin_arm64\.tar\.gz.*ships grype_1\.2\.3_darwin_arm64\.zip instead/,
    );
  });
});

describe('installTool: path', () => {
  it('uses the executable on PATH only when asked', async () => {
    const bin = mkdtempSync(path.join(root, 'bin-'));
    writeFileSync(path.join(bin, 'grype'), '#!/bin/sh\necho path grype\n');
    chmodSync(path.join(bin, 'grype'), 0o755);
    const which = (name: string) => whichOnPath(name, `/nonexistent:${bin}`, 'linux');
    const installed = await installTool(
      { tool: 'grype', version: 'path', ...linux },
      deps('good', { which }),
      pins,
    );
    expect(installed).toEqual({
      path: path.join(bin, 'grype'),
      version: 'path',
      pinned: false,
      source: 'path',
    });
    expect(hits.size).toBe(0);
  });

  it('names the input when nothing is on PATH', async () => {
    await expect(
      installTool({ tool: 'grype', version: 'PATH', ...linux }, deps('good'), pins),
    ).rejects.toThrow(/Input "grype-version" is "path" but no grype executable was found on PATH/);
  });

  it('skips files that are not executable', async () => {
    const bin = mkdtempSync(path.join(root, 'bin-'));
    writeFileSync(path.join(bin, 'syft'), 'not executable');
    expect(await whichOnPath('syft', bin, 'linux')).toBeUndefined();
  });
});

describe('version input, archive names and checksums files', () => {
  it('parses the version input and names the input on nonsense', () => {
    expect(parseVersionInput('syft', ' default ')).toEqual({ kind: 'default' });
    expect(parseVersionInput('syft', '')).toEqual({ kind: 'default' });
    expect(parseVersionInput('syft', 'v1.52.0')).toEqual({ kind: 'version', version: '1.52.0' });
    expect(parseVersionInput('grype', '0.119.0-rc.1')).toEqual({ kind: 'version', version: '0.119.0-rc.1' });
    expect(() => parseVersionInput('grype', 'latest')).toThrow(
      'Input "grype-version": "latest" is not valid; expected default, path, or a release version such as 1.2.3 or v1.2.3',
    );
  });

  it('builds release archive names', () => {
    expect(archiveName('syft', 'v1.52.0', 'linux', 'arm64')).toBe('syft_1.52.0_linux_arm64.tar.gz');
    expect(archiveName('grype', '0.119.0', 'darwin', 'x64')).toBe('grype_0.119.0_darwin_amd64.tar.gz');
    expect(archiveName('grype', '0.119.0', 'linux', 'amd64')).toBe('grype_0.119.0_linux_amd64.tar.gz');
    expect(() => archiveName('syft', '1.0.0', 'linux', 's390x')).toThrow(
      /no release archive for linux\/s390x/,
    );
  });

  it('parses a goreleaser checksums file', () => {
    const text = [
      '0a'.repeat(32) + '  syft_1.52.0_linux_amd64.tar.gz',
      '0B'.repeat(32) + ' *syft_1.52.0_darwin_arm64.tar.gz',
      '0c'.repeat(32) + '  syft_1.52.0_linux_amd64.deb',
      '',
      'not a checksum line',
      'abc  short-hash.tar.gz',
    ].join('\r\n');
    expect(parseChecksums(text)).toEqual(
      new Map([
        ['syft_1.52.0_linux_amd64.tar.gz', '0a'.repeat(32)],
        ['syft_1.52.0_darwin_arm64.tar.gz', '0b'.repeat(32)],
        ['syft_1.52.0_linux_amd64.deb', '0c'.repeat(32)],
      ]),
    );
  });

  it('pins all four Linux/macOS archives of syft and grype, named as the releases name them', () => {
    for (const tool of ['syft', 'grype'] as const) {
      const pin = PINNED_TOOLS[tool];
      const expected = (['linux', 'darwin'] as const).flatMap((platform) =>
        ['x64', 'arm64'].map((arch) => archiveName(tool, pin.version, platform, arch)),
      );
      expect(Object.keys(pin.archives).sort()).toEqual(expected.sort());
      for (const hash of Object.values(pin.archives)) expect(hash).toMatch(/^[0-9a-f]{64}$/);
      expect(new Set(Object.values(pin.archives)).size).toBe(4);
    }
  });
});

describe('installTool: tool-cache hits are re-verified', () => {
  const cachedDir = () => path.join(process.env.RUNNER_TOOL_CACHE!, 'syft', '9.9.9', 'amd64');
  const assetHits = () => hits.get(`/good/v9.9.9/${SYFT_ASSET}`);

  async function installGood() {
    return installTool({ tool: 'syft', version: 'default', ...linux }, deps('good'), pins);
  }

  it('records the verified archive and executable next to the cached executable', async () => {
    const installed = await installGood();
    const sidecar = JSON.parse(readFileSync(path.join(cachedDir(), VERIFIED_SIDECAR), 'utf8'));
    expect(sidecar).toEqual({
      tool: 'syft',
      version: '9.9.9',
      archive: SYFT_ASSET,
      archiveSha256: sha256(good),
      executableSha256: sha256(readFileSync(installed.path)),
    });
  });

  it('uses an intact cache hit without downloading, as pinned', async () => {
    const installed = await installGood();
    hits.clear();
    log.infos.length = 0;
    const again = await installGood();
    expect(again).toEqual({ ...installed, source: 'cache' });
    expect(hits.size).toBe(0);
    expect(log.warnings).toEqual([]);
    expect(log.infos.join('\n')).toContain(
      `sha256 ${sha256(readFileSync(installed.path))} matches the pinned-verified download of ${SYFT_ASSET}`,
    );
  });

  it('detects a tampered cached executable and replaces it with a fresh verified download', async () => {
    const installed = await installGood();
    writeFileSync(installed.path, '#!/bin/sh\necho "replaced by another job"\n');
    chmodSync(installed.path, 0o755);

    const again = await installGood();
    expect(again).toEqual({ ...installed, source: 'download' });
    expect(assetHits()).toBe(2);
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toContain(
      `The cached copy of syft 9.9.9 at ${installed.path} could not be verified`,
    );
    expect(log.warnings[0]).toContain('downloading and verifying');
    expect(execFileSync(again.path).toString().trim()).toBe('syft 9.9.9 (test build)');

    // Re-cached with a fresh sidecar: the next install is an intact hit.
    const third = await installGood();
    expect(third).toMatchObject({ pinned: true, source: 'cache' });
    expect(assetHits()).toBe(2);
    expect(log.warnings).toHaveLength(1);
  });

  it('re-downloads a cache entry without a sidecar (e.g. cached by an older Edgeship or someone else)', async () => {
    const installed = await installGood();
    rmSync(path.join(cachedDir(), VERIFIED_SIDECAR));

    const again = await installGood();
    expect(again).toEqual({ ...installed, source: 'download' });
    expect(assetHits()).toBe(2);
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toMatch(/could not be verified: it has no \.edgeship-verified\.json/);
    expect(readFileSync(path.join(cachedDir(), VERIFIED_SIDECAR), 'utf8')).toContain(sha256(good));
  });

  it('does not trust a sidecar that records an archive other than the pinned one', async () => {
    const installed = await installGood();
    // Another job swapped in its own binary and wrote a matching sidecar for an unpinned archive.
    writeFileSync(installed.path, '#!/bin/sh\necho evil\n');
    writeFileSync(
      path.join(cachedDir(), VERIFIED_SIDECAR),
      JSON.stringify({
        tool: 'syft',
        version: '9.9.9',
        archive: SYFT_ASSET,
        archiveSha256: sha256(tampered),
        executableSha256: sha256(readFileSync(installed.path)),
      }),
    );
    const again = await installGood();
    expect(again.source).toBe('download');
    expect(log.warnings[0]).toContain(`not the pinned ${sha256(good)}`);
    expect(execFileSync(again.path).toString().trim()).toBe('syft 9.9.9 (test build)');
  });

  it('re-downloads when the sidecar is not valid JSON', async () => {
    await installGood();
    writeFileSync(path.join(cachedDir(), VERIFIED_SIDECAR), 'not json');
    const again = await installGood();
    expect(again.source).toBe('download');
    expect(log.warnings[0]).toMatch(/\.edgeship-verified\.json is not valid/);
  });

  it('verifies cache hits of an unpinned version against the sidecar too', async () => {
    const installed = await installTool({ tool: 'grype', version: '1.2.3', ...linux }, deps('good'), pins);
    const hit = await installTool({ tool: 'grype', version: '1.2.3', ...linux }, deps('good'), pins);
    expect(hit).toEqual({ ...installed, source: 'cache' });
    expect(hits.get(`/good/v1.2.3/${GRYPE_ASSET}`)).toBe(1);

    writeFileSync(installed.path, '#!/bin/sh\necho swapped grype\n');
    const again = await installTool({ tool: 'grype', version: '1.2.3', ...linux }, deps('good'), pins);
    expect(again).toEqual({ ...installed, source: 'download' });
    expect(hits.get(`/good/v1.2.3/${GRYPE_ASSET}`)).toBe(2);
    expect(log.warnings.some((w) => w.includes('could not be verified'))).toBe(true);
    expect(execFileSync(again.path).toString().trim()).toBe('grype 1.2.3 (test build)');
  });
});
