/**
 * Provenance, OpenVEX and GitHub artifact attestations end to end: the bundled action builds the sample agent with
 * buildah FROM the multi-arch base image in the real test registry (TLS + htpasswd), scans it with the real Syft and
 * Grype (harness/real-scanners.ts), gates it with an OpenVEX input that declares the two busybox findings the real
 * database reports (one Critical, one High: they would block) not_affected, signs keyless against the local Sigstore
 * and stores the provenance and SBOM bundles through the GitHub API stand-in. The SLSA provenance read back from the registry is
 * checked field by field against the run that made it: commit, ref, workflow, run, and the base image digest equal
 * to what the registry serves for its tag (read with skopeo).
 *
 * Run: node build.mjs --outdir /tmp/dist && EDGESHIP_DIST_DIR=/tmp/dist npx vitest run --project e2e test/e2e/provenance.test.ts
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { runBundled, type ActionRun } from './harness/action-runner.js';
import { publishBaseImage } from './harness/base-images.js';
import { startGitHubApiStandIn, type GitHubApiStandIn } from './harness/github-api.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { startOidcTokenEndpoint } from './harness/oidc-issuer.js';
import { startRegistry, type TestRegistry } from './harness/registry.js';
import { realScannerTools, startRealScanners, type RealScanners } from './harness/real-scanners.js';
import { startSigstoreStack, type SigstoreStack } from './harness/sigstore-stack.js';
import { buildahEnvironment, makeSampleWorkspace, skopeo } from './harness/workspace.js';

const REPO = 'acme/edge-agent';
const SHA = '89abcdef0123456789abcdef0123456789abcdef';
const REF = 'refs/tags/v3.1.0';
const WORKFLOW_REF = `${REPO}/.github/workflows/release.yml@${REF}`;
const IDENTITY = `https://github.com/${WORKFLOW_REF}`;
/** What the real database reports in the busybox 1.35.0 binary of the sample images (test/fixtures/grype-db). */
const FINDINGS = {
  'CVE-2022-48174': 'ash never runs with attacker-controlled input on the device',
  'CVE-2022-28391': 'the agent never runs netstat',
};
const SLSA = 'https://slsa.dev/provenance/v1';
const OPENVEX = 'https://openvex.dev/ns/v0.2.0';

type GrypeMatch = { vulnerability: { id: string; severity: string } };

/** A signature or attestation the deployment manifest lists. */
interface Listed {
  predicateType?: string;
}

interface Statement {
  subject: Array<{ name?: string; digest: { sha256: string } }>;
  predicateType: string;
  predicate: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const scannerTools = await realScannerTools('provenance e2e');
const noScanners = 'reason' in scannerTools;

describe.skipIf(noScanners)('SLSA provenance, OpenVEX and GitHub attestations of a real release', () => {
  let reg: TestRegistry;
  let scanners: RealScanners;
  let stack: SigstoreStack;
  let github: GitHubApiStandIn;
  let oidc: Awaited<ReturnType<typeof startOidcTokenEndpoint>>;
  let base: string;
  let workspace: string;
  let storage: { env: Record<string, string>; dir: string };
  let scratch: string;
  let run: ActionRun;
  let started: number;
  let finished: number;

  const image = () => `${reg.host}/${REPO}`;
  const rawDigest = (raw: string) => `sha256:${createHash('sha256').update(raw).digest('hex')}`;
  /** The in-toto statements attached to a digest (referrers fallback tag, bundles read with skopeo). */
  const statementsOf = async (digest: string): Promise<Statement[]> => {
    const index = JSON.parse(
      await skopeo(reg, ['inspect', '--raw', `docker://${image()}:sha256-${digest.slice(7)}`]),
    ) as { manifests: Array<{ digest: string; artifactType?: string }> };
    const out: Statement[] = [];
    const bundles = index.manifests.filter(
      (m) => m.artifactType === 'application/vnd.dev.sigstore.bundle.v0.3+json',
    );
    for (const entry of bundles) {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'edgeship-bundle-'));
      await skopeo(reg, ['copy', `docker://${image()}@${entry.digest}`, `dir:${dir}`]);
      const referrer = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as {
        layers: Array<{ digest: string }>;
      };
      const bundle = JSON.parse(
        await readFile(path.join(dir, referrer.layers[0]!.digest.slice(7)), 'utf8'),
      ) as { dsseEnvelope?: { payload: string } };
      await rm(dir, { recursive: true, force: true });
      if (bundle.dsseEnvelope)
        out.push(
          JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as Statement,
        );
    }
    return out;
  };

  beforeAll(async () => {
    await ensureHostTools();
    await ensureBinfmt();
    reg = await startRegistry();
    stack = await startSigstoreStack();
    scanners = await startRealScanners(scannerTools);
    github = await startGitHubApiStandIn({ repository: REPO });
    oidc = await startOidcTokenEndpoint(() => stack.oidcToken(IDENTITY));
    base = await publishBaseImage(reg);
    workspace = await makeSampleWorkspace();
    storage = await buildahEnvironment();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-provenance-'));
    const trustedRoot = path.join(scratch, 'trusted_root.json');
    await writeFile(trustedRoot, JSON.stringify(stack.trustedRoot));
    await writeFile(
      path.join(workspace, 'agent.vex.json'),
      JSON.stringify({
        '@context': OPENVEX,
        '@id': 'https://example.com/vex/edge-agent-1',
        author: 'Acme product security',
        timestamp: '2026-01-01T00:00:00Z',
        version: 1,
        statements: Object.entries(FINDINGS).map(([name, impact]) => ({
          vulnerability: { name },
          products: [{ '@id': image() }],
          status: 'not_affected',
          justification: 'vulnerable_code_not_in_execute_path',
          impact_statement: impact,
        })),
      }),
    );
    started = Date.now();
    run = await runBundled('main', {
      workspace,
      inputs: {
        image: image(),
        builder: 'buildah',
        'build-args': `BASE=${base}\nSECRET_TOKEN=do-not-leak-4711`,
        'registry-username': reg.username,
        'registry-password': reg.password,
        'registry-ca-file': reg.caFile,
        'reports-dir': path.join(scratch, 'reports'),
        'fulcio-url': stack.fulcioURL,
        'rekor-url': stack.rekorURL,
        'tsa-url': stack.tsaURL,
        'trusted-root': trustedRoot,
        'github-token': github.token,
        vex: 'agent.vex.json',
        ...scanners.inputs,
      },
      env: {
        ...storage.env,
        ...scanners.env,
        ...oidc.env,
        GITHUB_REF: REF,
        GITHUB_SHA: SHA,
        GITHUB_REPOSITORY: REPO,
        GITHUB_API_URL: github.apiUrl,
        GITHUB_WORKFLOW_REF: WORKFLOW_REF,
        GITHUB_EVENT_NAME: 'push',
        GITHUB_REPOSITORY_ID: '700001',
        GITHUB_REPOSITORY_OWNER_ID: '9001',
        RUNNER_ENVIRONMENT: 'self-hosted',
        GITHUB_RUN_ID: '5151',
        GITHUB_RUN_ATTEMPT: '2',
      },
    });
    finished = Date.now();
  });

  afterAll(async () => {
    await reg?.stop();
    await stack?.stop();
    await scanners?.stop();
    await github?.stop();
    await oidc?.stop();
    for (const dir of [workspace, storage?.dir, scratch])
      if (dir) await rm(dir, { recursive: true, force: true });
  });

  const platforms = () =>
    JSON.parse(run.outputs.digests ?? '[]') as Array<{ platform: string; digest: string }>;

  it('publishes: the gate passed on the OpenVEX statements, Grype was given the file', async () => {
    expect(run.errors, run.stdout.slice(-4000)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.outputs.gate).toBe('pass');
    expect(platforms().map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm64']);
    const grypeLines = run.stdout.split('\n').filter((l) => l.startsWith('grype sbom:'));
    for (const slug of ['linux-amd64', 'linux-arm64']) {
      const line = grypeLines.find((l) => l.includes(`/sbom-${slug}.`));
      expect(line?.endsWith(` --vex ${path.join(workspace, 'agent.vex.json')}`), line).toBe(true);
      // The real scan found exactly what the statements are about (a Critical: without them the gate blocks).
      const report = JSON.parse(
        await readFile(path.join(scratch, 'reports', `grype-${slug}.json`), 'utf8'),
      ) as {
        matches: GrypeMatch[];
        ignoredMatches?: GrypeMatch[];
      };
      const found = [...report.matches, ...(report.ignoredMatches ?? [])].map((m) => m.vulnerability);
      expect(found.map((v) => v.id).sort()).toEqual(Object.keys(FINDINGS).sort());
      expect(found.map((v) => v.severity)).toContain('Critical');
    }
  });

  it('each platform image carries SLSA v1 provenance that matches the run, field by field', async () => {
    const baseDigest = rawDigest(await skopeo(reg, ['inspect', '--raw', `docker://${base}`]));
    for (const { platform, digest } of platforms()) {
      const provenance = (await statementsOf(digest)).filter((s) => s.predicateType === SLSA);
      expect(provenance, platform).toHaveLength(1);
      const { subject, predicate } = provenance[0]!;
      expect(subject).toEqual([{ name: image(), digest: { sha256: digest.slice(7) } }]);
      const { buildDefinition: def, runDetails } = predicate;
      expect(def.buildType).toBe('https://actions.github.io/buildtypes/workflow/v1');
      expect(def.externalParameters.workflow).toEqual({
        ref: REF,
        repository: `https://github.com/${REPO}`,
        path: '.github/workflows/release.yml',
      });
      expect(def.externalParameters.build).toEqual({
        platforms: ['linux/amd64', 'linux/arm64'],
        file: 'Dockerfile',
        context: '.',
        buildArgs: ['BASE', 'SECRET_TOKEN'],
        builder: 'buildah',
      });
      expect(def.internalParameters.github).toEqual({
        event_name: 'push',
        repository_id: '700001',
        repository_owner_id: '9001',
        runner_environment: 'self-hosted',
      });
      expect(def.resolvedDependencies).toEqual([
        { uri: `git+https://github.com/${REPO}@${REF}`, digest: { gitCommit: SHA } },
        {
          uri: `pkg:docker/${encodeURIComponent(reg.host)}/base/busybox@1?platform=${encodeURIComponent(platform)}`,
          digest: { sha256: baseDigest.slice(7) },
        },
      ]);
      expect(runDetails.builder.id).toBe(IDENTITY);
      expect(runDetails.metadata.invocationId).toBe(
        `https://github.com/${REPO}/actions/runs/5151/attempts/2`,
      );
      const [start, end] = [
        Date.parse(runDetails.metadata.startedOn),
        Date.parse(runDetails.metadata.finishedOn),
      ];
      expect(started).toBeLessThanOrEqual(start);
      expect(start).toBeLessThanOrEqual(end);
      expect(end).toBeLessThanOrEqual(finished);
      expect(JSON.stringify(predicate)).not.toContain('do-not-leak-4711');
    }
  });

  it('the index carries provenance naming the platform images by digest', async () => {
    const index = run.outputs.digest!;
    const [statement] = (await statementsOf(index)).filter((s) => s.predicateType === SLSA);
    expect(statement!.subject[0]!.digest.sha256).toBe(index.slice(7));
    expect(statement!.predicate.buildDefinition.resolvedDependencies.slice(1)).toEqual(
      platforms().map((p) => ({
        uri: `oci://${image()}@${p.digest}`,
        name: p.platform,
        digest: { sha256: p.digest.slice(7) },
      })),
    );
  });

  it('each platform carries a signed OpenVEX document stating the VEX decision, listed in the deployment manifest', async () => {
    const manifest = await readFile(run.outputs['manifest-file']!, 'utf8');
    for (const { digest } of platforms()) {
      const [vex] = (await statementsOf(digest)).filter((s) => s.predicateType === OPENVEX);
      expect(vex!.predicate['@context']).toBe(OPENVEX);
      const stated = vex!.predicate.statements as Array<{ vulnerability: { name: string } }>;
      expect(stated.map((v) => v.vulnerability.name).sort()).toEqual(Object.keys(FINDINGS).sort());
      for (const [name, impact] of Object.entries(FINDINGS))
        expect(stated).toContainEqual(
          expect.objectContaining({
            vulnerability: { name },
            status: 'not_affected',
            justification: 'vulnerable_code_not_in_execute_path',
            impact_statement: impact,
          }),
        );
      expect(manifest).toContain(digest);
    }
    // signature-format both (the default): each attestation is listed as a bundle referrer and in its .att tag.
    const { signatures } = parseYaml(manifest) as {
      signatures: { format: string; bundles: Listed[]; classic: Listed[] };
    };
    expect(signatures.format).toBe('both');
    for (const listed of [signatures.bundles, signatures.classic]) {
      expect(listed.filter((l) => l.predicateType === OPENVEX)).toHaveLength(2);
      expect(listed.filter((l) => l.predicateType === SLSA)).toHaveLength(3);
    }
  });

  it('stored one GitHub artifact attestation per provenance and SBOM bundle, each a Sigstore bundle of one subject', () => {
    const stored = github.attestations().map(({ bundle }) => {
      const b = bundle as { mediaType: string; dsseEnvelope: { payload: string } };
      expect(b.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
      const s = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString('utf8')) as Statement;
      expect(s.subject).toHaveLength(1);
      return `${s.predicateType} sha256:${s.subject[0]!.digest.sha256}`;
    });
    expect(stored.sort()).toEqual(
      [
        `${SLSA} ${run.outputs.digest}`,
        ...platforms().flatMap((p) => [`${SLSA} ${p.digest}`, `https://spdx.dev/Document ${p.digest}`]),
      ].sort(),
    );
  });
});
