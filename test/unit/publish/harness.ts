/**
 * An in-process publish harness for failure-injection tests: the fake registry (Basic or Bearer auth)
 * with two small real images pushed into it, a passing gate over an SBOM, a Grype report and a SARIF
 * report built here (no fixture files needed), settings read from inputs, and fault injection for the registry (through FakeRegistry's interceptors), for Fulcio,
 * Rekor and the TSA (through a forwarding proxy in front of each), and for the GitHub Releases API (the
 * stand-in's own failure options).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import { parsePlatform, platformSlug } from '../../../src/image/platform.js';
import { resolvePlatformImage, type PlatformImage } from '../../../src/image/pushed-image.js';
import type { GateResult } from '../../../src/policy/decide.js';
import type { PlatformScan } from '../../../src/scan/scan-platforms.js';
import { memoryLog } from '../helpers/memory-host.js';
import { evaluateGate, type Policy } from '../../../src/policy/index.js';
import { buildImageIndex, type BuiltIndex } from '../../../src/image/image-index.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { resolverFromInputs } from '../../../src/registry/credentials.js';
import { OCI_IMAGE_CONFIG, OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import { releaseMetadata, type ReleaseMetadata } from '../../../src/release/metadata.js';
import { parseGrypeReport } from '../../../src/scan/grype-report.js';
import { countSbomPackages } from '../../../src/scan/sbom.js';
import { sbomFileName } from '../../../src/scan/syft.js';
import { readSettings, type Settings } from '../../../src/settings/inputs.js';
import {
  errorBody,
  type FakeAuth,
  type FakeRegistry,
  type RecordedRequest,
} from '../registry/fake-registry.js';

export const REPO_PATH = 'acme/edge-agent';
export const USERNAME = 'edge-publisher';
export const PASSWORD = 'registry-s3cret-password';
export const IDENTITY = 'https://github.com/acme/edge-agent/.github/workflows/release.yml@refs/tags/v1.2.3';
export const RELEASE_REF = 'refs/tags/v1.2.3';
export const RELEASE_GIT_TAG = 'v1.2.3';
export const REVISION = '0123456789abcdef0123456789abcdef01234567';
/** Every tag a complete publish of v1.2.3 on the production channel points at the index. */
export const EXPECTED_TAGS = ['1.2.3', '1.2', '1', 'latest', 'production'] as const;
export const PLATFORMS = ['linux/amd64', 'linux/arm64'] as const;

/** The referrers fallback tag schema: `sha256-<64 hex>` (these may exist after a failed publish). */
export const FALLBACK_TAG = /^sha256-[a-f0-9]{64}$/;

export const auth = {
  basic: { kind: 'basic', username: USERNAME, password: PASSWORD } satisfies FakeAuth,
  bearer: { kind: 'bearer', username: USERNAME, password: PASSWORD } satisfies FakeAuth,
};

// ---------------------------------------------------------------------------------------------------------
// Images

/** A one-file ustar archive (what an image layer holds before compression). */
function tarWithFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000755\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Pushes a small real image (gzipped tar layer, OCI config, OCI manifest by digest) for `platform`. */
export async function pushImage(
  client: RegistryClient,
  platform: string,
  version = '1.2.3',
): Promise<string> {
  const { os, architecture } = parsePlatform(platform);
  const tar = tarWithFile('agent', Buffer.from(`#!/bin/sh\necho "edge agent ${version} on ${platform}"\n`));
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture,
      os,
      created: '2026-01-02T03:04:05Z',
      config: {
        User: '1000',
        Entrypoint: ['/agent'],
        Healthcheck: { Test: ['CMD', '/agent', 'health'] },
        Labels: { 'org.opencontainers.image.version': version },
      },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    }),
  );
  await client.uploadBlob(REPO_PATH, layer);
  await client.uploadBlob(REPO_PATH, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_IMAGE_MANIFEST,
      config: { mediaType: OCI_IMAGE_CONFIG, digest: sha256(config), size: config.length },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: sha256(layer),
          size: layer.length,
        },
      ],
    }),
  );
  return client.putManifest(REPO_PATH, sha256(manifest), manifest, OCI_IMAGE_MANIFEST);
}

// ---------------------------------------------------------------------------------------------------------
// Gate

/**
 * An SPDX 2.3 JSON SBOM of the image as Syft writes it: the document describes the image, which
 * contains two packages (so two packages count).
 */
export function spdxSbom(image: PlatformImage): string {
  return JSON.stringify({
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${REPO_PATH}@${image.digest}`,
    documentNamespace: `https://anchore.com/syft/image/${image.digest.slice('sha256:'.length)}`,
    creationInfo: { created: '2026-01-02T03:04:05Z', creators: ['Tool: syft-1.18.1'] },
    packages: [
      { name: REPO_PATH, SPDXID: 'SPDXRef-DocumentRoot-Image', versionInfo: image.digest },
      { name: 'edge-agent', SPDXID: 'SPDXRef-Package-agent', versionInfo: '1.2.3' },
      { name: 'busybox', SPDXID: 'SPDXRef-Package-busybox', versionInfo: '1.36.1' },
    ],
    relationships: [
      {
        spdxElementId: 'SPDXRef-DOCUMENT',
        relatedSpdxElement: 'SPDXRef-DocumentRoot-Image',
        relationshipType: 'DESCRIBES',
      },
    ],
  });
}

/** A Grype JSON report (`grype -o json`) of the image with no match: the gate passes. */
export function grypeReport(image: PlatformImage): string {
  return JSON.stringify({
    matches: [],
    source: {
      type: 'image',
      target: { userInput: `${REPO_PATH}@${image.digest}`, manifestDigest: image.digest },
    },
    distro: { name: 'wolfi', version: '20230201', idLike: [] },
    descriptor: {
      name: 'grype',
      version: '0.114.0',
      db: { status: { built: '2026-01-01T00:00:00Z', schemaVersion: 'v6.1.4', valid: true } },
    },
  });
}

/** Grype's SARIF report with no result. */
export function sarifReport(): string {
  return JSON.stringify({
    version: '2.1.0',
    $schema: 'https://json.schemastore.org/sarif-2.1.0-rtm.5.json',
    runs: [{ tool: { driver: { name: 'Grype', version: '0.114.0', rules: [] } }, results: [] }],
  });
}

/** A passing gate over an SBOM, a Grype report and a SARIF report per platform, written into `reportsDir`. */
export async function passingGate(
  images: readonly PlatformImage[],
  policy: Policy,
  reportsDir: string,
): Promise<GateResult> {
  await mkdir(reportsDir, { recursive: true });
  const scans: PlatformScan[] = [];
  for (const image of images) {
    const slug = platformSlug(parsePlatform(image.platform));
    const sbomFile = path.join(reportsDir, sbomFileName(slug, 'spdx-json'));
    const reportFile = path.join(reportsDir, `grype-${slug}.json`);
    const sarifFile = path.join(reportsDir, `grype-${slug}.sarif`);
    await writeFile(sbomFile, spdxSbom(image));
    await writeFile(reportFile, grypeReport(image));
    await writeFile(sarifFile, sarifReport());
    scans.push({
      platform: image.platform,
      digest: image.digest,
      sbomFiles: [{ format: 'spdx-json', file: sbomFile }],
      packages: countSbomPackages(await readFile(sbomFile, 'utf8'), 'spdx-json'),
      reportFile,
      sarifFile,
      report: parseGrypeReport(await readFile(reportFile), reportFile),
    });
  }
  const verdict = evaluateGate(
    policy,
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
  return { verdict, scans, reportsDir };
}

// ---------------------------------------------------------------------------------------------------------
// Settings and release

export interface SettingsOptions {
  workspace: string;
  registryHost: string;
  reportsDir: string;
  fulcioURL: string;
  rekorURL: string;
  tsaURL: string;
  trustedRootFile: string;
  githubToken: string;
  inputs?: Record<string, string>;
}

export async function settingsFor(options: SettingsOptions): Promise<Settings> {
  await writeFile(path.join(options.workspace, 'Dockerfile'), 'FROM scratch\nCOPY agent /agent\n');
  const inputs: Record<string, string> = {
    image: `${options.registryHost}/${REPO_PATH}`,
    platforms: PLATFORMS.join(','),
    'registry-username': USERNAME,
    'registry-password': PASSWORD,
    'reports-dir': options.reportsDir,
    signing: 'keyless',
    'fulcio-url': options.fulcioURL,
    'rekor-url': options.rekorURL,
    'tsa-url': options.tsaURL,
    'trusted-root': options.trustedRootFile,
    'github-token': options.githubToken,
    ...options.inputs,
  };
  return readSettings((name) => inputs[name] ?? '', { workspace: options.workspace });
}

export function releaseFor(): ReleaseMetadata {
  return releaseMetadata({
    ref: RELEASE_REF,
    sha: REVISION,
    repository: 'acme/edge-agent',
    serverUrl: 'https://github.com',
    runId: '4242',
    runAttempt: '1',
    now: new Date('2026-01-02T03:04:05Z'),
  });
}

/** The index publishRelease builds (deterministic: the same images and annotations, the same digest). */
export function expectedIndex(images: readonly PlatformImage[], release: ReleaseMetadata): BuiltIndex {
  return buildImageIndex(images, release.annotations);
}

/** Resolves the pushed images the way the build phase does. */
export async function platformImages(client: RegistryClient, digests: string[]): Promise<PlatformImage[]> {
  return Promise.all(
    PLATFORMS.map((platform, i) =>
      resolvePlatformImage(client, REPO_PATH, digests[i]!, parsePlatform(platform)),
    ),
  );
}

export function clientFor(registry: FakeRegistry, sleeps: number[] = []): RegistryClient {
  return new RegistryClient({
    // http:// up front: the loopback https→http probe is not what these tests are about.
    registry: `http://${registry.host}`,
    credentials: resolverFromInputs(registry.host, USERNAME, PASSWORD),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0,
  });
}

export { memoryLog };

// ---------------------------------------------------------------------------------------------------------
// End state, read from the fake registry directly

/** cosign's classic signature tags, `sha256-<64 hex>.sig` / `.att` (signature-format both or classic). */
export const CLASSIC_SIGNATURE_TAG = /^sha256-[a-f0-9]{64}\.(sig|att)$/;

/**
 * The repository's tags other than the `sha256-<hex>` referrers fallback tags and cosign's `.sig`/`.att`
 * signature tags (both only hold signatures of digests), as tag → digest.
 */
export function releaseTags(registry: FakeRegistry): Map<string, string> {
  const all = registry.tags.get(REPO_PATH) ?? new Map<string, string>();
  return new Map([...all].filter(([tag]) => !FALLBACK_TAG.test(tag) && !CLASSIC_SIGNATURE_TAG.test(tag)));
}

export function fallbackTags(registry: FakeRegistry): string[] {
  return [...(registry.tags.get(REPO_PATH)?.keys() ?? [])].filter((tag) => FALLBACK_TAG.test(tag));
}

// ---------------------------------------------------------------------------------------------------------
// Registry fault injection (FakeRegistry interceptors)

export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; code?: string; message?: string }
  | { kind: 'reset' };

export const faults = {
  status: (status: number, headers?: Record<string, string>): Fault => ({
    kind: 'status',
    status,
    ...(headers ? { headers } : {}),
  }),
  reset: { kind: 'reset' } as Fault,
  unauthorized: {
    kind: 'status',
    status: 401,
    headers: { 'www-authenticate': 'Basic realm="fake registry"' },
    code: 'UNAUTHORIZED',
    message: 'authentication required',
  } as Fault,
};

export interface Injection {
  /** Requests answered with the fault. */
  hits: number;
  /** Requests that matched (including those let through by `skip`). */
  matched: number;
}

const REGISTRY_CODES: Record<number, string> = {
  401: 'UNAUTHORIZED',
  429: 'TOOMANYREQUESTS',
  500: 'UNKNOWN',
  502: 'UNKNOWN',
  503: 'UNAVAILABLE',
};

function answer(fault: Fault, res: ServerResponse, req: IncomingMessage, head: boolean): void {
  if (fault.kind === 'reset') {
    req.socket.destroy();
    return;
  }
  for (const [name, value] of Object.entries(fault.headers ?? {})) res.setHeader(name, value);
  errorBody(
    res,
    fault.status,
    fault.code ?? REGISTRY_CODES[fault.status] ?? 'UNKNOWN',
    fault.message ?? `injected HTTP ${fault.status}`,
    head,
  );
}

/**
 * Answers requests matching `match` with `fault`: the first `skip` matches pass, then `times` are
 * answered (Infinity: forever).
 */
export function injectRegistry(
  registry: FakeRegistry,
  match: (r: RecordedRequest) => boolean,
  fault: Fault,
  options: { times?: number; skip?: number } = {},
): Injection {
  const times = options.times ?? Infinity;
  let skip = options.skip ?? 0;
  const state: Injection = { hits: 0, matched: 0 };
  registry.interceptors.push((recorded, res, req) => {
    if (!match(recorded)) return false;
    state.matched++;
    if (skip > 0) {
      skip--;
      return false;
    }
    if (state.hits >= times) return false;
    state.hits++;
    answer(fault, res, req, recorded.method === 'HEAD');
    return true;
  });
  return state;
}

const pathname = (r: RecordedRequest) => new URL(r.url, 'http://registry').pathname;
const manifestRef = (r: RecordedRequest) =>
  new RegExp(`^/v2/${REPO_PATH}/manifests/([^/]+)$`).exec(pathname(r))?.[1];

/** Request matchers for the publish phase's registry traffic. */
const signatureTag = (ref: string) => FALLBACK_TAG.test(ref) || CLASSIC_SIGNATURE_TAG.test(ref);

export const requests = {
  isToken: (r: RecordedRequest) => pathname(r) === '/token',
  manifestPut: (ref: string) => (r: RecordedRequest) => r.method === 'PUT' && manifestRef(r) === ref,
  /** Any tag write other than a `sha256-<hex>` fallback tag or a cosign `.sig`/`.att` tag. */
  releaseTagPut: (r: RecordedRequest) => {
    const ref = manifestRef(r);
    return r.method === 'PUT' && ref !== undefined && !ref.includes(':') && !signatureTag(ref);
  },
  releaseTagHead: (r: RecordedRequest) => {
    const ref = manifestRef(r);
    return r.method === 'HEAD' && ref !== undefined && !ref.includes(':') && !signatureTag(ref);
  },
  /** A referrer manifest (the only OCI image manifests pushed during publish) by digest. */
  referrerPut: (r: RecordedRequest) =>
    r.method === 'PUT' &&
    (manifestRef(r)?.startsWith('sha256:') ?? false) &&
    String(r.headers['content-type']) === OCI_IMAGE_MANIFEST,
  fallbackPut: (r: RecordedRequest) => r.method === 'PUT' && FALLBACK_TAG.test(manifestRef(r) ?? ''),
  fallbackGet: (r: RecordedRequest) => r.method === 'GET' && FALLBACK_TAG.test(manifestRef(r) ?? ''),
  /** The PUT completing a blob upload (it carries the content and `?digest=`). */
  blobPut: (r: RecordedRequest) => r.method === 'PUT' && pathname(r).includes('/blobs/uploads/'),
  blobPutOf: (digest: string) => (r: RecordedRequest) =>
    requests.blobPut(r) && new URL(r.url, 'http://registry').searchParams.get('digest') === digest,
  /** A blob upload PUT of a Sigstore bundle (not the empty `{}` config). */
  bundleBlobPut: (emptyJsonDigest: string) => (r: RecordedRequest) =>
    requests.blobPut(r) && new URL(r.url, 'http://registry').searchParams.get('digest') !== emptyJsonDigest,
};

/** Interprets a tag DELETE (OCI distribution 1.1 allows it; the fake only deletes by digest). */
export function allowTagDeletion(registry: FakeRegistry): { deleted: string[] } {
  const state = { deleted: [] as string[] };
  registry.interceptors.push((recorded, res) => {
    const ref = manifestRef(recorded);
    if (recorded.method !== 'DELETE' || ref === undefined || ref.includes(':')) return false;
    const tags = registry.tags.get(REPO_PATH);
    if (!tags?.delete(ref)) {
      errorBody(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      return true;
    }
    state.deleted.push(ref);
    res.writeHead(202, { 'content-length': '0' });
    res.end();
    return true;
  });
  return state;
}

// ---------------------------------------------------------------------------------------------------------
// A forwarding proxy with fault injection (for Fulcio, Rekor and the TSA)

export interface ProxyRule {
  method?: string;
  path?: RegExp;
  fault: Fault;
  times: number;
  skip: number;
  hits: number;
}

/** Forwards every request to `target` unless a rule answers it with a fault first; counts requests. */
export class FaultProxy {
  readonly rules: ProxyRule[] = [];
  readonly received: Array<{ method: string; path: string; fault?: Fault['kind'] }> = [];
  readonly #server: Server;
  readonly #target: URL;
  #url = '';

  private constructor(target: string) {
    this.#target = new URL(target);
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  static async start(target: string): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.#url = `http://127.0.0.1:${(proxy.#server.address() as AddressInfo).port}`;
    return proxy;
  }

  get url(): string {
    return this.#url;
  }

  inject(fault: Fault, options: { method?: string; path?: RegExp; times?: number; skip?: number } = {}) {
    const rule: ProxyRule = {
      fault,
      times: options.times ?? Infinity,
      skip: options.skip ?? 0,
      hits: 0,
      ...(options.method ? { method: options.method } : {}),
      ...(options.path ? { path: options.path } : {}),
    };
    this.rules.push(rule);
    return rule;
  }

  /** Requests received (forwarded or answered with a fault). */
  count(): number {
    return this.received.length;
  }

  reset(): void {
    this.rules.length = 0;
    this.received.length = 0;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const rule = this.rules.find(
      (r) =>
        (r.method === undefined || r.method === method) &&
        (r.path === undefined || r.path.test(url)) &&
        (r.skip > 0 || r.hits < r.times),
    );
    let faulted: Fault | undefined;
    if (rule && rule.skip > 0) rule.skip--;
    else if (rule) {
      rule.hits++;
      faulted = rule.fault;
    }
    this.received.push({ method, path: url, ...(faulted ? { fault: faulted.kind } : {}) });
    if (faulted?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (faulted) {
      const payload = Buffer.from(
        JSON.stringify({ code: faulted.status, message: `injected HTTP ${faulted.status}` }),
      );
      res.writeHead(faulted.status, {
        'content-type': 'application/json',
        'content-length': String(payload.length),
        ...faulted.headers,
      });
      res.end(payload);
      return;
    }
    const headers = { ...req.headers, host: this.#target.host };
    const upstream = httpRequest(
      {
        host: this.#target.hostname,
        port: this.#target.port,
        method,
        path: url,
        headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  }
}
