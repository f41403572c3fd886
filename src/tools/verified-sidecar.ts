/**
 * The record Edgeship writes next to a tool it downloaded and verified (`VERIFIED_SIDECAR`), in the directory that
 * goes into the tool cache, and the check that a cached directory still is what was verified: the same archive
 * (and, for a pinned version, the pinned sha256), and an executable with the sha256 recorded then.
 */
import type { ToolName } from './pinned.js';

/** What the check reads: a file's text, and a file's sha256. */
export interface SidecarReads {
  readFile(file: string): Promise<string>;
  sha256File(file: string): Promise<string>;
}

/** The file written next to the executable, in the directory that goes into the tool cache. */
export const VERIFIED_SIDECAR = '.edgeship-verified.json';

/** What the sidecar records about the archive a cached directory was extracted from. */
export interface VerifiedSidecar {
  tool: ToolName;
  version: string;
  /** Release asset name, e.g. `syft_1.52.0_linux_amd64.tar.gz`. */
  archive: string;
  /** sha256 of the archive, which matched the pin (or the release checksums file). */
  archiveSha256: string;
  /** sha256 of the extracted executable. */
  executableSha256: string;
}

const SHA256 = /^[0-9a-f]{64}$/;

function parseSidecar(text: string): VerifiedSidecar | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const { tool, version, archive, archiveSha256, executableSha256 } = v;
  if (
    (tool !== 'syft' && tool !== 'grype') ||
    typeof version !== 'string' ||
    typeof archive !== 'string' ||
    typeof archiveSha256 !== 'string' ||
    !SHA256.test(archiveSha256) ||
    typeof executableSha256 !== 'string' ||
    !SHA256.test(executableSha256)
  ) {
    return undefined;
  }
  return { tool, version, archive, archiveSha256, executableSha256 };
}

/**
 * Checks a tool-cache directory against its sidecar. Returns the executable's sha256 when it can be
 * trusted, or the reason it cannot.
 */
export async function checkCached(
  deps: SidecarReads,
  dir: string,
  expected: { tool: ToolName; version: string; archive: string; archiveSha256?: string },
): Promise<{ ok: true; sha256: string } | { ok: false; reason: string }> {
  let text: string;
  try {
    text = await deps.readFile(`${dir}/${VERIFIED_SIDECAR}`);
  } catch {
    return { ok: false, reason: `it has no ${VERIFIED_SIDECAR} recording a verified download` };
  }
  const sidecar = parseSidecar(text);
  if (!sidecar) return { ok: false, reason: `its ${VERIFIED_SIDECAR} is not valid` };
  if (
    sidecar.tool !== expected.tool ||
    sidecar.version !== expected.version ||
    sidecar.archive !== expected.archive
  ) {
    return {
      ok: false,
      reason: `its ${VERIFIED_SIDECAR} describes ${sidecar.archive} (${sidecar.tool} ${sidecar.version}), not ${expected.archive}`,
    };
  }
  if (expected.archiveSha256 !== undefined && sidecar.archiveSha256 !== expected.archiveSha256) {
    return {
      ok: false,
      reason: expected.archiveSha256
        ? `its ${VERIFIED_SIDECAR} records archive sha256 ${sidecar.archiveSha256}, not the pinned ${expected.archiveSha256}`
        : `Edgeship pins no sha256 for ${expected.archive}`,
    };
  }
  let actual: string;
  try {
    actual = (await deps.sha256File(`${dir}/${expected.tool}`)).toLowerCase();
  } catch (error) {
    return {
      ok: false,
      reason: `its ${expected.tool} executable could not be read (${describeError(error)})`,
    };
  }
  if (actual !== sidecar.executableSha256) {
    return {
      ok: false,
      reason: `its ${expected.tool} executable has sha256 ${actual}, but ${sidecar.executableSha256} was recorded when it was verified`,
    };
  }
  return { ok: true, sha256: actual };
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
