/**
 * The OpenVEX document a release ships per platform: one statement for every finding the gate let through with a
 * decision. A policy waiver is accepted risk, not a claim that the image is unaffected: it is stated as `affected`
 * with the waiver's reason and expiry as the action statement. A statement of the `vex` input is carried over
 * with its status, justification and statements. Pure: the caller signs and attaches it.
 */
import type { PlatformVerdict } from './evaluate.js';
import { OPENVEX_CONTEXT } from './vex.js';

export interface VexDocumentInput {
  verdict: PlatformVerdict;
  /** `host/path` of the image repository and the platform image's digest: the product. */
  imageName: string;
  digest: string;
  /** The workflow run that made the release (the document's id is made from it). */
  workflowRun: string;
  now: Date;
}

/** `pkg:oci/agent@sha256%3A…?repository_url=ghcr.io/acme/agent`, the image as a package URL. */
export function imagePurl(imageName: string, digest: string): string {
  const name = imageName.split('/').pop()!;
  return `pkg:oci/${name}@${encodeURIComponent(digest)}?repository_url=${imageName}`;
}

/** The platform's OpenVEX document; undefined when the gate took no decision on any of its findings. */
export function openVexDocument(input: VexDocumentInput): Record<string, unknown> | undefined {
  const { verdict, now } = input;
  const purl = imagePurl(input.imageName, input.digest);
  const product = { '@id': purl, identifiers: { purl } };
  const timestamp = now.toISOString();
  const statements = new Map<string, Record<string, unknown>>();
  for (const use of verdict.waived) {
    const w = use.waiver;
    statements.set(`${use.matchId}\0waiver${w.index}`, {
      vulnerability: { name: use.matchId },
      products: [product],
      status: 'affected',
      action_statement:
        `Accepted by the release policy until ${w.expires} (waivers[${w.index}]` +
        `${w.package ? `, package ${w.package}` : ''}): ${w.reason}`,
      action_statement_timestamp: timestamp,
    });
  }
  for (const use of verdict.vex ?? []) {
    const st = use.statement;
    statements.set(`${use.matchId}\0${st.file}#${st.index}`, {
      vulnerability: {
        name: st.vulnerability.name,
        ...(st.vulnerability.aliases.length ? { aliases: st.vulnerability.aliases } : {}),
      },
      products: [product],
      status: st.status,
      ...(st.justification ? { justification: st.justification } : {}),
      ...(st.impactStatement ? { impact_statement: st.impactStatement } : {}),
      ...(st.actionStatement ? { action_statement: st.actionStatement } : {}),
      status_notes:
        `from the vex input ${st.file} (statements[${st.index}]), for ${use.packageName} ${use.packageVersion}`.trim(),
    });
  }
  if (statements.size === 0) return undefined;
  return {
    '@context': OPENVEX_CONTEXT,
    '@id': `${input.workflowRun}#openvex-${input.digest}`,
    author: 'Edgeship release gate',
    timestamp,
    version: 1,
    tooling: 'edgeship',
    statements: [...statements.values()],
  };
}
