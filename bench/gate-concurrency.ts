// Child process of bench/run.mjs: runs the gate's SBOM + scan phase for 2 platforms with the syft and
// grype TEST DOUBLES (each sleeping SCANNER_DOUBLE_DELAY seconds) at the concurrency given, printing
// {"ms": <wall ms>} as JSON.
import { mkdtempSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runGate } from '../src/scan/scan-platforms.js';
import { memoryLog } from '../src/logging/phase-log.js';
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
const start = performance.now();
const result = await runGate(
  {
    settings,
    policy: loadPolicy({}),
    images: [image('linux/amd64'), image('linux/arm64')],
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
    now: () => new Date(),
  },
);
if (!result.verdict.pass) throw new Error('the bench gate should pass');
console.log(JSON.stringify({ ms: performance.now() - start }));
