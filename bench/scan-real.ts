// Child process of bench/run.mjs: the SBOM + scan phase (scanPlatforms) of 2 platforms with the REAL Syft and
// Grype at the pinned versions (built from their Go modules, test/e2e/harness/go-tools.ts), serial
// (scan-concurrency 1) against concurrent (2). Syft reads the busybox base image of each platform from a real
// registry (Debian docker-registry, htpasswd + TLS); Grype scans against the committed database of real
// advisories (test/fixtures/grype-db), installed once from a loopback listing server. Each mode runs
// BENCH_SCAN_RUNS times (default 3); prints one JSON line: {"skipped": reason} or the median wall times and the
// median time of each platform's Syft and Grype runs.
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parsePlatform } from '../src/image/platform.js';
import { resolvePlatformImage, type PlatformImage } from '../src/image/pushed-image.js';
import { execProcess, type Exec } from '../src/process/exec.js';
import { RegistryClient } from '../src/registry/client.js';
import { resolverFromInputs } from '../src/registry/credentials.js';
import { ensureGrypeDb } from '../src/scan/grype-db.js';
import { scanPlatforms } from '../src/scan/scan-platforms.js';
import { readSettings } from '../src/settings/inputs.js';
import { memoryLog } from '../test/unit/helpers/memory-host.js';
import { publishBaseImage } from '../test/e2e/harness/base-images.js';
import { goToolsOrReason } from '../test/e2e/harness/go-tools.js';
import { maxDbAgeAccepting, startGrypeDbServer } from '../test/e2e/harness/grype-db-server.js';
import { ensureBinfmt, ensureHostTools } from '../test/e2e/harness/host-tools.js';
import { startRegistry } from '../test/e2e/harness/registry.js';

const RUNS = Number(process.env.BENCH_SCAN_RUNS ?? 3);
const PLATFORMS = ['linux/amd64', 'linux/arm64'];
const REPO = 'base/busybox';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const tools = await goToolsOrReason(['syft', 'grype']);
if ('reason' in tools) {
  console.log(JSON.stringify({ skipped: tools.reason }));
  process.exit(0);
}

await ensureHostTools();
await ensureBinfmt();
const reg = await startRegistry();
const db = await startGrypeDbServer();
const scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-bench-scan-'));
try {
  await publishBaseImage(reg, REPO);
  const ca = await readFile(reg.caFile, 'utf8');
  const client = new RegistryClient({
    registry: reg.host,
    credentials: resolverFromInputs(reg.host, reg.username, reg.password),
    ca,
  });
  const images: PlatformImage[] = [];
  try {
    const index = await client.getManifest(REPO, '1');
    for (const platform of PLATFORMS)
      images.push(await resolvePlatformImage(client, REPO, index.digest, parsePlatform(platform)));
  } finally {
    await client.close();
  }

  const maxDbAge = maxDbAgeAccepting(db.built);
  const grypeDb = await ensureGrypeDb({
    exec: execProcess,
    grype: tools.paths.grype!,
    dbCacheDir: path.join(scratch, 'grype-db'),
    maxDbAge,
    updateUrl: db.url,
    platform: os.platform(),
    arch: os.arch(),
    schema: '6',
    now: () => new Date(),
    restoreCache: async () => undefined,
    saveCache: async () => -1,
    log: memoryLog(),
  });

  /** One scanPlatforms run; wall ms and the ms of each syft/grype run per platform slug. */
  const scanOnce = async (concurrency: number, n: number) => {
    const inputs: Record<string, string> = {
      image: `${reg.host}/${REPO}`,
      'registry-username': reg.username,
      'registry-password': reg.password,
      'registry-ca-file': reg.caFile,
      'scan-concurrency': String(concurrency),
      'max-db-age': maxDbAge,
    };
    await writeFile(path.join(scratch, 'Dockerfile'), 'FROM scratch\n');
    const settings = readSettings((name) => inputs[name] ?? '', { workspace: scratch });
    const tool: Record<string, number> = {};
    const exec: Exec = async (file, args, options) => {
      const started = performance.now();
      const result = await execProcess(file, args, options);
      const slug =
        args[0] === 'scan'
          ? args[args.indexOf('--platform') + 1]!.replace('/', '-')
          : /sbom-([a-z0-9-]+)\./.exec(args[0] ?? '')?.[1];
      tool[`${path.basename(file)} ${slug}`] = performance.now() - started;
      return result;
    };
    const reportsDir = path.join(scratch, `reports-${concurrency}-${n}`);
    await mkdir(reportsDir, { recursive: true });
    const started = performance.now();
    await scanPlatforms(
      {
        settings,
        images,
        reportsDir,
        scanners: { syft: tools.paths.syft!, grype: tools.paths.grype!, grypeEnv: grypeDb.env },
      },
      {
        exec,
        log: memoryLog(),
        readText: (f) => readFile(f, 'utf8'),
        readBinary: (f) => readFile(f),
        writeText: (f, t) => writeFile(f, t),
        makeDir: async (d) => void (await mkdir(d, { recursive: true })),
      },
    );
    return { ms: performance.now() - started, tool };
  };

  await scanOnce(2, 0); // warm the file cache (binaries, database)
  const runs: Record<'serial' | 'concurrent', Array<Awaited<ReturnType<typeof scanOnce>>>> = {
    serial: [],
    concurrent: [],
  };
  for (let n = 1; n <= RUNS; n++) {
    runs.serial.push(await scanOnce(1, n));
    runs.concurrent.push(await scanOnce(2, n));
  }
  const perTool = (mode: 'serial' | 'concurrent') =>
    Object.fromEntries(
      Object.keys(runs[mode][0]!.tool).map((key) => [key, median(runs[mode].map((r) => r.tool[key]!))]),
    );
  console.log(
    JSON.stringify({
      runs: RUNS,
      serialMs: median(runs.serial.map((r) => r.ms)),
      concurrentMs: median(runs.concurrent.map((r) => r.ms)),
      serialTools: perTool('serial'),
      concurrentTools: perTool('concurrent'),
    }),
  );
} finally {
  await reg.stop();
  await db.stop();
  await rm(scratch, { recursive: true, force: true });
}
