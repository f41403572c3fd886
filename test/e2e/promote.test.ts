import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { RegistryClient } from '../../src/registry/client.js';
import { resolverFromInputs } from '../../src/registry/credentials.js';
import { digestOf } from '../../src/registry/digest.js';
import { COSIGN_VULN_PREDICATE_TYPE, DEPLOYMENT_PREDICATE_TYPE } from '../../src/sign/predicates.js';
import { runBundled } from './harness/action-runner.js';
import type { ActionRun } from './harness/action-runner.js';
import { publishBaseImage } from './harness/base-images.js';
import { startFaultProxy } from './harness/fault-proxy.js';
import type { FaultProxy } from './harness/fault-proxy.js';
import { startGitHubApiStandIn } from './harness/github-api.js';
import type { GitHubApiStandIn } from './harness/github-api.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { verifyBundleIndependently } from './harness/independent-verify.js';
import { startOidcTokenEndpoint } from './harness/oidc-issuer.js';
import { startRegistry } from './harness/registry.js';
import type { TestRegistry } from './harness/registry.js';
import { realScannerTools, startRealScanners, type RealScanners } from './harness/real-scanners.js';
import { GITHUB_ACTIONS_ISSUER, startSigstoreStack } from './harness/sigstore-stack.js';
import type { SigstoreStack } from './harness/sigstore-stack.js';
import {
  buildahEnvironment,
  listTagsRaw,
  makeSampleWorkspace,
  releasedLayers,
  skopeo,
} from './harness/workspace.js';

const IDENTITY = 'https://github.com/acme/edge-agent/.github/workflows/release.yml@refs/heads/main';
const REPO = 'acme/edge-agent';
const scannerTools = await realScannerTools('promote e2e');

/** The policy the rc was released under: the busybox findings (Critical, High) are accepted. */
const PERMISSIVE = { 'fail-on': 'none' };

interface Manifest {
  release: { version: string; channel: string };
  image: { index: { digest: string }; tags: string[] };
  promotedFrom?: {
    version: string;
    channel: string;
    index: string;
    manifest: { file: string; digest: string; artifact: string };
  };
  tagPlan?: Array<{ tag: string; moved: boolean; reason: string }>;
  platforms: Array<{ platform: string; digest: string; sbom: { attestation?: { referrer: string } } }>;
  signatures: {
    bundles: Array<{ subject: string; predicateType: string; referrer: string }>;
    classic?: Array<{ subject: string; predicateType: string; tag: string }>;
  };
}

/**
 * Promotion and maintenance lines end to end (issue 13): a real registry (behind a request-counting proxy), buildah
 * builds, a local Sigstore, the real Syft and Grype (the Grype database of real busybox advisories), the bundled
 * action. The sample's bare busybox 1.35.0 carries CVE-2022-48174 (Critical) and CVE-2022-28391 (High):
 * v1.8.2-rc.1 goes to staging under a policy that accepts them (`fail-on: none`); promoting it to v1.8.2 under the
 * default policy (fail on High) is refused on the real Critical finding, as is promoting an unsigned index; then it
 * is promoted under the rc's policy: production points at the rc's index, no layer blob is read, and the new
 * manifest lists the rc's signatures and attestations beside its own. v1.7.5 afterwards is a maintenance release:
 * latest, production and 1 stay on 1.8.2.
 */
describe.skipIf('reason' in scannerTools)(
  'promote a staging release to production, then a maintenance release',
  () => {
    let reg: TestRegistry;
    let proxy: FaultProxy;
    let stack: SigstoreStack;
    let github: GitHubApiStandIn;
    let oidc: Awaited<ReturnType<typeof startOidcTokenEndpoint>>;
    let base: string;
    let workspace: string;
    let storage: { env: Record<string, string>; dir: string };
    let scratch: string;
    let trustedRootFile: string;
    let scanners: RealScanners;
    const timings: Record<string, number> = {};
    const runs: Record<string, ActionRun> = {};
    const tagsAfter: Record<string, Record<string, string>> = {};
    let promotionReads: { byKind: Record<string, number>; layerBlobReads: string[] };

    const image = () => `${proxy.host}/${REPO}`;
    async function action(
      name: string,
      tag: string,
      inputs: Record<string, string> = {},
    ): Promise<ActionRun> {
      const started = Date.now();
      const run = await runBundled('main', {
        workspace,
        inputs: {
          image: image(),
          builder: 'buildah',
          'build-args': `BASE=${base}`,
          'registry-username': reg.username,
          'registry-password': reg.password,
          'registry-ca-file': reg.caFile,
          'reports-dir': path.join(scratch, name),
          'fulcio-url': stack.fulcioURL,
          'rekor-url': stack.rekorURL,
          'tsa-url': stack.tsaURL,
          'trusted-root': trustedRootFile,
          'certificate-identity': IDENTITY,
          'certificate-oidc-issuer': GITHUB_ACTIONS_ISSUER,
          'github-token': github.token,
          ...scanners.inputs,
          ...inputs,
        },
        env: {
          ...storage.env,
          ...scanners.env,
          ...oidc.env,
          GITHUB_REF: `refs/tags/${tag}`,
          GITHUB_REPOSITORY: github.repository,
          GITHUB_API_URL: github.apiUrl,
        },
      });
      timings[name] = Date.now() - started;
      runs[name] = run;
      tagsAfter[name] = await releaseTags();
      return run;
    }
    const promote = (name: string, tag: string, from: string, inputs: Record<string, string> = {}) =>
      action(name, tag, { mode: 'promote', from, ...inputs });

    /** Every tag but the referrers fallback tags, as tag → digest (read from the registry directly). */
    async function releaseTags(): Promise<Record<string, string>> {
      const tags = (await listTagsRaw(reg, REPO)).filter((t) => !t.startsWith('sha256-'));
      const out: Record<string, string> = {};
      for (const tag of tags.sort()) out[tag] = await digestOfTag(tag);
      return out;
    }
    const digestOfTag = async (tag: string) =>
      `sha256:${createHash('sha256')
        .update(await skopeo(reg, ['inspect', '--raw', `docker://${reg.host}/${REPO}:${tag}`]))
        .digest('hex')}`;
    const manifestOf = (run: ActionRun) =>
      parse(readFileSync(run.outputs['manifest-file']!, 'utf8')) as Manifest;

    /** A copy of the rc's index with one annotation changed: same images, another digest, no signature. */
    async function pushUnsignedIndex(rcDigest: string): Promise<string> {
      const client = new RegistryClient({
        registry: reg.host,
        credentials: resolverFromInputs(reg.host, reg.username, reg.password),
        ca: readFileSync(reg.caFile),
      });
      try {
        const rc = await client.getManifest(REPO, rcDigest);
        const doc = rc.json as { annotations: Record<string, string> };
        doc.annotations['org.opencontainers.image.version'] = '1.8.2-rc.2';
        const body = Buffer.from(JSON.stringify(doc));
        await client.putManifest(REPO, 'unsigned-rc', body, rc.mediaType);
        return digestOf(body);
      } finally {
        await client.close();
      }
    }

    beforeAll(async () => {
      await ensureHostTools();
      await ensureBinfmt();
      scanners = await startRealScanners(scannerTools);
      reg = await startRegistry();
      proxy = await startFaultProxy(reg);
      stack = await startSigstoreStack();
      github = await startGitHubApiStandIn();
      oidc = await startOidcTokenEndpoint(() => stack.oidcToken(IDENTITY));
      base = (await publishBaseImage(reg)).replace(reg.host, proxy.host);
      workspace = await makeSampleWorkspace();
      storage = await buildahEnvironment();
      scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-promote-'));
      trustedRootFile = path.join(scratch, 'trusted_root.json');
      await writeFile(trustedRootFile, JSON.stringify(stack.trustedRoot));

      await action('rc', 'v1.8.2-rc.1', PERMISSIVE);
      // A policy change (the default policy: fail on High) blocks the promotion on the rc's real Critical finding.
      await promote('blocked', 'v1.8.2', '1.8.2-rc.1');
      await pushUnsignedIndex(runs.rc!.outputs.digest!);
      tagsAfter.unsignedPushed = await releaseTags();
      await promote('unsigned', 'v1.8.3', 'unsigned-rc', PERMISSIVE);
      proxy.configure({});
      await promote('promoted', 'v1.8.2', '1.8.2-rc.1', PERMISSIVE);
      const counts = proxy.counts();
      const layers = await releasedLayers(reg, REPO, runs.rc!.outputs.digests!);
      const blobReads = proxy
        .journal()
        .map((line) => /^(?:GET|HEAD) \/v2\/[^ ]+\/blobs\/(sha256:[a-f0-9]{64})/.exec(line)?.[1])
        .filter((d): d is string => d !== undefined);
      promotionReads = { byKind: counts.byKind, layerBlobReads: blobReads.filter((d) => layers.has(d)) };
      await action('maintenance', 'v1.7.5', PERMISSIVE);
      console.log(
        `promote e2e: release ${timings.rc} ms, promotion ${timings.promoted} ms, maintenance release ` +
          `${timings.maintenance} ms; promotion registry requests by kind ${JSON.stringify(promotionReads.byKind)}`,
      );
    });

    afterAll(async () => {
      await proxy?.stop();
      await reg?.stop();
      await stack?.stop();
      await github?.stop();
      await oidc?.stop();
      await scanners?.stop();
      for (const dir of [workspace, storage?.dir, scratch])
        if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('releases v1.8.2-rc.1 on staging', () => {
      const rc = runs.rc!;
      expect(rc.errors, rc.stdout.slice(-4000)).toEqual([]);
      expect(rc.outputs.channel).toBe('staging');
      expect(tagsAfter.rc).toEqual({ '1.8.2-rc.1': rc.outputs.digest, staging: rc.outputs.digest });
    });

    it('a policy change that blocks the rc fails the promotion and moves no tag', () => {
      const blocked = runs.blocked!;
      expect(blocked.exitCode).not.toBe(0);
      expect(blocked.outputs.gate).toBe('fail');
      expect(blocked.errors.join('\n')).toMatch(/gate failed.*no tag was written/is);
      // The real finding the default policy blocks, found by today's Grype scan of the rc's SBOM attestation.
      expect(blocked.stdout).toMatch(/CVE-2022-48174/);
      expect(tagsAfter.blocked).toEqual(tagsAfter.rc);
    });

    it('refuses to promote an unsigned index and moves no tag', () => {
      const unsigned = runs.unsigned!;
      expect(unsigned.exitCode).not.toBe(0);
      expect(unsigned.errors.join('\n')).toMatch(
        /no Sigstore bundle attached to .*unsigned|is signed by|no deployment manifest/is,
      );
      expect(tagsAfter.unsigned).toEqual(tagsAfter.unsignedPushed);
    });

    it('promotes the rc to v1.8.2: every production tag points at the rc index, nothing rebuilt', () => {
      const promoted = runs.promoted!;
      expect(promoted.errors, promoted.stdout.slice(-4000)).toEqual([]);
      const rc = runs.rc!.outputs.digest!;
      expect(promoted.outputs.digest).toBe(rc);
      for (const tag of ['1.8.2', '1.8', '1', 'latest', 'production', 'staging', '1.8.2-rc.1'])
        expect(tagsAfter.promoted![tag], tag).toBe(rc);
      expect(promoted.stdout).not.toMatch(/::group::Build linux/);
      // The steps that run beside others, each written as one group after them, in this order: the tags are planned
      // and the baseline read while the release is verified, and the carry-over is written before anything is signed.
      const groups = [...promoted.stdout.matchAll(/^::group::(.*)$/gm)].map((m) => m[1]!);
      expect(groups.slice(0, 8)).toEqual([
        expect.stringMatching(/^Read .*:1\.8\.2-rc\.1 and its SBOM attestations$/),
        expect.stringMatching(/^Verify .*:1\.8\.2-rc\.1$/),
        'Install Grype and its database',
        'Re-scan the SBOM attestations',
        'Plan the tags and read the channel baseline',
        'Verify what the promotion carries over',
        'Attest the rescan',
        'Deployment manifest',
      ]);
      expect(promoted.stdout).toMatch(/── Re-scan linux\/arm64 from its SBOM attestation/);
      // Grype alone is installed: a re-scan reads the SBOMs, it does not make them.
      expect(promoted.stdout).not.toMatch(/Using syft from|^syft .* at \//m);
      expect(promoted.stdout).toMatch(/^grype .* at \//m);
    });

    it('promotion read no layer blob from the registry', () => {
      expect(promotionReads.byKind['manifest-read']).toBeGreaterThan(0);
      expect(promotionReads.byKind['blob-read']).toBeGreaterThan(0);
      expect(promotionReads.layerBlobReads).toEqual([]);
    });

    it('the new deployment manifest verifies and names its origin', () => {
      const promoted = runs.promoted!;
      const manifest = manifestOf(promoted);
      expect(manifest.release).toMatchObject({ version: '1.8.2', channel: 'production' });
      expect(manifest.image.index.digest).toBe(runs.rc!.outputs.digest);
      expect(manifest.promotedFrom).toMatchObject({
        version: '1.8.2-rc.1',
        channel: 'staging',
        index: runs.rc!.outputs.digest,
        manifest: {
          file: 'edgeship-deployment-1.8.2-rc.1.yaml',
          digest: runs.rc!.outputs['manifest-digest'],
        },
      });
      const file = readFileSync(promoted.outputs['manifest-file']!);
      const bundle = readFileSync(`${promoted.outputs['manifest-file']!}.sigstore.json`);
      const { statement } = verifyBundleIndependently(
        JSON.parse(bundle.toString('utf8')),
        stack.trustedRoot,
        {
          identity: IDENTITY,
          issuer: GITHUB_ACTIONS_ISSUER,
        },
      );
      expect(statement.subject.map((s) => `sha256:${s.digest.sha256}`)).toEqual([
        digestOf(file),
        runs.rc!.outputs.digest,
      ]);
    });

    it('v1.7.5 after v1.8.2 is a maintenance release: latest, production and 1 stay on 1.8.2', () => {
      const maintenance = runs.maintenance!;
      expect(maintenance.errors, maintenance.stdout.slice(-4000)).toEqual([]);
      const tags = tagsAfter.maintenance!;
      const rc = runs.rc!.outputs.digest!;
      for (const tag of ['latest', 'production', '1', '1.8', '1.8.2']) expect(tags[tag], tag).toBe(rc);
      for (const tag of ['1.7.5', '1.7']) expect(tags[tag], tag).toBe(maintenance.outputs.digest);
      const plan = manifestOf(maintenance).tagPlan!;
      expect(plan.filter((d) => !d.moved).map((d) => d.tag)).toEqual(['1', 'latest', 'production']);
    });

    it("the promoted manifest still lists the rc's signatures and attestations beside the fresh ones", async () => {
      const rc = manifestOf(runs.rc!);
      const promoted = manifestOf(runs.promoted!);
      const index = runs.rc!.outputs.digest!;
      // Everything the rc's signed manifest lists (image signatures, SBOM and vulnerability attestations, in both
      // formats) is listed again with the same subject, predicate type and place.
      expect(rc.signatures.bundles.length).toBeGreaterThanOrEqual(6);
      for (const b of rc.signatures.bundles) expect(promoted.signatures.bundles).toContainEqual(b);
      expect(rc.signatures.classic?.length).toBeGreaterThanOrEqual(6);
      for (const c of rc.signatures.classic ?? []) expect(promoted.signatures.classic).toContainEqual(c);
      // The rc's own deployment manifest attestation, and the rescan's fresh vulnerability attestation per platform.
      const deployment = promoted.signatures.bundles.filter(
        (b) => b.predicateType === DEPLOYMENT_PREDICATE_TYPE,
      );
      expect(deployment.map((b) => b.subject)).toEqual([index]);
      for (const p of promoted.platforms) {
        const vulns = promoted.signatures.bundles.filter(
          (b) => b.subject === p.digest && b.predicateType === COSIGN_VULN_PREDICATE_TYPE,
        );
        expect(vulns, p.platform).toHaveLength(2);
        // The SBOM the rescan read is the rc's attestation.
        const rcPlatform = rc.platforms.find((r) => r.platform === p.platform)!;
        expect(p.sbom.attestation?.referrer, p.platform).toBe(rcPlatform.sbom.attestation!.referrer);
      }
      // Every listed referrer exists in the registry.
      const client = new RegistryClient({
        registry: reg.host,
        credentials: resolverFromInputs(reg.host, reg.username, reg.password),
        ca: readFileSync(reg.caFile),
      });
      try {
        for (const b of promoted.signatures.bundles) {
          const referrer = await client.getManifest(REPO, b.referrer);
          expect((referrer.json as { subject?: { digest: string } }).subject?.digest).toBe(b.subject);
        }
      } finally {
        await client.close();
      }
    });
  },
);
