// Child process of bench/run.mjs: a full release against a promotion of the same image, in the same run. A real
// registry (Debian docker-registry, TLS, with Bearer token auth from the harness's token server as GHCR, Docker Hub
// and Harbor authenticate: htpasswd would make it run bcrypt on every request, about 3 ms of this machine's CPU
// each) whose own log counts the requests (no proxy in between), the
// local Sigstore stack, buildah building linux/amd64 and linux/arm64 (QEMU); the bundled action run as the runner
// runs it: v1.8.2-rc.1 released (build, scan, gate, publish), then promoted to v1.8.2 (mode: promote).
// Scanners: the real Syft and Grype when they are available (test/e2e/harness/real-scanners.ts: the Grype
// database of test/fixtures/grype-db from a loopback listing server, the image with Debian's busybox-static so
// the gate passes), for the release and the promotion's re-scan alike; otherwise the scanner doubles (and the
// output says so). Release + promotion pairs (BENCH_PROMOTION_PAIRS, default 3), each in its own repository. Prints
// one JSON line: the wall times (each pair's, and each side's median), what the release included, which scanners
// ran, the first promotion's registry requests by kind and its token requests, and the layer blobs any promotion read
// (there must be none).
// Both runs carry a workflow run's environment (GITHUB_WORKFLOW_REF, GITHUB_SHA, ...), as on a runner: the release
// attests SLSA provenance for each platform and the index, and the promotion verifies and carries it over.
// BENCH_PROMOTION_AGENT_MB=<n> adds an n MB agent binary (random bytes, one COPY layer) to the sample, the size of a
// typical edge agent; a promotion reads no layer, so only the release grows with it.
// BENCH_PROMOTION_LOG=<prefix> writes each run's log with ms timestamps and the registry's log of the promotion;
// BENCH_PROMOTION_PROF=<dir> writes a CPU profile of each promotion's process there.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runBundled, type ActionRun } from '../test/e2e/harness/action-runner.js';
import { publishBaseImage } from '../test/e2e/harness/base-images.js';
import { makeDebianBusyboxWorkspace } from '../test/e2e/harness/debian-busybox.js';
import { classify } from '../test/e2e/harness/fault-proxy.js';
import { ensureBinfmt, ensureHostTools } from '../test/e2e/harness/host-tools.js';
import { startOidcTokenEndpoint } from '../test/e2e/harness/oidc-issuer.js';
import { realScannerTools, startRealScanners } from '../test/e2e/harness/real-scanners.js';
import { accessLogAfter, markAccessLog, startRegistry } from '../test/e2e/harness/registry.js';
import { FIXTURES, SCANNERS_FROM_PATH, scannerDoubleEnv } from '../test/e2e/harness/scanner-doubles.js';
import { GITHUB_ACTIONS_ISSUER, startSigstoreStack } from '../test/e2e/harness/sigstore-stack.js';
import {
  buildahEnvironment,
  makeSampleWorkspace,
  SAMPLE_DOCKERFILE,
  releasedLayers,
} from '../test/e2e/harness/workspace.js';

const IDENTITY = 'https://github.com/acme/edge-agent/.github/workflows/release.yml@refs/heads/main';
const REPO = 'acme/edge-agent';
/** Release + promotion pairs (BENCH_PROMOTION_PAIRS, default 3); the wall times reported are each side's median. */
const PAIRS = Math.max(1, Number(process.env.BENCH_PROMOTION_PAIRS ?? 3));

const tools = await realScannerTools('bench promotion');
await ensureHostTools();
await ensureBinfmt();
const reg = await startRegistry({ auth: 'token' });
const stack = await startSigstoreStack();
const oidc = await startOidcTokenEndpoint(() => stack.oidcToken(IDENTITY));
const storage = await buildahEnvironment();
const scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-bench-promotion-'));
const real = 'reason' in tools ? undefined : await startRealScanners(tools);
const agentMb = Number(process.env.BENCH_PROMOTION_AGENT_MB ?? 0);
const dockerfile =
  agentMb > 0 ? `${SAMPLE_DOCKERFILE}COPY agent.bin /opt/agent/agent.bin\n` : SAMPLE_DOCKERFILE;
const workspace = real ? await makeDebianBusyboxWorkspace(dockerfile) : await makeSampleWorkspace(dockerfile);
if (agentMb > 0) await writeFile(path.join(workspace, 'agent.bin'), randomBytes(agentMb * 1_000_000));
try {
  /** Inputs and environment of the scanners: the real ones on PATH, or the doubles. */
  const scanners = real
    ? {
        name: 'real Syft and Grype (pinned versions, Grype database fixture)',
        inputs: real.inputs,
        env: real.env,
      }
    : {
        name: `scanner doubles (real Syft/Grype unavailable: ${'reason' in tools ? tools.reason : ''})`,
        inputs: SCANNERS_FROM_PATH,
        env: scannerDoubleEnv({
          reports: { linux_amd64: FIXTURES.reportClean, linux_arm64: FIXTURES.reportClean },
        }),
      };
  const trustedRoot = path.join(scratch, 'trusted_root.json');
  await writeFile(trustedRoot, JSON.stringify(stack.trustedRoot));
  const base = await publishBaseImage(reg);
  const run = async (
    tag: string,
    image: string,
    inputs: Record<string, string> = {},
  ): Promise<{ run: ActionRun; ms: number }> => {
    const started = process.hrtime.bigint();
    const lines: string[] = [];
    const result = await runBundled('main', {
      workspace,
      onLine: (line) => lines.push(`${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(0)} ${line}`),
      inputs: {
        image: `${reg.host}/${image}`,
        builder: 'buildah',
        'build-args': `BASE=${base}`,
        'registry-username': reg.username,
        'registry-password': reg.password,
        'registry-ca-file': reg.caFile,
        'reports-dir': path.join(scratch, image, tag),
        'fulcio-url': stack.fulcioURL,
        'rekor-url': stack.rekorURL,
        'tsa-url': stack.tsaURL,
        'trusted-root': trustedRoot,
        'certificate-identity': IDENTITY,
        'certificate-oidc-issuer': GITHUB_ACTIONS_ISSUER,
        'release-assets': 'off',
        'github-attestations': 'off',
        ...scanners.inputs,
        ...inputs,
      },
      env: {
        ...storage.env,
        ...scanners.env,
        ...oidc.env,
        GITHUB_REF: `refs/tags/${tag}`,
        GITHUB_REPOSITORY: REPO,
        GITHUB_WORKFLOW_REF: `${REPO}/.github/workflows/release.yml@refs/tags/${tag}`,
        GITHUB_SHA: '4f2c6d8e0a1b3c5d7e9f1a2b3c4d5e6f7a8b9c0d',
        GITHUB_EVENT_NAME: 'push',
        GITHUB_RUN_ID: tag === 'v1.8.2' ? '1002' : '1001',
        GITHUB_RUN_ATTEMPT: '1',
        ...(process.env.BENCH_PROMOTION_PROF && inputs.mode === 'promote'
          ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROMOTION_PROF}` }
          : {}),
      },
    });
    if (process.env.BENCH_PROMOTION_LOG)
      await writeFile(
        `${process.env.BENCH_PROMOTION_LOG}-${image.replace('/', '_')}-${tag}.log`,
        lines.join('\n'),
      );
    if (result.exitCode !== 0) throw new Error(`${tag} failed:\n${result.errors.join('\n')}`);
    return { run: result, ms: Number(process.hrtime.bigint() - started) / 1e6 };
  };
  /** One release and its promotion in a repository of their own; the promotion's registry requests counted. */
  const pair = async (image: string) => {
    const release = await run('v1.8.2-rc.1', image);
    const marker = await markAccessLog(reg);
    const tokensBefore = reg.tokenRequests();
    const promotion = await run('v1.8.2', image, { mode: 'promote', from: '1.8.2-rc.1' });
    const tokenRequests = reg.tokenRequests() - tokensBefore;
    // The registry logs a request once it has answered it: wait (bounded) until its log stops growing.
    let requests = accessLogAfter(reg.logs(), marker);
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const now = accessLogAfter(reg.logs(), marker);
      if (now.length === requests.length) break;
      requests = now;
    }
    if (process.env.BENCH_PROMOTION_LOG)
      await writeFile(
        `${process.env.BENCH_PROMOTION_LOG}-${image.replace('/', '_')}-registry.log`,
        reg.logs().slice(reg.logs().indexOf(marker)),
      );
    const byKind: Record<string, number> = {};
    for (const r of requests) {
      const { kind } = classify(r.method, r.uri);
      byKind[kind] = (byKind[kind] ?? 0) + 1;
    }
    const layers = await releasedLayers(reg, image, release.run.outputs.digests!);
    const blobReads = requests
      .map((r) =>
        r.method === 'GET' || r.method === 'HEAD'
          ? /^\/v2\/.+\/blobs\/(sha256:[a-f0-9]{64})$/.exec(r.uri)?.[1]
          : undefined,
      )
      .filter((d): d is string => d !== undefined);
    return {
      releaseMs: release.ms,
      promotionMs: promotion.ms,
      sameIndex: promotion.run.outputs.digest === release.run.outputs.digest,
      byKind,
      tokenRequests,
      blobReads: blobReads.length,
      layerBlobReads: blobReads.filter((d) => layers.has(d)),
    };
  };
  // Several pairs, each in its own repository: the median of each side (one pair's ratio moves by ±30% with the
  // machine's load; the other lines of the bench are medians too).
  const pairs = [];
  for (let i = 0; i < PAIRS; i++) pairs.push(await pair(i === 0 ? REPO : `${REPO}-${i}`));
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const first = pairs[0]!;
  console.log(
    JSON.stringify({
      scanners: scanners.name,
      releaseIncludes:
        'buildah build of linux/amd64 and linux/arm64 (QEMU) FROM a base in the registry, push by digest, ' +
        `${agentMb > 0 ? `with a ${agentMb} MB agent binary, ` : ''}` +
        'SBOM + scan of both platforms, gate, index push, keyless signatures, SBOM/vulnerability attestations ' +
        'and SLSA provenance (each platform and the index) in both formats, signed deployment manifest, ' +
        'read-back verification, tags (no release assets, no GitHub attestations API)',
      agentMb,
      pairs: pairs.map((p) => ({
        releaseMs: Math.round(p.releaseMs),
        promotionMs: Math.round(p.promotionMs),
      })),
      releaseMs: median(pairs.map((p) => p.releaseMs)),
      promotionMs: median(pairs.map((p) => p.promotionMs)),
      sameIndex: pairs.every((p) => p.sameIndex),
      byKind: first.byKind,
      tokenRequests: first.tokenRequests,
      blobReads: first.blobReads,
      layerBlobReads: pairs.flatMap((p) => p.layerBlobReads),
    }),
  );
} finally {
  await reg.stop();
  await stack.stop();
  await oidc.stop();
  await real?.stop();
  for (const dir of [storage.dir, workspace, scratch]) await rm(dir, { recursive: true, force: true });
}
