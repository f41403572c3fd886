/** The shape of everything the action was asked to do, as read and validated by `readSettings`. */
import type { Platform } from '../image/platform.js';
import type { Policy, PolicyInputs } from '../policy/index.js';
import type { ImageRepository } from '../registry/reference.js';
import type { SbomFormat } from '../scan/syft.js';
import type { SigningKey } from '../sign/signer.js';
import type { TrustMaterial } from '../sign/verify.js';
import type { DeviceRunSettings } from './device-run.js';

export type BuilderKind = 'buildx' | 'buildah';
/**
 * all: build, gate and publish in one job; build: this job's platforms only (matrix); publish: merge the build jobs;
 * promote: tag an existing signed release (`from`) with this ref's tags after re-scanning it; check: build, scan and
 * gate for a pull request, publish and sign nothing; rescan: re-scan the deployed releases.
 */
export type RunMode = 'all' | 'build' | 'publish' | 'promote' | 'check' | 'rescan';
export type QemuMode = 'auto' | 'always' | 'off';

/** Everything the action was asked to do, read once from the step's inputs and validated. */
export interface Settings {
  mode: RunMode;
  /** mode promote: the tag or digest of the release to promote. */
  from?: string;
  image: ImageRepository;
  /** `host/path` of the image repository, as shown to users. */
  imageName: string;
  context: string;
  /** Path of the Dockerfile/Containerfile. */
  file: string;
  platforms: Platform[];
  builder: BuilderKind;
  buildArgs: Array<[string, string]>;
  labels: Record<string, string>;
  cacheFrom: string[];
  cacheTo: string[];
  target?: string;
  /** Extra tags asked for on top of the release tags. */
  tags: string[];
  /** Registry host the credentials are for (defaults to the image's registry). */
  registry: string;
  registryUsername?: string;
  registryPassword?: string;
  /** PEM file of an extra certificate authority trusted for the registry. */
  registryCaFile?: string;
  /** Registries that may be reached over plain HTTP. Loopback registries always may. */
  insecureRegistries: string[];
  /** How long one registry operation may take, its retries included (ms). */
  registryRetryBudgetMs: number;
  qemu: QemuMode;
  binfmtImage: string;
  /** An existing buildx builder to use (e.g. `default`) instead of creating one. */
  buildxBuilder?: string;
  /** The BuildKit image of the docker-container builder Edgeship creates. */
  buildkitImage: string;
  /** A BuildKit daemon for buildx's remote driver. */
  buildkitEndpoint?: string;
  /** Build secrets `[id, value]`: values reach the builder only through its environment. */
  secrets: Array<[string, string]>;
  /** Build secrets `[id, file]`. */
  secretFiles: Array<[string, string]>;
  /** SSH agent sockets or keys for `RUN --mount=type=ssh` (`default`, `id=path`). */
  ssh: string[];
  /** Named build contexts `[name, value]` (`FROM name`, `COPY --from=name`). */
  buildContexts: Array<[string, string]>;
  /** Extra annotations of every platform manifest (buildx). */
  annotations: Record<string, string>;
  /** Build without the builder's cache. */
  noCache: boolean;
  /** Always pull the base images again. */
  pull: boolean;
  githubToken?: string;
  gate: GateSettings;
  publish: PublishSettings;
  /** Directory for build records (mode build/publish) instead of workflow artifacts. */
  recordsDir?: string;
  /** Days build-record artifacts are kept (a publish job must run within them). */
  recordsRetentionDays: number;
  /** Policy settings as given (the policy is resolved and validated by the policy module). */
  policy: PolicyInputs;
  /** The gate policy those inputs make (defaults ← policy file ← inputs, and the `vex` statements). */
  gatePolicy: Policy;
  /** OpenVEX files of the `vex` input (given to Grype; their statements are in gatePolicy.vex). */
  vexFiles: string[];
  /** `mode: rescan`: the channel tags re-scanned, and how many of the latest releases besides. */
  rescan: { channels: string[]; releases: number };
  /** The GitOps hand-off after a release; undefined when `gitops-repository` is not set. */
  gitops?: GitOpsSettings;
}

/** Where a release is handed to the fleet: one pull request per channel in this repository. */
export interface GitOpsSettings {
  /** `owner/name`, or a git URL ending in `/owner/name(.git)`. */
  repository: string;
  /** Files of the fleet repository whose references to the image are pinned; `{channel}` is replaced. */
  paths: string[];
  /** The branch the pull requests target. */
  branch: string;
  token: string;
}

export type SigningMode = 'keyless' | 'key' | 'off';

/**
 * Where signatures and attestations go: `bundle` (Sigstore bundles as OCI referrers, cosign 3's default),
 * `classic` (cosign's `sha256-<hex>.sig` / `.att` tags, what cosign 2 and containers/image read), or both.
 */
export const SIGNATURE_FORMATS = ['both', 'bundle', 'classic'] as const;
export type SignatureFormat = (typeof SIGNATURE_FORMATS)[number];

/** How the gated release is published, signed and verified. */
export interface PublishSettings {
  signing: SigningMode;
  signatureFormat: SignatureFormat;
  /** PEM private key (signing: key). */
  signingKey?: string;
  signingKeyPassword?: string;
  fulcioUrl?: string;
  rekorUrl?: string;
  /** Timestamp authority; `off` for none. */
  tsaUrl?: string;
  /** trusted_root.json to verify against; default: the Sigstore public-good root through TUF. */
  trustedRootFile?: string;
  /** Expected certificate identity (exact, or a /regex/); default: the identity the run signed with. */
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
  /** `signing: key`: the key, read and decrypted up front. */
  key?: SigningKey;
  /** `certificate-identity` as verification takes it: exact text, or the compiled `/regex/`. */
  expectedIdentity?: string | RegExp;
  /** `trusted-root`, parsed and checked up front. */
  trustMaterial?: TrustMaterial;
  overwrite: boolean;
  allowDowngrade: boolean;
  releaseAssets: 'auto' | 'off';
  /** Store provenance and SBOM bundles as GitHub artifact attestations; `required` fails the release without. */
  githubAttestations: 'auto' | 'off' | 'required';
  /** Kubernetes/K3s/compose files whose references to the image are pinned to the index digest. */
  deployTemplates: string[];
  /** Offline bundles per platform (issue 12); max size splits them into numbered parts. */
  offlineBundles: { mode: 'off' | 'full' | 'delta' | 'both'; compression: 'zstd' | 'gzip'; maxSize?: number };
  /** `device-run`: how devices run the container; carried by the deployment manifest (`run`). */
  deviceRun?: DeviceRunSettings;
}

/** How the supply-chain gate scans. */
export interface GateSettings {
  /** `default`, `path` or a version, per tool. */
  syftVersion: string;
  grypeVersion: string;
  sbomFormats: SbomFormat[];
  /** The max-db-age input as given (e.g. `5d`); validated here. */
  maxDbAge: string;
  /** Where grype downloads its database listing (a mirror); grype's own default when absent. */
  grypeDbUrl?: string;
  scanConcurrency: number;
  scanTimeoutMs: number;
  allowEmptySbom: boolean;
  /** Directory the SBOMs, reports and SARIF files are written to. */
  reportsDir?: string;
}
