// Benchmarks with baselines measured in the same run. Prints one line per measure with its ratio and target.
//   cold start: time from spawning `node dist/main.js` to its first log line, against `node -e ''` to exit.
//   bundle size: bytes of dist/*.js against the 3 MB budget.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** ms from spawn until `until` resolves for the child (first stdout line, or exit). */
function timeChild(args, untilFirstLine) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { PATH: process.env.PATH },
    });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve(Number(process.hrtime.bigint() - start) / 1e6);
    };
    if (untilFirstLine) {
      child.stdout.on('data', (chunk) => {
        if (chunk.toString().includes('\n')) finish();
      });
    } else {
      child.stdout.resume();
    }
    child.on('exit', () =>
      untilFirstLine ? (done ? undefined : reject(new Error('no output line'))) : finish(),
    );
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

const baseline = await measure(['-e', ''], false);
const cold = await measure([path.join('dist', 'main.js')], true);
report('cold start of dist/main.js to first log line', cold, 'ms', baseline, '≤ 200 ms', cold <= 200);

const bundle = readdirSync('dist', { recursive: true })
  .filter((f) => f.endsWith('.js'))
  .reduce((sum, f) => sum + statSync(path.join('dist', f)).size, 0);
report('bundle size (dist/**/*.js)', bundle / 1e6, 'MB', undefined, '≤ 3 MB', bundle <= 3e6);

console.log(`node ${process.version}, ${RUNS} runs each, medians`);
if (results.some((r) => !r.pass)) process.exitCode = 1;
