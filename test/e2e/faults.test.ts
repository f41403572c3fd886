import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBundled } from './harness/action-runner.js';
import type { ActionRun } from './harness/action-runner.js';
import { publishBaseImage } from './harness/base-images.js';
import { makeDebianBusyboxWorkspace } from './harness/debian-busybox.js';
import { isIndexPut, startFaultProxy } from './harness/fault-proxy.js';
import type { FaultProxy, FaultRule, ProxiedRequest } from './harness/fault-proxy.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { verifyBundleIndependently } from './harness/independent-verify.js';
import { startOidcTokenEndpoint } from './harness/oidc-issuer.js';
import { realScannerTools, startRealScanners } from './harness/real-scanners.js';
import type { RealScanners } from './harness/real-scanners.js';
import { basicAuth, httpsGet, startRegistry } from './harness/registry.js';
import type { TestRegistry } from './harness/registry.js';
import { GITHUB_ACTIONS_ISSUER, startSigstoreStack } from './harness/sigstore-stack.js';
import type { SigstoreStack } from './harness/sigstore-stack.js';
import { buildahEnvironment, listTagsRaw } from './harness/workspace.js';

/**
 * Publishing under faults, end to end (issue 11): the release the other e2e tests make (buildah, local
 * Sigstore, the bundled action run as the runner runs it), but through a fault-injecting proxy on
 * loopback (harness/fault-proxy.ts) in front of the real registry, and with the registry process killed,
 * restarted, stopped and continued in the middle of publishing. Faults start with the index PUT (the
 * first write of the publish phase); the build's pushes pass untouched.
 *
 * Every outcome is checked against the registry directly (raw HTTPS, not through the proxy, not with
 * Edgeship's client): exit 0 → every tag points at the index, the index and its images are complete, and
 * every signature verifies with @sigstore/verify; exit ≠ 0 → no release tag on an incomplete index, and
 * the error names each tag the registry has and where it points; then a re-run without faults must end in
 * the complete release.
 *
 * Two lanes run side by side to keep the wall time short: proxy faults on one registry, process control
 * (SIGKILL/restart, SIGSTOP/SIGCONT) on another; the cases of one lane run one after the other.
 *
 * Every run scans with the REAL Syft and Grype (harness/real-scanners.ts), Syft reading the image through the
 * proxy before any fault is armed; the image's busybox is Debian's package, so the gate passes.
 */

const IDENTITY = 'https://github.com/acme/edge-agent/.github/workflows/release.yml@refs/heads/main';
const VERSION = '1.2.3';
const RELEASE_TAG = VERSION;
const PLANNED_TAGS = ['1.2.3', '1.2', '1', 'latest', 'production'];
/** A fixed commit time, so a re-run of the same commit builds the same way. */
const SOURCE_DATE_EPOCH = '1764547200';
/** Longer than Edgeship's registry request timeout (60 s). */
const STOP_MS = 63_000;
const TINY_DOCKERFILE = `ARG BASE\nFROM \${BASE}\nCOPY agent.sh /opt/agent.sh\nCMD ["/bin/sh", "/opt/agent.sh"]\n`;

const scannerTools = await realScannerTools('faults e2e');

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const SIGSTORE_BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

interface Lane {
  name: string;
  reg: TestRegistry;
  proxy: FaultProxy;
  base: string;
  storage: { env: Record<string, string>; dir: string };
  queue: Promise<unknown>;
}

interface FaultCase {
  name: string;
  lane: 'a' | 'b';
  /** The repository (one per case, so cases do not see each other's tags). */
  repo: string;
  seed?: number;
  rules: (lane: Lane, pending: Array<Promise<unknown>>) => FaultRule[];
  inputs?: Record<string, string>;
  /** The issue's must-show: this case must complete in the faulty run itself. */
  mustSucceed?: boolean;
}

const any = () => true;
const ofKind =
  (...kinds: string[]) =>
  (r: ProxiedRequest) =>
    kinds.includes(r.kind);

const CASES: FaultCase[] = [
  {
    name: '503 on a share of the publish requests',
    lane: 'a',
    repo: 'acme/fault-503',
    seed: 503,
    rules: () => [{ name: '503', match: any, share: 0.25, action: { type: 'status', status: 503 } }],
  },
  {
    name: '429 with Retry-After on a share of the publish requests',
    lane: 'a',
    repo: 'acme/fault-429',
    seed: 429,
    rules: () => [
      { name: '429', match: any, share: 0.25, action: { type: 'status', status: 429, retryAfterSeconds: 1 } },
    ],
  },
  {
    name: 'connection reset before forwarding on a share of the publish requests',
    lane: 'a',
    repo: 'acme/fault-reset-before',
    seed: 7,
    rules: () => [
      { name: 'reset-before', match: any, share: 0.15, limit: 10, action: { type: 'reset-before' } },
    ],
  },
  {
    name: 'reset after the registry stored each tag write (reply lost once per tag)',
    lane: 'a',
    repo: 'acme/fault-reset-after-tag',
    rules: () => [
      {
        name: 'reset-after-tag',
        match: ofKind('tag-put', 'referrers-tag-put'),
        key: (r) => r.reference ?? '',
        occurrences: [1],
        action: { type: 'reset-after' },
      },
    ],
  },
  {
    name: 'reset after the registry stored each manifest write by digest (index, referrers)',
    lane: 'a',
    repo: 'acme/fault-reset-after-manifest',
    rules: () => [
      {
        name: 'reset-after-manifest',
        match: ofKind('manifest-put-by-digest'),
        key: (r) => r.reference ?? '',
        occurrences: [1],
        action: { type: 'reset-after' },
      },
    ],
  },
  {
    name: 'reset after the registry stored each blob upload (final PUT reply lost)',
    lane: 'a',
    repo: 'acme/fault-reset-after-blob',
    rules: () => [
      {
        name: 'reset-after-blob',
        match: ofKind('blob-upload-put'),
        key: (r) => r.query.get('digest') ?? '',
        occurrences: [1],
        action: { type: 'reset-after' },
      },
    ],
  },
  {
    name: 'stalls of 8 s on the index PUT, the first blob upload and the first tag write',
    lane: 'b',
    repo: 'acme/fault-stall',
    rules: () => [
      { name: 'stall-index', match: isIndexPut, occurrences: [1], action: { type: 'stall', ms: 8_000 } },
      {
        name: 'stall-blob',
        match: ofKind('blob-upload-put'),
        occurrences: [1],
        action: { type: 'stall', ms: 8_000 },
      },
      { name: 'stall-tag', match: ofKind('tag-put'), occurrences: [1], action: { type: 'stall', ms: 8_000 } },
    ],
  },
  {
    name: 'tag writes refused for good after two tags (503, retry budget 5s): a truthful failure',
    lane: 'a',
    repo: 'acme/fault-tags-refused',
    inputs: { 'registry-retry-budget': '5s' },
    rules: () => [
      {
        name: 'tag-503-for-good',
        match: ofKind('tag-put'),
        occurrences: Array.from({ length: 200 }, (_, i) => i + 3),
        limit: 200,
        maxInARow: 200,
        action: { type: 'status', status: 503 },
      },
    ],
  },
  {
    name: 'registry SIGKILLed at the first signature upload, restarted after 3 s',
    lane: 'b',
    repo: 'acme/fault-kill-3s',
    rules: (lane, pending) => [killAndRestart(lane, pending, 3_000)],
  },
  {
    name: 'registry SIGKILLed at the first signature upload, restarted after 20 s (completes in the same run)',
    lane: 'b',
    repo: 'acme/fault-kill-20s',
    mustSucceed: true,
    rules: (lane, pending) => [killAndRestart(lane, pending, 20_000)],
  },
  {
    name: `registry SIGSTOPped at the first signature upload for ${STOP_MS / 1000} s (past the request timeout), then SIGCONT`,
    lane: 'b',
    repo: 'acme/fault-sigstop',
    // The one request that hangs takes the whole request timeout: the budget must outlast it.
    inputs: { 'registry-retry-budget': '150s' },
    rules: (lane, pending) => [
      {
        name: 'sigstop',
        match: ofKind('blob-upload-start'),
        occurrences: [1],
        action: {
          type: 'hook',
          run: () => {
            lane.reg.pause();
            pending.push(sleep(STOP_MS).then(() => lane.reg.resume()));
          },
        },
      },
    ],
  },
];

function killAndRestart(lane: Lane, pending: Array<Promise<unknown>>, downMs: number): FaultRule {
  return {
    name: `sigkill-${downMs}ms`,
    match: ofKind('blob-upload-start'),
    occurrences: [1],
    action: {
      type: 'hook',
      run: async () => {
        await lane.reg.kill();
        pending.push(sleep(downMs).then(() => lane.reg.restart()));
      },
    },
  };
}

describe.skipIf('reason' in scannerTools)(
  'publishing under faults (fault proxy and registry process control)',
  () => {
    let stack: SigstoreStack;
    let scanners: RealScanners;
    let oidc: Awaited<ReturnType<typeof startOidcTokenEndpoint>>;
    let workspace: string;
    let scratch: string;
    let trustedRootFile: string;
    const lanes: Partial<Record<FaultCase['lane'], Lane>> = {};
    let runs = 0;

    async function startLane(name: string): Promise<Lane> {
      const reg = await startRegistry();
      const proxy = await startFaultProxy(reg);
      const base = (await publishBaseImage(reg)).replace(reg.host, proxy.host);
      const storage = await buildahEnvironment();
      return { name, reg, proxy, base, storage, queue: Promise.resolve() };
    }

    async function release(
      lane: Lane,
      repo: string,
      inputs: Record<string, string> = {},
    ): Promise<ActionRun> {
      runs += 1;
      return runBundled('main', {
        workspace,
        inputs: {
          image: `${lane.proxy.host}/${repo}`,
          builder: 'buildah',
          platforms: 'linux/amd64',
          'build-args': `BASE=${lane.base}`,
          'registry-username': lane.reg.username,
          'registry-password': lane.reg.password,
          'registry-ca-file': lane.reg.caFile,
          'reports-dir': path.join(scratch, `${repo.replace('/', '-')}-${runs}`),
          'fulcio-url': stack.fulcioURL,
          'rekor-url': stack.rekorURL,
          'tsa-url': stack.tsaURL,
          'trusted-root': trustedRootFile,
          'release-assets': 'off',
          ...scanners.inputs,
          ...inputs,
        },
        env: {
          ...lane.storage.env,
          ...scanners.env,
          ...oidc.env,
          SOURCE_DATE_EPOCH,
          GITHUB_REF: `refs/tags/v${VERSION}`,
        },
      });
    }

    // ---- reading the registry directly (raw HTTPS to the registry's own port) ----

    async function get(reg: TestRegistry, urlPath: string, accept = ACCEPT) {
      return httpsGet(`https://${reg.host}${urlPath}`, {
        ca: await readFile(reg.caFile, 'utf8'),
        headers: { authorization: basicAuth(reg.username, reg.password), accept },
        timeoutMs: 15_000,
      });
    }

    async function manifest(reg: TestRegistry, repo: string, reference: string) {
      const response = await get(reg, `/v2/${repo}/manifests/${reference}`);
      if (response.status !== 200) return undefined;
      return {
        digest: `sha256:${createHash('sha256').update(response.body, 'utf8').digest('hex')}`,
        json: JSON.parse(response.body) as {
          manifests?: Array<{ digest: string; artifactType?: string }>;
          config?: { digest: string };
          layers?: Array<{ digest: string }>;
          annotations?: Record<string, string>;
          subject?: { digest: string };
        },
      };
    }

    /** Every tag of the repository but the sha256-<hex> referrer fallbacks, with the digest it points at. */
    async function tagsInRegistry(reg: TestRegistry, repo: string): Promise<Map<string, string>> {
      const tags = (await listTagsRaw(reg, repo)).filter((t) => !t.startsWith('sha256-'));
      const result = new Map<string, string>();
      for (const tag of tags.sort()) {
        const m = await manifest(reg, repo, tag);
        if (m) result.set(tag, m.digest);
      }
      return result;
    }

    /** The index and every image it lists are there with all their blobs. */
    async function expectCompleteIndex(reg: TestRegistry, repo: string, digest: string) {
      const index = await manifest(reg, repo, digest);
      expect(index, `index ${digest} in ${repo}`).toBeDefined();
      expect(index!.json.manifests?.length).toBeGreaterThan(0);
      for (const child of index!.json.manifests ?? []) {
        const image = await manifest(reg, repo, child.digest);
        expect(image, `image ${child.digest}`).toBeDefined();
        for (const blob of [image!.json.config!.digest, ...(image!.json.layers ?? []).map((l) => l.digest)]) {
          const response = await get(reg, `/v2/${repo}/blobs/${blob}`, '*/*');
          expect(response.status, `blob ${blob}`).toBe(200);
        }
      }
      return index!.json.manifests!.map((m) => m.digest);
    }

    /** Sigstore bundles attached to a digest (through the fallback tag), each verified with @sigstore/verify. */
    async function verifiedPredicates(reg: TestRegistry, repo: string, digest: string): Promise<string[]> {
      const fallback = await manifest(reg, repo, `sha256-${digest.slice(7)}`);
      expect(fallback, `referrers of ${digest}`).toBeDefined();
      const predicates: string[] = [];
      for (const entry of (fallback!.json.manifests ?? []).filter(
        (m) => m.artifactType === SIGSTORE_BUNDLE,
      )) {
        const referrer = await manifest(reg, repo, entry.digest);
        expect(referrer?.json.subject?.digest).toBe(digest);
        const layer = await get(reg, `/v2/${repo}/blobs/${referrer!.json.layers![0]!.digest}`, '*/*');
        expect(layer.status).toBe(200);
        const { statement } = verifyBundleIndependently(JSON.parse(layer.body), stack.trustedRoot, {
          identity: IDENTITY,
          issuer: GITHUB_ACTIONS_ISSUER,
        });
        expect(statement.subject.some((s) => `sha256:${s.digest.sha256}` === digest)).toBe(true);
        predicates.push(referrer!.json.annotations?.['dev.sigstore.bundle.predicateType'] ?? '');
      }
      return predicates.sort();
    }

    /** A signed, complete index that `tag` points at. */
    async function expectSignedIndex(reg: TestRegistry, repo: string, digest: string) {
      const platforms = await expectCompleteIndex(reg, repo, digest);
      expect(await verifiedPredicates(reg, repo, digest)).toEqual(
        expect.arrayContaining([
          'https://edgeship.dev/deployment-manifest/v1',
          'https://sigstore.dev/cosign/sign/v1',
        ]),
      );
      for (const platform of platforms)
        expect(await verifiedPredicates(reg, repo, platform)).toEqual(
          expect.arrayContaining([
            'https://cosign.sigstore.dev/attestation/vuln/v1',
            'https://sigstore.dev/cosign/sign/v1',
            'https://spdx.dev/Document',
          ]),
        );
    }

    /** exit 0: every planned tag at the reported index, which is complete and verifies. */
    async function expectCompleteRelease(reg: TestRegistry, repo: string, run: ActionRun) {
      const digest = run.outputs.digest!;
      expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
      const tags = await tagsInRegistry(reg, repo);
      for (const tag of PLANNED_TAGS) expect(tags.get(tag), `tag ${tag}`).toBe(digest);
      await expectSignedIndex(reg, repo, digest);
    }

    /** exit ≠ 0: no release tag on an incomplete index; the error names each tag left and its digest. */
    async function expectTruthfulFailure(reg: TestRegistry, repo: string, run: ActionRun) {
      const tags = await tagsInRegistry(reg, repo);
      const release = tags.get(RELEASE_TAG);
      if (release) await expectSignedIndex(reg, repo, release);
      const text = run.errors.join('\n');
      const named = (tag: string) => new RegExp(`(?<![\\w.-])${tag.replace(/\./g, '\\.')}(?![\\w.-])`);
      for (const [tag, digest] of tags) {
        expect(
          named(tag).test(text) && text.includes(digest),
          `the error names ${tag} → ${digest}:\n${text}`,
        ).toBe(true);
      }
      // Exactly: a tag the registry does not have is not said to point anywhere.
      for (const tag of PLANNED_TAGS.filter((t) => !tags.has(t)))
        expect(text, `the error claims ${tag} points somewhere, the registry has no ${tag}`).not.toMatch(
          new RegExp(`${named(tag).source}\\s*(?:points at|→|->|=)`),
        );
      // Once tags were being written, "none" must be said too; a failure before that has nothing to report.
      if (tags.size === 0 && run.stdout.includes('::group::Tag the release'))
        expect(run.errors.join('\n')).toMatch(/no tag/i);
    }

    beforeAll(async () => {
      await ensureHostTools();
      await ensureBinfmt();
      scanners = await startRealScanners(scannerTools);
      stack = await startSigstoreStack();
      oidc = await startOidcTokenEndpoint(() => stack.oidcToken(IDENTITY));
      workspace = await makeDebianBusyboxWorkspace(TINY_DOCKERFILE);
      scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-faults-'));
      trustedRootFile = path.join(scratch, 'trusted_root.json');
      await writeFile(trustedRootFile, JSON.stringify(stack.trustedRoot));
      lanes.a = await startLane('a');
      lanes.b = await startLane('b');
      // Both lanes start at once; the tests below wait for their case's outcome.
      for (const c of CASES) {
        const lane = lanes[c.lane]!;
        const next = lane.queue.then(() => runCase(c, lane));
        lane.queue = next.catch(() => undefined);
        outcomes.set(c.name, next);
      }
    });

    afterAll(async () => {
      await Promise.allSettled(outcomes.values());
      for (const lane of Object.values(lanes)) {
        await lane.proxy.stop();
        await lane.reg.stop();
        await rm(lane.storage.dir, { recursive: true, force: true });
      }
      await stack?.stop();
      await oidc?.stop();
      await scanners?.stop();
      for (const dir of [workspace, scratch]) if (dir) await rm(dir, { recursive: true, force: true });
    });

    interface Outcome {
      run?: ActionRun;
      /** The faulty run's check (undefined: it held). */
      faulty?: unknown;
      rerun?: unknown;
      seconds: number;
    }
    const outcomes = new Map<string, Promise<Outcome>>();

    /** One case: the faulty run and its check against the registry, then the re-run and its check. */
    async function runCase(c: FaultCase, lane: Lane): Promise<Outcome> {
      const outcome: Outcome = { seconds: 0 };
      const started = Date.now();
      const pending: Array<Promise<unknown>> = [];
      lane.proxy.configure({ seed: c.seed ?? 1, rules: c.rules(lane, pending), armWhen: isIndexPut });
      try {
        const run = await release(lane, c.repo, c.inputs);
        outcome.run = run;
        // A restart or SIGCONT still scheduled happens before anything reads the registry.
        await Promise.all(pending);
        outcome.seconds = Math.round((Date.now() - started) / 1000);
        const counts = lane.proxy.counts();
        console.log(
          `[faults] ${c.name}: exit ${run.exitCode} in ${outcome.seconds} s, faults ${JSON.stringify(counts.faults)}`,
        );
        const context =
          `${c.name}: exit ${run.exitCode} after ${outcome.seconds} s, ` +
          `faults ${JSON.stringify(counts.faults)}, upstream errors ${counts.upstreamErrors}, ` +
          `requests ${JSON.stringify(counts.byKind)}\nerrors:\n${run.errors.join('\n')}\n` +
          `--- proxy journal (last 80) ---\n${lane.proxy.journal().slice(-80).join('\n')}\n` +
          `--- stdout (tail) ---\n${run.stdout.slice(-4000)}`;
        try {
          expect(lane.proxy.armed(), context).toBe(true);
          expect(
            Object.values(counts.faults).reduce((a, b) => a + b, 0),
            context,
          ).toBeGreaterThan(0);
          if (c.mustSucceed) expect(run.exitCode, context).toBe(0);
          if (run.exitCode === 0) await expectCompleteRelease(lane.reg, c.repo, run);
          else await expectTruthfulFailure(lane.reg, c.repo, run);
        } catch (error) {
          outcome.faulty =
            error instanceof Error
              ? Object.assign(error, { message: `${error.message}\n${context}` })
              : error;
        }
      } catch (error) {
        await Promise.allSettled(pending);
        outcome.faulty = error;
      }
      // The re-run without faults ends in the complete release (adopting what the faulty run published).
      lane.proxy.configure({});
      try {
        const rerun = await release(lane, c.repo);
        expect(rerun.errors, `re-run of ${c.name}:\n${rerun.stdout.slice(-4000)}`).toEqual([]);
        expect(rerun.exitCode).toBe(0);
        await expectCompleteRelease(lane.reg, c.repo, rerun);
      } catch (error) {
        outcome.rerun = error;
      }
      return outcome;
    }

    for (const c of CASES) {
      it(c.name, async () => {
        const outcome = await outcomes.get(c.name)!;
        if (outcome.faulty) throw outcome.faulty;
        expect(outcome.run).toBeDefined();
      });
      it(`${c.name}: the re-run without faults ends in the complete release`, async () => {
        const outcome = await outcomes.get(c.name)!;
        if (outcome.rerun) throw outcome.rerun;
      });
    }
  },
);
