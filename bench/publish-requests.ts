// Child process of bench/run.mjs: registry requests of the publish phase (publishRelease) for 2 platforms,
// against a REAL registry (Debian docker-registry, distribution 2.8: htpasswd + TLS, no referrers API, so
// the sha256-<hex> fallback tag is used) and signed keylessly with the local Sigstore stack (Fulcio, Rekor,
// TSA from @sigstore/mock over loopback HTTP). For each signature-format (bundle, classic, both; each in its own
// repository) two releases are published with fresh clients, as two action
// runs would: v1.2.3 into an empty channel, then v1.2.4 over it (the baseline is read, the empty config blob
// is already there). Prints one JSON line: per run the requests measured (RegistryClient.requestCount across
// publishRelease), the justified minimum (minimumRequests below), a breakdown, and the blob re-uploads
// (uploads of a blob the registry already had: from the image pushes, an earlier upload or a HEAD that
// found it), and the transparency-log entries and Fulcio certificates each publish made against
// minimumTlogEntries.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fetch as undiciFetch } from 'undici';
import { expectedSignerFor } from '../src/publish/publish-deps.js';
import { parsePlatform } from '../src/image/platform.js';
import { resolvePlatformImage, type PlatformImage } from '../src/image/pushed-image.js';
import { channelTag } from '../src/deployment/baseline.js';
import type { GateResult } from '../src/policy/decide.js';
import type { PlatformScan } from '../src/scan/scan-platforms.js';
import { memoryLog } from '../test/unit/helpers/memory-host.js';
import { evaluateGate, loadPolicy } from '../src/policy/index.js';
import { publishRelease, type PublishResult } from '../src/publish/release.js';
import { RegistryClient, type FetchLike } from '../src/registry/client.js';
import { resolverFromInputs } from '../src/registry/credentials.js';
import { digestOf } from '../src/registry/digest.js';
import { OCI_IMAGE_CONFIG, OCI_IMAGE_MANIFEST } from '../src/registry/media-types.js';
import { releaseMetadata, type ReleaseMetadata } from '../src/release/metadata.js';
import { parseGrypeReport } from '../src/scan/grype-report.js';
import { countSbomPackages } from '../src/scan/sbom.js';
import { readSettings, type Settings } from '../src/settings/inputs.js';
import type { SignerConfig } from '../src/sign/signer.js';
import { trustMaterialFromJSON } from '../src/sign/verify.js';
import { ensureHostTools } from '../test/e2e/harness/host-tools.js';
import { startRegistry, type TestRegistry } from '../test/e2e/harness/registry.js';
import { startSigstoreStack, type SigstoreStack } from '../test/e2e/harness/sigstore-stack.js';

const REPO_BASE = 'acme/edge-agent';
/** Each signature-format is published into its own repository (`acme/edge-agent-<format>`). */
const FORMATS = ['bundle', 'classic', 'both'] as const;
type Format = (typeof FORMATS)[number];
const IDENTITY = 'https://github.com/acme/edge-agent/.github/workflows/release.yml@refs/tags/v1.2.3';
const PLATFORMS = ['linux/amd64', 'linux/arm64'];
const FIXTURES = path.resolve('..', 'shared', 'fixtures');
const SBOM_FIXTURE = path.join(
  FIXTURES,
  'syft',
  'spdx-json',
  'kubectl_linux-amd64_syft-0.58.0_spdx-2.2.json',
);
const REPORT_FIXTURE = path.join(
  FIXTURES,
  'grype',
  'json',
  'klass-web_wolfi_arm64_grype-0.114.0_zero-matches.json',
);
const SARIF_FIXTURE = path.join(FIXTURES, 'grype', 'sarif', 'empty-results_grype-0.89.0.sarif');

/**
 * The fewest registry requests a publish of `platforms` images with `tags` tags (channel tag included)
 * can make while doing everything publishRelease promises (guards before writes, every bundle attached
 * and discoverable, read back and verified, tags read back), with a client that starts cold:
 */
export function minimumRequests(o: {
  platforms: number;
  tags: number;
  /** signature-format (default bundle: what this formula counted before the input existed). */
  format?: Format;
  /** Classic layers earlier releases stored in the `.sig`/`.att` tags of the same subjects. */
  earlierClassicLayers?: number;
  /** The channel tag exists already: there is a baseline to read. */
  baseline: boolean;
  /** The empty config blob `{}` of referrer manifests is in the repository already. */
  emptyConfigStored: boolean;
  /** Bundles earlier releases attached to the same subjects (unchanged platform images). */
  earlierBundles: number;
}): number {
  const N = o.platforms;
  const T = o.tags;
  const format = o.format ?? 'bundle';
  const bundles = format !== 'classic';
  const classic = format !== 'bundle';
  // Bundles: the index's signature and the deployment manifest's attestation; per platform a signature,
  // the SBOM attestation and the vulnerability attestation.
  const B = 2 + 3 * N;
  // Subjects signatures are stored for: the index and each platform manifest.
  const S = N + 1;
  // Classic layers: one signature per subject (.sig), the attestations (.att): B - S of them.
  const L = B;
  return (
    // auth: the registry answers the first request of a fresh client with its Basic challenge (401).
    1 +
    // tag guard: HEAD each tag before anything is written (a release tag must not move silently).
    T +
    // baseline: HEAD the channel tag (readBaseline reads it apart from the guard's HEAD); when it
    // exists, GET the baseline index and each platform's manifest in it (layer deltas).
    1 +
    (o.baseline ? 1 + N : 0) +
    // the index, PUT by digest.
    1 +
    // the empty config blob of referrer manifests, once: HEAD (a fresh client cannot know), then POST +
    // PUT when missing (the deployment manifest artifact is a referrer in every format).
    (o.emptyConfigStored ? 1 : 3) +
    // bundle format, per bundle: POST + PUT of the bundle blob (fresh signed content cannot already exist,
    // so no HEAD), PUT of the referrer manifest by digest, PUT of the subject's fallback index listing it;
    // per subject: GET its fallback index once before the first write (read-modify-write).
    (bundles ? B * (2 + 1 + 1) + S : 1) +
    // the deployment manifest artifact on the index: POST + PUT of the YAML blob (written anew each
    // release), PUT of the artifact manifest, PUT of the index's fallback index listing it; its bundle
    // blob is the one just attached as a referrer, or (classic alone) HEAD + POST + PUT.
    4 +
    (bundles ? 0 : 3) +
    // the referrers API: probed once for the registry (its absence is a property of the registry).
    1 +
    // classic format: per subject GET its .sig and .att tags once (read-modify-write, as cosign does);
    // per layer POST + PUT of its blob (a signature's simple signing payload is skipped when the tag
    // already lists it: the same payload for every signature of a digest), POST + PUT of the new config,
    // PUT of the tag. Each layer is written as it is signed, like each bundle.
    (classic ? 2 * S + L * (2 + 2 + 1) - 2 * (o.baseline ? N : 0) : 0) +
    // verification, read back from the registry: per subject the referrers list (fallback index); per
    // bundle listed its referrer manifest and its bundle blob (verifyAttached checks every bundle attached
    // to the subject, earlier releases' included: none may fail).
    (bundles ? S + 2 * (B + o.earlierBundles) : 0) +
    // classic verification: per subject GET the .sig and .att tags, per layer listed GET its blob
    // (earlier releases' layers included).
    (classic ? 2 * S + L + (o.earlierClassicLayers ?? 0) : 0) +
    // tags: HEAD each just before its PUT (a concurrent release must not be undone), PUT each, HEAD
    // each back.
    3 * T
  );
}

/**
 * Transparency log entries (= Fulcio certificates, one per signing) a publish makes: one per bundle; the
 * classic format adds one per subject (cosign 2 and containers/image verify a simple signing payload, which
 * no bundle signs), its attestations are the bundles' DSSE envelopes (classic alone: signed for it).
 */
export function minimumTlogEntries(o: { platforms: number; format: Format }): number {
  const B = 2 + 3 * o.platforms;
  const S = o.platforms + 1;
  return o.format === 'both' ? B + S : B;
}

interface Recorded {
  method: string;
  url: URL;
  status: number;
}

/** What one request was, for the breakdown. */
function kindOf(r: Recorded): string {
  const p = r.url.pathname;
  if (r.url.pathname === '/v2/' || r.url.pathname === '/v2') return `${r.method} /v2/`;
  if (p.includes('/blobs/uploads/')) return `${r.method} blob upload`;
  if (p.includes('/blobs/')) return `${r.method} blob`;
  if (p.includes('/referrers/')) return `${r.method} referrers`;
  if (/\/manifests\/sha256-[0-9a-f]{64}$/.test(p)) return `${r.method} fallback index`;
  if (/\/manifests\/sha256:/.test(p)) return `${r.method} manifest by digest`;
  if (p.includes('/manifests/')) return `${r.method} tag`;
  return `${r.method} other`;
}

/** A fetch that records every request and keeps track of the blobs the registry has. */
function recordingFetch(known: Set<string>) {
  const requests: Recorded[] = [];
  let reUploads: string[] = [];
  const fetchImpl: FetchLike = async (url, init) => {
    const response = await undiciFetch(url, init as Parameters<typeof undiciFetch>[1]);
    const parsed = new URL(url);
    requests.push({ method: init.method, url: parsed, status: response.status });
    const repo = /^\/v2\/(.+)\/blobs\//.exec(parsed.pathname)?.[1];
    if (repo !== undefined) {
      const uploadDigest = parsed.searchParams.get('digest');
      if (init.method === 'PUT' && parsed.pathname.includes('/blobs/uploads/') && uploadDigest) {
        if (known.has(`${repo}@${uploadDigest}`)) reUploads.push(`${repo}@${uploadDigest}`);
        if (response.status === 201) known.add(`${repo}@${uploadDigest}`);
      }
      const headed = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(parsed.pathname)?.[1];
      if (init.method === 'HEAD' && headed && response.status === 200) known.add(`${repo}@${headed}`);
    }
    return response;
  };
  return {
    fetchImpl,
    requests,
    takeReUploads: () => {
      const taken = reUploads;
      reUploads = [];
      return taken;
    },
  };
}

/** Pushes a small real image for `platform` (config + one layer, manifest by digest). */
async function pushImage(
  client: RegistryClient,
  repo: string,
  platform: string,
  known: Set<string>,
): Promise<string> {
  const { os: osName, architecture } = parsePlatform(platform);
  const config = Buffer.from(
    JSON.stringify({
      architecture,
      os: osName,
      config: { User: '1000', Healthcheck: { Test: ['CMD', '/agent', 'health'] } },
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
  const layer = Buffer.from(`edge agent for ${platform}\n`.repeat(64));
  const layerMediaType = 'application/vnd.oci.image.layer.v1.tar';
  for (const blob of [config, layer]) {
    const { digest } = await client.uploadBlob(repo, blob);
    known.add(`${repo}@${digest}`);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_IMAGE_MANIFEST,
      config: { mediaType: OCI_IMAGE_CONFIG, digest: digestOf(config), size: config.length },
      layers: [{ mediaType: layerMediaType, digest: digestOf(layer), size: layer.length }],
    }),
  );
  return client.putManifest(repo, digestOf(manifest), manifest, OCI_IMAGE_MANIFEST);
}

/** A passing gate over real SBOM and Grype report files (copied into `dir`). */
async function passingGate(images: readonly PlatformImage[], dir: string): Promise<GateResult> {
  const sbomText = await readFile(SBOM_FIXTURE, 'utf8');
  const reportBytes = await readFile(REPORT_FIXTURE);
  const sarifText = await readFile(SARIF_FIXTURE, 'utf8');
  const scans: PlatformScan[] = [];
  for (const image of images) {
    const slug = image.platform.replace('/', '-');
    const sbomFile = path.join(dir, `sbom-${slug}.spdx.json`);
    const reportFile = path.join(dir, `grype-${slug}.json`);
    const sarifFile = path.join(dir, `grype-${slug}.sarif`);
    await writeFile(sbomFile, sbomText);
    await writeFile(reportFile, reportBytes);
    await writeFile(sarifFile, sarifText);
    scans.push({
      platform: image.platform,
      digest: image.digest,
      sbomFiles: [{ format: 'spdx-json', file: sbomFile }],
      packages: countSbomPackages(sbomText, 'spdx-json'),
      reportFile,
      sarifFile,
      report: parseGrypeReport(reportBytes, reportFile),
    });
  }
  const verdict = evaluateGate(
    loadPolicy({}),
    scans.map((scan, i) => ({
      platform: scan.platform,
      report: scan.report,
      image: {
        size: images[i]!.size,
        user: images[i]!.config.user,
        healthcheck: images[i]!.config.healthcheck,
      },
    })),
    new Date(),
  );
  if (!verdict.pass) throw new Error('the bench gate should pass');
  return { verdict, scans, reportsDir: dir };
}

interface RunReport {
  release: string;
  /** Whether the channel already had a release (the baseline is read). */
  baseline: boolean;
  requests: number;
  minimum: number;
  reUploads: string[];
  breakdown: Record<string, number>;
  tags: string[];
  signatures: number;
  format: Format;
  /** Rekor entries the publish made (one per signing), and the justified minimum. */
  tlogEntries: number;
  minimumTlogEntries: number;
  /** Fulcio certificates (keyless: one per signing). */
  certificates: number;
}

const cleanup: Array<() => Promise<unknown>> = [];
try {
  await ensureHostTools();
  const reg: TestRegistry = await startRegistry();
  cleanup.push(() => reg.stop());
  const stack: SigstoreStack = await startSigstoreStack();
  cleanup.push(() => stack.stop());
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-bench-publish-'));
  cleanup.push(() => rm(scratch, { recursive: true, force: true }));
  const ca = await readFile(reg.caFile, 'utf8');
  const credentials = resolverFromInputs(reg.host, reg.username, reg.password);
  const trustedRootFile = path.join(scratch, 'trusted_root.json');
  await writeFile(trustedRootFile, JSON.stringify(stack.trustedRoot));
  await writeFile(path.join(scratch, 'Dockerfile'), 'FROM scratch\n');

  // Blobs the registry has, as far as anyone here saw.
  const known = new Set<string>();
  const setup = new RegistryClient({ registry: reg.host, credentials, ca });
  cleanup.push(() => setup.close());
  const runs: RunReport[] = [];
  for (const format of FORMATS) {
    const REPO = `${REPO_BASE}-${format}`;
    const images: PlatformImage[] = [];
    for (const platform of PLATFORMS) {
      const digest = await pushImage(setup, REPO, platform, known);
      images.push(await resolvePlatformImage(setup, REPO, digest, parsePlatform(platform)));
    }
    const gate = await passingGate(images, scratch);

    const inputs: Record<string, string> = {
      image: `${reg.host}/${REPO}`,
      platforms: PLATFORMS.join(','),
      'registry-username': reg.username,
      'registry-password': reg.password,
      'registry-ca-file': reg.caFile,
      'fulcio-url': stack.fulcioURL,
      'rekor-url': stack.rekorURL,
      'tsa-url': stack.tsaURL,
      'trusted-root': trustedRootFile,
      'release-assets': 'off',
      'signature-format': format,
    };
    const settings: Settings = readSettings((name) => inputs[name] ?? '', { workspace: scratch });
    const signer: SignerConfig = {
      identity: {
        kind: 'keyless',
        tokenProvider: { getToken: async () => stack.oidcToken(IDENTITY) },
        fulcioURL: stack.fulcioURL,
      },
      rekorURL: stack.rekorURL,
      tsaURL: stack.tsaURL,
    };
    const trust = trustMaterialFromJSON(stack.trustedRoot);

    const attached: string[] = [];
    const classicLayers: string[] = [];
    const publish = async (version: string, baseline: boolean, emptyConfigStored: boolean) => {
      const earlierBundles = attached.filter((subject) => images.some((i) => i.digest === subject)).length;
      const earlierClassicLayers = classicLayers.filter((s) => images.some((i) => i.digest === s)).length;
      const logged = stack.requests();
      const ref = `refs/tags/v${version}`;
      const release: ReleaseMetadata = releaseMetadata({
        ref,
        sha: 'c0ffee'.padEnd(40, '0'),
        repository: REPO,
        serverUrl: 'https://github.com',
        now: new Date(),
      });
      const recorder = recordingFetch(known);
      // A fresh client, as a new action run has: cold caches, the registry's challenge still to answer.
      const client = new RegistryClient({
        registry: reg.host,
        credentials,
        ca,
        fetchImpl: recorder.fetchImpl,
      });
      try {
        const reportsDir = await mkdtemp(path.join(scratch, `release-${version}-`));
        const before = client.requestCount;
        const result: PublishResult = await publishRelease(
          {
            settings,
            policy: loadPolicy({}),
            release,
            images,
            gate,
            git: {
              ref,
              revision: 'c0ffee'.padEnd(40, '0'),
              workflowRun: 'https://github.com/acme/edge-agent/actions',
            },
            reportsDir,
          },
          {
            registry: client,
            log: memoryLog(),
            signer,
            expectedSigner: expectedSignerFor(settings, signer),
            trustMaterial: async () => trust,
            readText: (f) => readFile(f, 'utf8'),
            writeText: (f, text) => writeFile(f, text),
            now: () => new Date(),
          },
        );
        const requests = client.requestCount - before;
        if (requests !== recorder.requests.length) {
          throw new Error(`requestCount says ${requests}, the fetch saw ${recorder.requests.length}`);
        }
        const tags = release.tags.length + (channelTag(release.channel) ? 1 : 0);
        const breakdown: Record<string, number> = {};
        for (const r of recorder.requests) breakdown[kindOf(r)] = (breakdown[kindOf(r)] ?? 0) + 1;
        const run: RunReport = {
          release: version,
          baseline,
          requests,
          minimum: minimumRequests({
            platforms: images.length,
            tags,
            baseline,
            emptyConfigStored,
            earlierBundles,
            format,
            earlierClassicLayers,
          }),
          reUploads: recorder.takeReUploads(),
          breakdown,
          tags: result.tags,
          signatures: result.signatures.length,
          format,
          tlogEntries: stack.requests().rekor - logged.rekor,
          minimumTlogEntries: minimumTlogEntries({ platforms: images.length, format }),
          certificates: stack.requests().fulcio - logged.fulcio,
        };
        const perFormat = 2 + 3 * images.length;
        if (result.signatures.length !== perFormat * (format === 'both' ? 2 : 1)) {
          throw new Error(
            `expected ${perFormat} signatures per format, publish stored ${result.signatures.length}`,
          );
        }
        attached.push(...result.signatures.filter((s) => s.format === 'bundle').map((s) => s.subject));
        classicLayers.push(...result.signatures.filter((s) => s.format === 'classic').map((s) => s.subject));
        return run;
      } finally {
        await client.close();
      }
    };

    // The empty config blob is per repository: each format's first release uploads it.
    runs.push(await publish('1.2.3', false, false), await publish('1.2.4', true, true));
  }
  console.log(JSON.stringify({ runs }));
} finally {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
}
