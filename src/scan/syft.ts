/**
 * The syft CLI: argv and environment builders (pure) and `runSyft`.
 *
 * `syft scan registry:<repo>@<digest> --platform <os/arch> -o <format>=<file> ...` reads the image
 * straight from the registry by digest (no container runtime), checks it is the requested platform,
 * and writes one file per requested format in a single pass. Registry credentials travel only in the
 * environment (`SYFT_REGISTRY_AUTH_*`, read by syft's registry options), never in argv.
 */
import type { Exec } from '../process/exec.js';
import { describeFailure } from '../process/exec.js';
import { ScanError, scannerExecOptions } from './scanner-run.js';
import type { ScannerRun } from './scanner-run.js';

export type SbomFormat = 'spdx-json' | 'cyclonedx-json' | 'syft-json';

export const SBOM_FORMATS: readonly SbomFormat[] = ['spdx-json', 'cyclonedx-json', 'syft-json'];

export const DEFAULT_SBOM_FORMATS: readonly SbomFormat[] = ['spdx-json'];

export interface SbomOutput {
  format: SbomFormat;
  file: string;
}

export interface SyftScanRequest {
  /** Repository without tag or digest, e.g. `ghcr.io/acme/agent`. */
  image: string;
  /** `sha256:<64 hex>` of the platform manifest that was pushed. */
  digest: string;
  /** OCI platform such as `linux/arm64` or `linux/arm/v7`. */
  platform: string;
  outputs: readonly SbomOutput[];
  /** An explicit config file, so no `.syft.yaml` of the workspace or home directory is read. */
  configFile?: string;
}

export class SyftArgsError extends Error {
  override name = 'SyftArgsError';
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function syftScanArgs(req: SyftScanRequest): string[] {
  if (!DIGEST.test(req.digest)) {
    throw new SyftArgsError(
      `syft scans by digest; "${req.digest}" is not of the form sha256:<64 hex digits>`,
    );
  }
  if (req.image.includes('@') || req.image.trim() === '') {
    throw new SyftArgsError(`syft needs a repository without digest, got "${req.image}"`);
  }
  if (req.outputs.length === 0) {
    throw new SyftArgsError('syft needs at least one SBOM output');
  }
  const args = ['scan', `registry:${req.image}@${req.digest}`, '--platform', req.platform];
  for (const output of req.outputs) args.push('-o', `${output.format}=${output.file}`);
  if (req.configFile) args.push('--config', req.configFile);
  return args;
}

export interface SyftRegistryAccess {
  /** Registry host the credentials are for, e.g. `ghcr.io` or `localhost:5000`. */
  registry: string;
  username?: string;
  password?: string;
  /** PEM file (or directory of them) of an extra CA to trust. */
  caFile?: string;
  /** Reach the registry over plain HTTP. */
  insecureHttp?: boolean;
}

/**
 * Environment for a syft run. Credentials are set only when both user name and password are given
 * (syft ignores one without the other).
 */
export function syftEnvironment(access: SyftRegistryAccess): Record<string, string> {
  const env: Record<string, string> = { SYFT_CHECK_FOR_APP_UPDATE: 'false' };
  if (access.username && access.password) {
    env.SYFT_REGISTRY_AUTH_AUTHORITY = access.registry;
    env.SYFT_REGISTRY_AUTH_USERNAME = access.username;
    env.SYFT_REGISTRY_AUTH_PASSWORD = access.password;
  }
  if (access.caFile) env.SYFT_REGISTRY_CA_CERT = access.caFile;
  if (access.insecureHttp) env.SYFT_REGISTRY_INSECURE_USE_HTTP = 'true';
  return env;
}

export interface SyftRun extends SyftScanRequest, ScannerRun {
  /** The syft executable. */
  syft: string;
  access: SyftRegistryAccess;
}

/** Makes the SBOMs of one platform (one file per format); throws ScanError when syft fails. */
export async function runSyft(exec: Exec, run: SyftRun): Promise<void> {
  const args = syftScanArgs(run);
  run.log.info(`syft ${args.join(' ')}`);
  const result = await exec(run.syft, args, scannerExecOptions(syftEnvironment(run.access), run));
  if (result.exitCode !== 0 || result.failure) {
    throw new ScanError(
      `Syft could not make the SBOM (${describeFailure('syft', result, 5)}). Re-run; if it persists, pin syft-version.`,
    );
  }
}

/** How the `sbom-formats` input is written. */
export const SBOM_FORMATS_FORM = `a comma or newline separated list of ${SBOM_FORMATS.join(', ')}`;

const EXTENSIONS: Record<SbomFormat, string> = {
  'spdx-json': 'spdx.json',
  'cyclonedx-json': 'cdx.json',
  'syft-json': 'syft.json',
};

/** `sbom-linux-arm64.spdx.json`, `sbom-linux-arm-v7.cdx.json`, `sbom-linux-amd64.syft.json`. */
export function sbomFileName(platformSlug: string, format: SbomFormat): string {
  return `sbom-${platformSlug}.${EXTENSIONS[format]}`;
}
