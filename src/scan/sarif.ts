/**
 * SARIF from grype, prepared for `github/codeql-action/upload-sarif`.
 *
 * Code scanning keeps one analysis per category; `runs[].automationDetails.id` of the form
 * `<category>/` (trailing slash: category only, no run id) sets it. Each platform gets its own
 * category (`edgeship/linux-arm64/`), so uploading the arm64 results does not replace the amd64 ones.
 */
import { isRecord } from '../validation/json.js';

export class SarifError extends Error {
  override name = 'SarifError';
}

type Json = Record<string, unknown>;

export interface SarifLog {
  version: '2.1.0';
  runs: Json[];
  [key: string]: unknown;
}

/** Parses and checks a SARIF 2.1.0 log (version, runs, a tool driver name, results arrays). */
export function parseSarif(text: string): SarifLog {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new SarifError(
      `The SARIF report is not valid JSON (${(error as Error).message}); it is truncated or corrupted`,
    );
  }
  if (!isRecord(doc)) throw new SarifError('The SARIF report is not a JSON object');
  if (doc.version !== '2.1.0') {
    throw new SarifError(
      `The SARIF report has version ${JSON.stringify(doc.version)}; GitHub code scanning needs SARIF 2.1.0`,
    );
  }
  if (!Array.isArray(doc.runs)) throw new SarifError('The SARIF report has no "runs" array');
  doc.runs.forEach((run, index) => {
    if (!isRecord(run)) throw new SarifError(`SARIF run ${index} is not an object`);
    const driver = isRecord(run.tool) && isRecord(run.tool.driver) ? run.tool.driver : undefined;
    if (typeof driver?.name !== 'string') throw new SarifError(`SARIF run ${index} has no tool.driver.name`);
    if (run.results !== undefined && run.results !== null && !Array.isArray(run.results)) {
      throw new SarifError(`SARIF run ${index} has "results" that is not an array`);
    }
  });
  return doc as SarifLog;
}

/** `edgeship/linux-arm64/` for the platform slug `linux-arm64`. */
export function sarifCategory(platformSlug: string, prefix = 'edgeship'): string {
  return `${prefix}/${platformSlug}/`;
}

/**
 * Sets `automationDetails.id` of every run to `category` (a trailing `/` is added if missing) and
 * returns the SARIF text. Other automationDetails fields are kept.
 */
export function categorizeSarif(text: string, category: string): string {
  const trimmed = category.trim();
  if (trimmed === '' || trimmed === '/') throw new SarifError('A SARIF category must not be empty');
  const id = trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
  const log = parseSarif(text);
  for (const run of log.runs) {
    const existing = isRecord(run.automationDetails) ? run.automationDetails : {};
    run.automationDetails = { ...existing, id };
  }
  return `${JSON.stringify(log, null, 2)}\n`;
}
