// Child process of bench/run.mjs: evaluates the gate on one Grype report file and prints
// {"ms": <wall ms>, "maxRssBytes": <peak RSS>, "matches": n, "pass": bool} as JSON.
import { readFileSync } from 'node:fs';
import { evaluateGate, loadPolicy } from '../src/policy/index.js';
import { parseGrypeReport } from '../src/scan/grype-report.js';

const file = process.argv[2]!;
const start = performance.now();
const report = parseGrypeReport(readFileSync(file), file);
const verdict = evaluateGate(
  loadPolicy({}),
  [{ platform: 'linux/arm64', report, image: { size: 50_000_000, user: '1000', healthcheck: true } }],
  new Date(),
);
const ms = performance.now() - start;
console.log(
  JSON.stringify({
    ms,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    matches: report.matches.length,
    pass: verdict.pass,
  }),
);
