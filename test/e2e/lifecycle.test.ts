import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBundled } from './harness/action-runner.js';
import type { ActionRun } from './harness/action-runner.js';
import { publishBaseImage } from './harness/base-images.js';
import { makeDebianBusyboxWorkspace } from './harness/debian-busybox.js';
import { startGitHubApiStandIn } from './harness/github-api.js';
import type { GitHubApiStandIn } from './harness/github-api.js';
import { startGitServer } from './harness/git-server.js';
import type { GitServer } from './harness/git-server.js';
import { ensureHostTools } from './harness/host-tools.js';
import { startOidcTokenEndpoint } from './harness/oidc-issuer.js';
import { startRegistry } from './harness/registry.js';
import type { TestRegistry } from './harness/registry.js';
import { realScannerTools, startRealScanners } from './harness/real-scanners.js';
import type { RealScanners } from './harness/real-scanners.js';
import { FIXTURES, scannerDoubleEnv } from './harness/scanner-doubles.js';
import { startSigstoreStack } from './harness/sigstore-stack.js';
import type { SigstoreStack } from './harness/sigstore-stack.js';
import { buildahEnvironment, listTagsRaw, makeSampleWorkspace, skopeo } from './harness/workspace.js';

const IDENTITY = 'https://github.com/acme/edge-agent/.github/workflows/release.yml@refs/heads/main';
const REPO = 'acme/edge-agent';
const FLEET = 'fleet/edge';
const VULN = 'https://cosign.sigstore.dev/attestation/vuln/v1';
const FLEET_FILE = 'clusters/production/agent.yaml';
const STAGING_FILE = 'clusters/staging/agent.yaml';

type GrypeMatch = {
  vulnerability: { id: string; severity: string };
  artifact: { name: string; version: string };
};

/**
 * The release lifecycle end to end on a real registry, a local Sigstore, buildah (linux/amd64) and the real Syft and
 * Grype (harness/real-scanners.ts): a release hands itself to a fleet repository served by `git http-backend` on
 * loopback (pull request on a GitHub API stand-in); scheduled rescans compare the deployed release with today's
 * Grype report, attach a fresh signed vulnerability attestation and fail naming a new critical; a pull-request check
 * tags and signs nothing and keeps one comment up to date; a release the gate blocks leaves the fleet repository
 * untouched.
 *
 * The released agent's busybox belongs to Debian's package (harness/debian-busybox.ts): the real scan is clean. The
 * changes the gate must stop are the plain sample (makeSampleWorkspace), whose bare busybox 1.35.0 binary the real
 * database rates Critical and High. One case only uses a DOUBLE: a critical advisory published after the release
 * (the Grype double of test/doubles replays a real report with a Critical in libc6), which no fixed database here
 * can produce for an image it scanned clean the same day.
 */
const scannerTools = await realScannerTools('lifecycle e2e');

describe.skipIf('reason' in scannerTools)('lifecycle: GitOps hand-off, rescans, pull-request checks', () => {
  let reg: TestRegistry;
  let scanners: RealScanners;
  let stack: SigstoreStack;
  let github: GitHubApiStandIn;
  let fleetApi: GitHubApiStandIn;
  let fleet: GitServer;
  let oidc: Awaited<ReturnType<typeof startOidcTokenEndpoint>>;
  let base: string;
  let workspace: string;
  /** The plain sample: its bare busybox binary has a Critical and a High finding. */
  let vulnerable: string;
  let storage: { env: Record<string, string>; dir: string };
  let scratch: string;
  let trustedRootFile: string;
  let released: ActionRun;
  const durations: Record<string, number> = {};

  async function run(
    name: string,
    ref: string,
    options: {
      /** The project to build (default: the clean one). */
      workspace?: string;
      /** DOUBLE: today's Grype report, replayed by test/doubles/grype instead of the real scanners. */
      newAdvisoryReport?: string;
      inputs?: Record<string, string>;
      oidc?: boolean;
      api?: GitHubApiStandIn;
    } = {},
  ): Promise<ActionRun> {
    const started = Date.now();
    const result = await runBundled('main', {
      workspace: options.workspace ?? workspace,
      inputs: {
        image: `${reg.host}/${REPO}`,
        builder: 'buildah',
        platforms: 'linux/amd64',
        'build-args': `BASE=${base}`,
        'registry-username': reg.username,
        'registry-password': reg.password,
        'registry-ca-file': reg.caFile,
        'reports-dir': path.join(scratch, name),
        'fulcio-url': stack.fulcioURL,
        'rekor-url': stack.rekorURL,
        'tsa-url': stack.tsaURL,
        'trusted-root': trustedRootFile,
        'github-token': github.token,
        'release-assets': 'off',
        ...scanners.inputs,
        ...options.inputs,
      },
      env: {
        ...storage.env,
        ...(options.newAdvisoryReport
          ? scannerDoubleEnv({ reports: { linux_amd64: options.newAdvisoryReport } })
          : scanners.env),
        ...(options.oidc === false ? {} : oidc.env),
        GITHUB_REF: ref,
        GITHUB_REPOSITORY: REPO,
        // The GitOps pull request goes to the fleet's stand-in; the check's comment to the project's.
        GITHUB_API_URL: (options.api ?? github).apiUrl,
      },
    });
    durations[name] = Date.now() - started;
    return result;
  }

  const gitops = () => ({
    'gitops-repository': fleet.url(FLEET),
    'gitops-paths': 'clusters/{channel}/agent.yaml',
    'gitops-token': fleet.token,
  });

  /** What the real Grype reported in a run (its JSON report in the run's reports-dir). */
  const grypeMatches = async (name: string): Promise<GrypeMatch[]> =>
    (
      JSON.parse(await readFile(path.join(scratch, name, 'grype-linux-amd64.json'), 'utf8')) as {
        matches: GrypeMatch[];
      }
    ).matches;

  /** The vulnerability attestations attached to a digest (through the sha256-<hex> fallback tag). */
  async function vulnAttestations(digest: string): Promise<string[]> {
    const index = JSON.parse(
      await skopeo(reg, ['inspect', '--raw', `docker://${reg.host}/${REPO}:sha256-${digest.slice(7)}`]),
    ) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    const found: string[] = [];
    for (const m of index.manifests) {
      const referrer = JSON.parse(
        await skopeo(reg, ['inspect', '--raw', `docker://${reg.host}/${REPO}@${m.digest}`]),
      ) as { annotations?: Record<string, string> };
      if (referrer.annotations?.['dev.sigstore.bundle.predicateType'] === VULN) found.push(m.digest);
    }
    return found;
  }

  beforeAll(async () => {
    await ensureHostTools();
    reg = await startRegistry();
    scanners = await startRealScanners(scannerTools);
    stack = await startSigstoreStack();
    github = await startGitHubApiStandIn({ repository: REPO });
    oidc = await startOidcTokenEndpoint(() => stack.oidcToken(IDENTITY));
    fleet = await startGitServer({
      [FLEET]: {
        [FLEET_FILE]: `# production fleet\nimage: ${reg.host}/${REPO}:1.0.0 # edge agent\n`,
        'clusters/staging/agent.yaml': `image: ${reg.host}/${REPO}:1.0.0\n`,
        'README.md': '# fleet\n',
      },
    });
    fleetApi = await startGitHubApiStandIn({ repository: FLEET, token: fleet.token });
    base = await publishBaseImage(reg);
    workspace = await makeDebianBusyboxWorkspace();
    vulnerable = await makeSampleWorkspace();
    storage = await buildahEnvironment();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-lifecycle-'));
    trustedRootFile = path.join(scratch, 'trusted_root.json');
    await writeFile(trustedRootFile, JSON.stringify(stack.trustedRoot));
  });

  afterAll(async () => {
    console.log(`lifecycle e2e durations (ms): ${JSON.stringify(durations)}`);
    await reg?.stop();
    await scanners?.stop();
    await stack?.stop();
    await github?.stop();
    await fleetApi?.stop();
    await fleet?.stop();
    await oidc?.stop();
    for (const dir of [workspace, vulnerable, storage?.dir, scratch])
      if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a release opens a pull request in the fleet repository with the file pinned to the index digest', async () => {
    released = await run('release-1.8.2', 'refs/tags/v1.8.2', { inputs: gitops(), api: fleetApi });
    expect(released.errors, released.stdout.slice(-4000)).toEqual([]);
    expect(released.outputs.gate).toBe('pass');
    expect(await grypeMatches('release-1.8.2')).toEqual([]);
    const digest = released.outputs.digest!;
    const head = 'edgeship/acme/edge-agent/production';
    expect(await fleet.git(FLEET, ['show', `${head}:${FLEET_FILE}`])).toBe(
      `# production fleet\nimage: ${reg.host}/${REPO}@${digest} # edge agent`,
    );
    expect(await fleet.git(FLEET, ['show', `main:${FLEET_FILE}`])).toContain(':1.0.0');
    expect(released.outputs['gitops-pull-request']).toMatch(/\/fleet\/edge\/pull\/\d+$/);
    const pulls = fleetApi.pulls();
    expect(pulls).toHaveLength(1);
    expect(pulls[0]).toMatchObject({
      head,
      base: 'main',
      title: `Deploy ${reg.host}/${REPO} 1.8.2 to production`,
    });
    expect(pulls[0]!.body).toContain(`${reg.host}/${REPO}@${digest}`);
    expect(pulls[0]!.body).toMatch(
      /\| linux\/amd64 \| `sha256:[a-f0-9]{64}` \| .+ \| .+ \(\d+ layer\(s\)\) \| none \|/,
    );
    expect(fleet.requests().filter((r) => / 401$/.test(r))).toEqual([]);
    expect(fleet.requests().some((r) => r.startsWith('POST /fleet/edge.git/git-receive-pack 200'))).toBe(
      true,
    );
    // The runner masks it (::add-mask::); it is in no other line.
    const lines = released.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::'));
    expect(lines.filter((l) => l.includes(fleet.token))).toEqual([]);
  });

  it('a rescan against the same database passes, reports no change and attaches a fresh signed vulnerability attestation', async () => {
    const image = JSON.parse(released.outputs.digests!)[0].digest as string;
    const before = await vulnAttestations(image);
    const rescan = await run('rescan-same', 'refs/heads/main', { inputs: { mode: 'rescan' } });
    expect(rescan.errors, rescan.stdout.slice(-4000)).toEqual([]);
    // The real Grype, with the database the release was scanned with.
    const { db } = scanners;
    expect(rescan.stdout).toContain(
      `grype database: schema ${db.listing.schemaVersion}, built ${db.built.toISOString()}`,
    );
    const rows = JSON.parse(rescan.outputs.rescan!) as Array<Record<string, unknown>>;
    expect(rows).toEqual([
      expect.objectContaining({
        release: '1.8.2',
        platform: 'linux/amd64',
        digest: image,
        new: [],
        fixed: [],
        blocking: [],
      }),
    ]);
    expect(rows[0]!.reference).toBe('production');
    expect(rescan.summary).toContain('every deployed release still passes');
    const after = await vulnAttestations(image);
    expect(after.length).toBe(before.length + 1);
  });

  it('a rescan whose report (DOUBLE: an advisory published since) adds a critical fails, naming release, platform, package and fix, and attests it', async () => {
    const image = JSON.parse(released.outputs.digests!)[0].digest as string;
    const before = await vulnAttestations(image);
    const rescan = await run('rescan-critical', 'refs/heads/main', {
      inputs: { mode: 'rescan' },
      newAdvisoryReport: FIXTURES.reportOneCritical,
    });
    expect(rescan.exitCode).not.toBe(0);
    const error = rescan.errors.join('\n');
    expect(error).toContain('The current policy blocks 1 deployed release(s)');
    expect(error).toMatch(
      /1\.8\.2 \(production\) linux\/amd64: CVE-2021-33574 \(Critical\) in libc6 2\.28-10, no fix \(not-fixed\), new since the release/,
    );
    const rows = JSON.parse(rescan.outputs.rescan!) as Array<{ new: Array<{ id: string }> }>;
    expect(rows[0]!.new.map((f) => f.id)).toEqual(['CVE-2021-33574']);
    expect((await vulnAttestations(image)).length).toBe(before.length + 1);
  });

  it('a pull-request check tags and signs nothing and keeps one comment up to date', async () => {
    const tagsBefore = (await listTagsRaw(reg, REPO)).sort();
    const first = await run('check-1', 'refs/pull/7/merge', { inputs: { mode: 'check' }, oidc: false });
    expect(first.errors, first.stdout.slice(-4000)).toEqual([]);
    const pr = JSON.parse(first.outputs.digests!)[0].digest as string;
    expect((await listTagsRaw(reg, REPO)).sort()).toEqual(tagsBefore);
    expect(tagsBefore).not.toContain(`sha256-${pr.slice(7)}`);
    expect(first.outputs.digest).toBeUndefined();
    let comments = github.comments();
    expect(comments).toHaveLength(1);
    expect(comments[0]!.issue_number).toBe(7);
    expect(comments[0]!.body).toContain(`<!-- edgeship:check ${reg.host}/${REPO} -->`);
    expect(comments[0]!.body).toContain('the gate passes');
    expect(comments[0]!.body).toMatch(/Compared with production 1\.8\.2 \(`sha256:[a-f0-9]{64}`\)/);
    expect(comments[0]!.body).toMatch(/\| linux\/amd64 \| ✅ pass \| .+ \| .+ \| .+ \| 0 \|/);
    expect(first.outputs['comment-url']).toContain('/pull/7#issuecomment-');

    // The pull request brings back the plain busybox binary: the real scan finds a Critical production lacks.
    const second = await run('check-2', 'refs/pull/7/merge', {
      inputs: { mode: 'check' },
      oidc: false,
      workspace: vulnerable,
    });
    expect(second.exitCode).not.toBe(0);
    expect(second.errors.join('\n')).toContain('The supply-chain gate failed');
    const found = await grypeMatches('check-2');
    expect(found.map((m) => m.vulnerability.severity)).toContain('Critical');
    comments = github.comments();
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain('the gate fails');
    expect(comments[0]!.body).toMatch(
      new RegExp(`\\| linux/amd64 \\| ❌ fail \\| .+ \\| .+ \\| .+ \\| ${found.length} \\|`),
    );
    expect(comments[0]!.body).toContain('#### New findings against production');
    for (const { vulnerability: v, artifact: a } of found)
      expect(comments[0]!.body).toContain(
        `| linux/amd64 | ${v.id} | ${v.severity} | ${a.name} | ${a.version} |`,
      );
    expect(
      github.bodies().filter((b) => b.method === 'PATCH' && b.path.includes('/issues/comments/')),
    ).toHaveLength(1);
    expect((await listTagsRaw(reg, REPO)).sort()).toEqual(tagsBefore);
  });

  it('a release the gate blocks leaves the fleet repository untouched', async () => {
    const refs = await fleet.refs(FLEET);
    const requests = fleet.requests().length;
    const pulls = fleetApi.pulls();
    const blocked = await run('release-1.8.3-blocked', 'refs/tags/v1.8.3', {
      inputs: gitops(),
      api: fleetApi,
      workspace: vulnerable,
    });
    expect(blocked.exitCode).not.toBe(0);
    expect(blocked.errors.join('\n')).toContain('no tag was written');
    const critical = (await grypeMatches('release-1.8.3-blocked')).find(
      (m) => m.vulnerability.severity === 'Critical',
    );
    expect(blocked.errors.join('\n')).toContain(critical!.vulnerability.id);
    expect(await fleet.refs(FLEET)).toBe(refs);
    expect(fleet.requests()).toHaveLength(requests);
    expect(fleetApi.pulls()).toEqual(pulls);
  });

  it('a candidate hands off to staging, and its promotion updates the one production pull request', async () => {
    const rc = await run('release-1.9.0-rc.1', 'refs/tags/v1.9.0-rc.1', { inputs: gitops(), api: fleetApi });
    expect(rc.errors, rc.stdout.slice(-4000)).toEqual([]);
    expect(await fleet.git(FLEET, ['show', `edgeship/acme/edge-agent/staging:${STAGING_FILE}`])).toBe(
      `image: ${reg.host}/${REPO}@${rc.outputs.digest!}`,
    );
    const production = fleetApi.pulls().find((p) => p.head.endsWith('/production'))!;
    const promoted = await run('promote-1.9.0', 'refs/tags/v1.9.0', {
      inputs: { ...gitops(), mode: 'promote', from: '1.9.0-rc.1', 'certificate-identity': IDENTITY },
      api: fleetApi,
    });
    expect(promoted.errors, promoted.stdout.slice(-4000)).toEqual([]);
    expect(promoted.outputs.digest).toBe(rc.outputs.digest);
    expect(await fleet.git(FLEET, ['show', `edgeship/acme/edge-agent/production:${FLEET_FILE}`])).toBe(
      `# production fleet\nimage: ${reg.host}/${REPO}@${rc.outputs.digest!} # edge agent`,
    );
    const pulls = fleetApi.pulls();
    expect(pulls.map((p) => p.head).sort()).toEqual([
      'edgeship/acme/edge-agent/production',
      'edgeship/acme/edge-agent/staging',
    ]);
    const updated = pulls.find((p) => p.number === production.number)!;
    expect(updated.title).toBe(`Deploy ${reg.host}/${REPO} 1.9.0 to production`);
    expect(updated.body).toContain(`${reg.host}/${REPO}@${rc.outputs.digest!}`);
  });
});
