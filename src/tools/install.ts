/**
 * Installs syft or grype from their GitHub releases, verified by sha256 before anything is extracted.
 *
 * - `default` (or empty): the version pinned in `pinned.ts`, verified against the hash in source.
 * - `1.2.3` / `v1.2.3`: that release, verified against the release's own checksums file, with a
 *   warning that it is not pinned (the same server serves both, so this guards against corruption,
 *   not against a compromised release).
 * - `path`: the binary already on PATH, used only when asked for.
 *
 * A tool-cache hit is used only when the sidecar written at install time (`VERIFIED_SIDECAR`, next to the
 * executable; see verified-sidecar.ts) says the directory came from an archive that passed the same verification,
 * and the executable still has the sha256 recorded there; otherwise the release is downloaded and verified again.
 *
 * Every side effect (download, extraction, tool cache, file reads, PATH lookup, logging) is injected.
 */
import { PINNED_TOOLS } from './pinned.js';
import type { PinTable, ToolName } from './pinned.js';
import { checkCached, VERIFIED_SIDECAR, type VerifiedSidecar } from './verified-sidecar.js';

export type { ToolName } from './pinned.js';

export interface InstallRequest {
  tool: ToolName;
  /** The `syft-version` / `grype-version` input: `default`, `path`, or a version such as `1.2.3` or `v1.2.3`. */
  version: string;
  platform: NodeJS.Platform;
  /** Node's `process.arch` (`x64`, `arm64`); the Go names `amd64`/`arm64` are accepted too. */
  arch: string;
}

export interface InstallDeps {
  /** Downloads a URL to a local file and returns its path (backed by tool-cache's downloadTool, which retries). */
  download(url: string): Promise<string>;
  /** Extracts a .tar.gz and returns the directory. */
  extractTar(file: string): Promise<string>;
  /** Stores a directory in the tool cache and returns the cached directory. */
  cacheDir(dir: string, tool: string, version: string, arch: string): Promise<string>;
  /** tool-cache `find`: the cached directory, or '' when absent. */
  find(tool: string, version: string, arch: string): string;
  readFile(file: string): Promise<string>;
  /**
   * Writes a UTF-8 file (real deps provide it). Without it no verification sidecar is written, so
   * tool-cache hits can never be verified and every install downloads again.
   */
  writeFile?(file: string, text: string): Promise<void>;
  sha256File(file: string): Promise<string>;
  /** The absolute path of an executable on PATH, or undefined. */
  which(name: string): Promise<string | undefined>;
  /** Optional existence check of the extracted executable (real deps provide it). */
  isFile?(file: string): Promise<boolean>;
  log: { info(message: string): void; warning(message: string): void };
  /** Release download base; `/v<version>/<asset>` is appended. Default `https://github.com/anchore/<tool>/releases/download`. */
  baseUrl?: string;
}

export interface InstalledTool {
  /** The executable. */
  path: string;
  /** The installed version (no `v`), or `path` when the binary on PATH was used. */
  version: string;
  /**
   * True when the archive was verified against the hash table in source (for a cache hit: the cached
   * executable matches the sidecar of an archive that was).
   */
  pinned: boolean;
  source: 'cache' | 'download' | 'path';
}

export class ToolInstallError extends Error {
  override name = 'ToolInstallError';
}

/** The action input that selects the version of `tool`. */
export function versionInputName(tool: ToolName): string {
  return `${tool}-version`;
}

const VERSION_FORM = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/;

export type VersionChoice = { kind: 'default' } | { kind: 'path' } | { kind: 'version'; version: string };

/** Parses a `<tool>-version` input; throws naming the input when the value is not understood. */
export function parseVersionInput(tool: ToolName, raw: string): VersionChoice {
  const value = raw.trim();
  if (value === '' || value.toLowerCase() === 'default') return { kind: 'default' };
  if (value.toLowerCase() === 'path') return { kind: 'path' };
  const match = VERSION_FORM.exec(value);
  if (!match) {
    throw new ToolInstallError(
      `Input "${versionInputName(tool)}": "${raw}" is not valid; expected default, path, or a release version such as 1.2.3 or v1.2.3`,
    );
  }
  return { kind: 'version', version: match[1]! };
}

/** The Go OS/arch names used in release asset names, or undefined for unsupported hosts. */
export function releaseTarget(
  platform: NodeJS.Platform,
  arch: string,
): { os: 'linux' | 'darwin'; arch: 'amd64' | 'arm64' } | undefined {
  const os = platform === 'linux' ? 'linux' : platform === 'darwin' ? 'darwin' : undefined;
  const goArch = arch === 'x64' || arch === 'amd64' ? 'amd64' : arch === 'arm64' ? 'arm64' : undefined;
  return os && goArch ? { os, arch: goArch } : undefined;
}

/** `syft_1.2.3_linux_arm64.tar.gz` (the version may be given with or without `v`). */
export function archiveName(
  tool: ToolName,
  version: string,
  platform: NodeJS.Platform,
  arch: string,
): string {
  const target = releaseTarget(platform, arch);
  if (!target) {
    throw new ToolInstallError(
      `${tool} has no release archive for ${platform}/${arch}; Edgeship downloads ${tool} for Linux and macOS on x64 and arm64. ` +
        `Install ${tool} on the runner yourself and set ${versionInputName(tool)}: path`,
    );
  }
  return `${tool}_${version.replace(/^v/, '')}_${target.os}_${target.arch}.tar.gz`;
}

export function checksumsFileName(tool: ToolName, version: string): string {
  return `${tool}_${version.replace(/^v/, '')}_checksums.txt`;
}

/**
 * Parses a goreleaser/sha256sum checksums file (`<sha256>  <name>`, optionally `*<name>` for binary
 * mode) into name → lowercase sha256. Lines that are not of that form are ignored.
 */
export function parseChecksums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const match = /^([0-9a-fA-F]{64})\s+\*?(\S.*?)\s*$/.exec(line.trim());
    if (match) sums.set(match[2]!, match[1]!.toLowerCase());
  }
  return sums;
}

export function releaseBaseUrl(tool: ToolName, baseUrl?: string): string {
  return (baseUrl ?? `https://github.com/anchore/${tool}/releases/download`).replace(/\/+$/, '');
}

function cacheArch(arch: string): string {
  return releaseTarget('linux', arch)?.arch ?? arch;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The tool to run: from PATH (`<tool>-version: path`), from the tool cache when its verification record still
 * matches, or downloaded and verified against the pinned sha256 (or, for another version, the release's checksums
 * file) and cached.
 */
export async function installTool(
  request: InstallRequest,
  deps: InstallDeps,
  pins: PinTable = PINNED_TOOLS,
): Promise<InstalledTool> {
  const { tool } = request;
  const input = versionInputName(tool);
  const choice = parseVersionInput(tool, request.version);
  if (choice.kind === 'path') return fromPath(tool, input, deps);
  const pin = pins[tool];
  const version = choice.kind === 'default' ? pin.version : choice.version;
  const wanted: WantedTool = {
    tool,
    input,
    version,
    pin,
    pinned: version === pin.version,
    asset: archiveName(tool, version, request.platform, request.arch),
    arch: cacheArch(request.arch),
  };
  if (!wanted.pinned) {
    deps.log.warning(
      `${tool} ${version} is not the version pinned in Edgeship (${pin.version}): it is verified only against the ` +
        `release's own checksums file, downloaded from the same place. Use ${input}: default for the pinned, ` +
        `hash-verified release.`,
    );
  }
  return (await fromCache(wanted, deps)) ?? downloadVerified(wanted, deps);
}

/** One version of one tool for this runner, as `installTool` looks for it. */
interface WantedTool {
  tool: ToolName;
  /** The `<tool>-version` input. */
  input: string;
  version: string;
  pin: PinTable[ToolName];
  /** The version is the one Edgeship pins (its archive's sha256 is in the source). */
  pinned: boolean;
  /** The release archive for this runner. */
  asset: string;
  arch: string;
}

/** `<tool>-version: path`: the tool found on PATH, as it is. */
async function fromPath(tool: ToolName, input: string, deps: InstallDeps): Promise<InstalledTool> {
  const found = await deps.which(tool);
  if (!found) {
    throw new ToolInstallError(
      `Input "${input}" is "path" but no ${tool} executable was found on PATH. ` +
        `Install ${tool} in an earlier step, or set ${input}: default to let Edgeship download the pinned version`,
    );
  }
  deps.log.info(`Using ${tool} from PATH: ${found} (${input}: path; its version and origin are not checked)`);
  return { path: found, version: 'path', pinned: false, source: 'path' };
}

/** The tool cache's copy, when its verification record still matches it; undefined otherwise (warned). */
async function fromCache(wanted: WantedTool, deps: InstallDeps): Promise<InstalledTool | undefined> {
  const { tool, version, pinned, asset } = wanted;
  const cached = deps.find(tool, version, wanted.arch);
  if (!cached) return undefined;
  const executable = `${cached}/${tool}`;
  const check = await checkCached(deps, cached, {
    tool,
    version,
    archive: asset,
    // A pinned version with no hash for this asset can never match ('' is not a sha256).
    archiveSha256: pinned ? (wanted.pin.archives[asset] ?? '') : undefined,
  });
  if (check.ok) {
    deps.log.info(
      `Using ${tool} ${version} from the tool cache: ${executable} (sha256 ${check.sha256} matches the ` +
        `${pinned ? 'pinned' : 'checksums-file'}-verified download of ${asset})`,
    );
    return { path: executable, version, pinned, source: 'cache' };
  }
  deps.log.warning(
    `The cached copy of ${tool} ${version} at ${executable} could not be verified: ${check.reason}. ` +
      `Not using it; downloading and verifying ${asset} again.`,
  );
  return undefined;
}

/** The archive's expected sha256: pinned in the source, or listed in the release's checksums file. */
async function expectedSha256(wanted: WantedTool, base: string, deps: InstallDeps): Promise<string> {
  const { tool, version, input, pin, asset } = wanted;
  if (wanted.pinned) {
    const expected = pin.archives[asset];
    if (!expected) {
      throw new ToolInstallError(
        `Edgeship pins no sha256 for ${asset} (${tool} ${version}); it pins ${Object.keys(pin.archives).join(', ')}. ` +
          `Install ${tool} on the runner and set ${input}: path`,
      );
    }
    return expected;
  }
  const sumsName = checksumsFileName(tool, version);
  const sumsFile = await downloadOrExplain(deps, `${base}/${sumsName}`, tool, input, version);
  const sums = parseChecksums(await deps.readFile(sumsFile));
  const expected = sums.get(asset);
  if (!expected) {
    const zip = asset.replace(/\.tar\.gz$/, '.zip');
    const hint = sums.has(zip)
      ? ` That release ships ${zip} instead, which Edgeship does not unpack; choose a newer ${tool} version.`
      : '';
    throw new ToolInstallError(
      `${sumsName} lists no ${asset}, so ${tool} ${version} cannot be verified for this runner.${hint} ` +
        `Set ${input}: default to use the pinned ${pin.version}`,
    );
  }
  return expected;
}

/** Downloads the archive, refuses it unless its sha256 is the expected one, unpacks it and caches it. */
async function downloadVerified(wanted: WantedTool, deps: InstallDeps): Promise<InstalledTool> {
  const { tool, version, input, pinned, asset } = wanted;
  const base = `${releaseBaseUrl(tool, deps.baseUrl)}/v${version}`;
  const expected = await expectedSha256(wanted, base, deps);
  const archive = await downloadOrExplain(deps, `${base}/${asset}`, tool, input, version);
  const actual = (await deps.sha256File(archive)).toLowerCase();
  if (actual !== expected) {
    throw new ToolInstallError(
      `Checksum mismatch for ${asset}: expected sha256 ${expected} (${pinned ? 'pinned in Edgeship' : `from ${checksumsFileName(tool, version)}`}), ` +
        `got ${actual}; refusing to run it. The download was corrupted or the release asset is not the one that was published; ` +
        `re-run the job, and if it persists report it and use ${input}: path with a ${tool} you trust`,
    );
  }
  deps.log.info(`Verified ${asset}: sha256 ${actual}${pinned ? ' (pinned)' : ''}`);
  const extracted = await deps.extractTar(archive);
  if (deps.isFile && !(await deps.isFile(`${extracted}/${tool}`))) {
    throw new ToolInstallError(
      `${asset} passed its checksum but has no ${tool} executable at its top level; set ${input}: path to use your own ${tool}`,
    );
  }
  if (deps.writeFile) {
    const sidecar: VerifiedSidecar = {
      tool,
      version,
      archive: asset,
      archiveSha256: actual,
      executableSha256: (await deps.sha256File(`${extracted}/${tool}`)).toLowerCase(),
    };
    await deps.writeFile(`${extracted}/${VERIFIED_SIDECAR}`, `${JSON.stringify(sidecar, null, 2)}\n`);
  }
  const dir = await deps.cacheDir(extracted, tool, version, wanted.arch);
  return { path: `${dir}/${tool}`, version, pinned, source: 'download' };
}

async function downloadOrExplain(
  deps: InstallDeps,
  url: string,
  tool: ToolName,
  input: string,
  version: string,
): Promise<string> {
  try {
    return await deps.download(url);
  } catch (error) {
    const status = describeError(error).replace(/\.$/, '');
    const reason = /\b404\b/.test(status)
      ? ` The release ${tool} v${version} may not exist or may not publish this file.`
      : ' The download was retried and still failed; the release host may be unavailable, so re-running the job later may help.';
    throw new ToolInstallError(
      `Could not download ${url}: ${status}.${reason} ` +
        `To proceed, set ${input} to a release version that can be downloaded (default is the pinned, hash-verified one), ` +
        `or install ${tool} on the runner in an earlier step and set ${input}: path`,
    );
  }
}
