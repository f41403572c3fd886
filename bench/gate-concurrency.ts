// Child process of bench/run.mjs: SBOMs and scans 2 platforms and decides the gate, with the syft and
// grype TEST DOUBLES (each sleeping SCANNER_DOUBLE_DELAY seconds) at the concurrency given, printing
// {"ms": <wall ms>} as JSON.
import { mkdtempSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decideGate } from '../src/policy/decide.js';
import { scanPlatforms } from '../src/scan/scan-platforms.js';
import { memoryLog } from '../test/unit/helpers/memory-host.js';
import { loadPolicy } from '../src/policy/index.js';
import { execProcess } from '../src/process/exec.js';
import { readSettings } from '../src/settings/inputs.js';

const concurrency = process.argv[2]!;
const doubles = path.resolve('test', 'doubles');
const inputs: Record<string, string> = {
  image: 'registry.example/acme/agent',
  'scan-concurrency': concurrency,
};
const settings = readSettings((name) => inputs[name] ?? '', {
  workspace: process.cwd(),
  fileExists: (p) => (p.endsWith('Dockerfile') ? 'file' : 'directory'),
});
const image = (platform: string) => ({
  platform,
  digest: `sha256:${'a'.repeat(64)}`,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  manifestSize: 500,
  size: 1000,
  config: { os: 'linux', architecture: platform.split('/')[1]!, user: '1000', healthcheck: true, labels: {} },
  configDigest: `sha256:${'b'.repeat(64)}`,
  layers: [{ mediaType: 'x', digest: `sha256:${'c'.repeat(64)}`, size: 900 }],
});
const images = [image('linux/amd64'), image('linux/arm64')];
const start = performance.now();
const scans = await scanPlatforms(
  {
    settings,
    images,
    reportsDir: mkdtempSync(path.join(os.tmpdir(), 'edgeship-bench-')),
    scanners: { syft: path.join(doubles, 'syft'), grype: path.join(doubles, 'grype'), grypeEnv: {} },
  },
  {
    exec: execProcess,
    log: memoryLog(),
    readText: (f) => readFile(f, 'utf8'),
    readBinary: (f) => readFile(f),
    writeText: (f, t) => writeFile(f, t),
    makeDir: async (d) => void (await mkdir(d, { recursive: true })),
  },
);
const verdict = decideGate(loadPolicy({}), scans, images, { allowEmptySbom: false, now: new Date() });
if (!verdict.pass) throw new Error('the bench gate should pass');
console.log(JSON.stringify({ ms: performance.now() - start }));
