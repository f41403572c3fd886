// Benchmarks with baselines measured in the same run. Prints one line per measure with its ratio and target.
//   cold start: time from spawning `node dist/main.js` to its first log line, against `node -e ''` to exit.
//   bundle size: bytes of dist/**/*.js against the 3 MB budget.
//   gate evaluation: parse + evaluate a 100k-match Grype report (real matches from ../shared/fixtures, scaled),
//     against `jq '.matches | length'` on the same file; peak RSS against the file size.
//   scan concurrency: wall time of the SBOM + scan phase for 2 platforms with 1 s scanner doubles, concurrent
//     against serial; then the same with the real Syft and Grype (bench/scan-real.ts), with each platform's times.
//   publish requests: registry requests of the publish phase for 2 platforms against a real registry (Debian
//     docker-registry, htpasswd + TLS) signed with the local Sigstore stack, per signature-format (bundle,
//     classic, both), against the justified minimum (bench/publish-requests.ts); transparency-log entries per
//     publish against theirs; blobs uploaded again that the registry already had.
//   real builders: wall time of a 2-platform release of the sample (mode build) with the real buildx (Docker
//     Engine 26: a docker-container builder from a BuildKit image built here, and the docker driver) against the
//     real buildah (bench/builders.ts); one SKIP line when the engine cannot start.
//   promotion: a full release (buildah, 2 platforms, SLSA provenance as in a workflow run) and its promotion (mode:
//     promote) against the registry directly (Bearer token auth, as GHCR and Docker Hub), its requests counted from
//     the registry's access log
//     (bench/promotion.ts): layer blobs the promotion read (0), its wall time against the release's (the medians of
//     3 pairs, each in its own repository); for the sample and for the sample with a 48 MB agent binary.
//     docker-registry, htpasswd + TLS) signed with the local Sigstore stack, against the justified minimum
//     (bench/publish-requests.ts); blobs uploaded again that the registry already had.
//   offline bundles: delta bundle bytes against the physical minimum, full bundle creation time against
//     `skopeo copy docker://… oci-archive:…` + `zstd` of the same image, zstd against gzip size
//     (bench/offline-bundles.ts).
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * ms from spawn until the child's first stdout line (or until it exits). The sample ends only when the
 * child has exited, so one sample's tail never competes with the next sample for the CPU.
 */
function timeChild(args, untilFirstLine) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { PATH: process.env.PATH },
    });
    let firstLine;
    child.stdout.on('data', (chunk) => {
      if (firstLine === undefined && chunk.toString().includes('\n'))
        firstLine = Number(process.hrtime.bigint() - start) / 1e6;
    });
    child.on('exit', () => {
      const exited = Number(process.hrtime.bigint() - start) / 1e6;
      if (untilFirstLine && firstLine === undefined) reject(new Error('no output line'));
      else resolve(untilFirstLine ? firstLine : exited);
    });
    child.on('error', reject);
  });
}

async function measure(args, untilFirstLine) {
  const samples = [];
  await timeChild(args, untilFirstLine); // warm the file cache
  for (let i = 0; i < RUNS; i++) samples.push(await timeChild(args, untilFirstLine));
  return median(samples);
}

const results = [];
function report(name, value, unit, baseline, target, pass) {
  results.push({ name, value, unit, baseline, target, pass });
  const ratio = baseline
    ? ` ratio ${(value / baseline).toFixed(2)} vs baseline ${baseline.toFixed(1)} ${unit}`
    : '';
  console.log(`${pass ? 'PASS' : 'FAIL'} ${name}: ${value.toFixed(1)} ${unit}${ratio} (target ${target})`);
}

/** Runs a bench child (Node with the given args) and parses the JSON of its last stdout line; its stderr shows. */
function lastJsonLine(args, options = {}) {
  const out = execFileSync(process.execPath, args, {
    maxBuffer: 16e6,
    stdio: ['ignore', 'pipe', 'inherit'],
    ...options,
  });
  return JSON.parse(out.toString().trim().split('\n').pop());
}

const baseline = await measure(['-e', ''], false);
const cold = await measure([path.join('dist', 'main.js')], true);
report('cold start of dist/main.js to first log line', cold, 'ms', baseline, '≤ 200 ms', cold <= 200);

// Informational: until the whole action is loaded and has failed on a missing GITHUB_REF (exit).
const loaded = await measure([path.join('dist', 'main.js')], false);
console.log(`  (whole action loaded and exited: ${loaded.toFixed(1)} ms)`);

const bundle = readdirSync('dist', { recursive: true })
  .filter((f) => f.endsWith('.js'))
  .reduce((sum, f) => sum + statSync(path.join('dist', f)).size, 0);
report('bundle size (dist/**/*.js)', bundle / 1e6, 'MB', undefined, '≤ 3 MB', bundle <= 3e6);
console.log(`  (${bundle} bytes)`);

// ---- gate evaluation on a 100k-match report ----
const work = mkdtempSync(path.join(os.tmpdir(), 'edgeship-bench-'));
try {
  await build({
    entryPoints: {
      'gate-eval': 'bench/gate-eval.ts',
      'gate-concurrency': 'bench/gate-concurrency.ts',
      'publish-requests': 'bench/publish-requests.ts',
      'offline-bundles': 'bench/offline-bundles.ts',
    },
    outdir: work,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    logLevel: 'warning',
    banner: { js: "import{createRequire as __r}from'node:module';const require=__r(import.meta.url);" },
  });
  const fixture = path.resolve(
    '..',
    'shared',
    'fixtures',
    'grype',
    'json',
    'debian12-python-app_amd64_grype-0.97.1.json',
  );
  const wanted = Number(process.env.BENCH_MATCHES ?? 100_000);
  const reportFile = path.join(work, 'report-100k.json');
  const source = JSON.parse(readFileSync(fixture, 'utf8'));
  await new Promise((resolve, reject) => {
    const out = createWriteStream(reportFile);
    out.on('error', reject);
    out.write('{"matches":[');
    for (let i = 0; i < wanted; i++) {
      const match = structuredClone(source.matches[i % source.matches.length]);
      match.vulnerability.id = `${match.vulnerability.id}-${Math.floor(i / source.matches.length)}`;
      out.write((i ? ',' : '') + JSON.stringify(match));
    }
    const { matches: _matches, ...rest } = source;
    out.end('],' + JSON.stringify(rest).slice(1), resolve);
  });
  const fileBytes = statSync(reportFile).size;
  const jqStart = process.hrtime.bigint();
  const jqCount = Number(
    execFileSync('jq', ['.matches | length', reportFile], { maxBuffer: 1e6 }).toString(),
  );
  const jqMs = Number(process.hrtime.bigint() - jqStart) / 1e6;
  const evalStart = process.hrtime.bigint();
  const gate = JSON.parse(
    execFileSync(process.execPath, [path.join(work, 'gate-eval.js'), reportFile]).toString(),
  );
  const evalMs = Number(process.hrtime.bigint() - evalStart) / 1e6;
  if (gate.matches !== jqCount)
    throw new Error(`the gate read ${gate.matches} matches, jq counted ${jqCount}`);
  report(
    `gate evaluation of ${wanted} matches (${(fileBytes / 1e6).toFixed(0)} MB), process wall time`,
    evalMs,
    'ms',
    jqMs,
    'ratio ≤ 1.0 vs jq',
    evalMs <= jqMs,
  );
  report(
    'gate evaluation peak RSS / report size',
    gate.maxRssBytes / fileBytes,
    '×',
    undefined,
    '≤ 4×',
    gate.maxRssBytes <= 4 * fileBytes,
  );

  // ---- scan concurrency ----
  const wall = (concurrency) =>
    JSON.parse(
      execFileSync(process.execPath, [path.join(work, 'gate-concurrency.js'), String(concurrency)], {
        env: {
          ...process.env,
          SCANNER_DOUBLE_DELAY: '1',
          DOUBLE_SYFT_SBOM_linux_amd64: path.resolve(
            '..',
            'shared',
            'fixtures',
            'syft',
            'spdx-json',
            'kubectl_linux-amd64_syft-0.58.0_spdx-2.2.json',
          ),
          DOUBLE_SYFT_SBOM_linux_arm64: path.resolve(
            '..',
            'shared',
            'fixtures',
            'syft',
            'spdx-json',
            'kubectl_linux-arm64_syft-0.58.0_spdx-2.2.json',
          ),
          DOUBLE_GRYPE_REPORT_linux_amd64: path.resolve(
            '..',
            'shared',
            'fixtures',
            'grype',
            'json',
            'klass-web_wolfi_arm64_grype-0.114.0_zero-matches.json',
          ),
          DOUBLE_GRYPE_REPORT_linux_arm64: path.resolve(
            '..',
            'shared',
            'fixtures',
            'grype',
            'json',
            'klass-web_wolfi_arm64_grype-0.114.0_zero-matches.json',
          ),
          DOUBLE_GRYPE_SARIF: path.resolve(
            '..',
            'shared',
            'fixtures',
            'grype',
            'sarif',
            'empty-results_grype-0.89.0.sarif',
          ),
        },
      }).toString(),
    ).ms;
  const serial = wall(1);
  const concurrent = wall(2);
  report(
    'SBOM + scan of 2 platforms (1 s doubles), concurrent wall / serial wall',
    concurrent / serial,
    '',
    undefined,
    '≤ 0.60',
    concurrent / serial <= 0.6,
  );
  console.log(`  serial ${serial.toFixed(0)} ms, concurrent ${concurrent.toFixed(0)} ms`);

  // ---- scan concurrency with the real Syft and Grype (run with tsx: it reads the committed Grype database) ----
  const real = lastJsonLine(['--import', 'tsx', path.join('bench', 'scan-real.ts')]);
  if (real.skipped) {
    console.log(`SKIP SBOM + scan with the real Syft and Grype: ${real.skipped}`);
  } else {
    report(
      'SBOM + scan of 2 platforms with the real Syft + Grype, concurrent wall / serial wall',
      real.concurrentMs / real.serialMs,
      '',
      undefined,
      '< 1.0',
      real.concurrentMs < real.serialMs,
    );
    console.log(
      `  serial ${real.serialMs.toFixed(0)} ms, concurrent ${real.concurrentMs.toFixed(0)} ms (medians of ${real.runs}); per platform, serial → concurrent:`,
    );
    for (const key of Object.keys(real.serialTools))
      console.log(
        `    ${key.replace(/-[\d.]+-go[\d.]+-\w+ /, ' ')}: ${real.serialTools[key].toFixed(0)} → ${real.concurrentTools[key].toFixed(0)} ms`,
      );
  }

  // ---- publish requests ----
  const published = lastJsonLine([path.join(work, 'publish-requests.js')]);
  for (const run of published.runs) {
    report(
      `registry requests of publishRelease ${run.release}, signature-format ${run.format}, 2 platforms (${run.baseline ? 'over a baseline' : 'first release'})`,
      run.requests,
      'requests',
      run.minimum,
      '≤ 1.2× the minimum',
      run.requests <= 1.2 * run.minimum,
    );
    report(
      `transparency-log entries of publishRelease ${run.release}, signature-format ${run.format}`,
      run.tlogEntries,
      'entries',
      run.minimumTlogEntries,
      '= the minimum',
      run.tlogEntries === run.minimumTlogEntries,
    );
    console.log(
      '  ' +
        Object.entries(run.breakdown)
          .map(([kind, count]) => `${kind} ${count}`)
          .join(', '),
    );
  }
  const reUploads = published.runs.flatMap((run) => run.reUploads);
  report(
    'blob re-uploads (blobs the registry already had) across both publishes',
    reUploads.length,
    'uploads',
    undefined,
    '0',
    reUploads.length === 0,
  );
  if (reUploads.length) console.log(`  ${reUploads.join(', ')}`);

  // ---- promotion: the sample, then the sample with a 48 MB agent binary (only the release reads layers) ----
  for (const agentMb of [0, 48]) {
    // Run with tsx, not bundled: the e2e harness finds the project (dist/, fixtures) from its own path.
    const promoted = lastJsonLine(['--import', 'tsx', path.join('bench', 'promotion.ts')], {
      env: { ...process.env, BENCH_PROMOTION_AGENT_MB: String(agentMb) },
    });
    const image = agentMb > 0 ? `the sample with a ${agentMb} MB agent binary` : 'the sample';
    report(
      `layer blobs read by a promotion (mode: promote, 2 platforms, real registry, ${image})`,
      promoted.layerBlobReads.length,
      'blobs',
      undefined,
      '0',
      promoted.layerBlobReads.length === 0 && promoted.sameIndex,
    );
    console.log(
      '  ' +
        Object.entries(promoted.byKind)
          .map(([kind, count]) => `${kind} ${count}`)
          .join(', ') +
        ` (${promoted.blobReads} blob reads: configs, bundles, manifests; ${promoted.tokenRequests} token requests)`,
    );
    console.log(`  scanners in both runs: ${promoted.scanners}`);
    console.log(`  the release: ${promoted.releaseIncludes}`);
    console.log(
      `  ${promoted.pairs.length} release + promotion pairs, each in its own repository (the medians are compared): ` +
        promoted.pairs.map((p) => `${p.releaseMs} + ${p.promotionMs} ms`).join(', '),
    );
    report(
      `promotion wall time against a full release of the same image (${image}, medians)`,
      promoted.promotionMs,
      'ms',
      promoted.releaseMs,
      '≤ 0.10 × the release',
      promoted.promotionMs <= 0.1 * promoted.releaseMs,
    );
  }

  // ---- real builders: a 2-platform release of the sample with buildx against buildah ----
  const builders = lastJsonLine(['--import', 'tsx', path.join('bench', 'builders.ts')], {
    timeout: 60 * 60_000,
  });
  if (builders.skipped) {
    console.log(`SKIP 2-platform release with real buildx vs real buildah: ${builders.skipped}`);
  } else {
    const measured = 'measured, no target';
    report(
      '2-platform release of the sample, real buildx (docker-container builder) / real buildah',
      builders.buildx / 1000,
      's',
      builders.buildah / 1000,
      measured,
      true,
    );
    report(
      '2-platform release of the sample, real buildx (existing docker-driver builder) / real buildah',
      builders.dockerDriver / 1000,
      's',
      builders.buildah / 1000,
      measured,
      true,
    );
  }

  // ---- offline bundles ----
  const offline = lastJsonLine([path.join(work, 'offline-bundles.js')]);
  report(
    'delta bundle bytes / physical minimum (new blobs + manifests + signatures)',
    offline.delta.bytes / offline.delta.minimum,
    '',
    undefined,
    '≤ 1.02',
    offline.delta.bytes <= 1.02 * offline.delta.minimum,
  );
  console.log(
    `  delta ${offline.delta.bytes} bytes, minimum ${offline.delta.minimum} bytes (uncompressed overhead files ${offline.delta.overhead} bytes)`,
  );
  const { create, sizes } = offline;
  report(
    `full bundle creation (linux/amd64, zstd) / skopeo copy docker:// oci-archive: + zstd, median of ${create.ratios.length} paired rounds`,
    create.ratio,
    '×',
    undefined,
    '≤ 1.0',
    create.ratio <= 1,
  );
  console.log(
    `  ratios ${create.ratios.join(' ')}; medians: bundle ${create.ms.toFixed(0)} ms (image part ${create.imageMs.toFixed(0)} ms), skopeo + zstd ${create.baselineMs.toFixed(0)} ms; CPU time ratio ${create.cpuRatio.toFixed(2)}; load ${create.load.map((l) => l.toFixed(2)).join(' → ')}`,
  );
  report(
    "bundle compressor / zstd CLI at its defaults, output bytes for the same input (skopeo's archive)",
    sizes.sameInput.node / sizes.sameInput.cli,
    '',
    undefined,
    // The same level (3) as the CLI: block boundaries of a streamed input move the output by a few bytes either way.
    '≤ 1.001',
    sizes.sameInput.node <= 1.001 * sizes.sameInput.cli,
  );
  console.log(
    `  ${sizes.sameInput.node} bytes against ${sizes.sameInput.cli}; image frame of the bundle ${sizes.frame} bytes, skopeo archive + zstd ${sizes.skopeoZstd} bytes`,
  );
  report(
    'full bundle size zstd / gzip (sample image)',
    sizes.zstd / sizes.gzip,
    '',
    undefined,
    'printed',
    true,
  );
  console.log(`  zstd ${sizes.zstd} bytes, gzip ${sizes.gzip} bytes`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log(`node ${process.version}, ${RUNS} runs each, medians`);
if (results.some((r) => !r.pass)) process.exitCode = 1;
