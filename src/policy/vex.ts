/**
 * OpenVEX documents given to the gate (`vex` input): read and checked against the OpenVEX v0.2.0 specification
 * (errors name the file and the field path), and the question the gate asks of them: does a statement say this
 * match does not affect this image? Only `not_affected` with a justification does; `affected`,
 * `under_investigation` and `fixed` never waive a match.
 */
import type { ErrorObject } from 'ajv';
import { lazyValidator } from '../validation/ajv.js';
import {
  collectSchemaProblems,
  describeValue,
  formatPath,
  problemPath,
} from '../validation/schema-messages.js';

export const OPENVEX_CONTEXT = 'https://openvex.dev/ns/v0.2.0';
export const VEX_STATUSES = ['not_affected', 'affected', 'fixed', 'under_investigation'] as const;
export const VEX_JUSTIFICATIONS = [
  'component_not_present',
  'vulnerable_code_not_present',
  'vulnerable_code_not_in_execute_path',
  'vulnerable_code_cannot_be_controlled_by_adversary',
  'inline_mitigations_already_exist',
] as const;
export type VexStatus = (typeof VEX_STATUSES)[number];

/** One statement of a given document, as the gate and the OpenVEX output read it. */
export interface VexStatement {
  /** The file it came from and its position there, for messages. */
  file: string;
  index: number;
  vulnerability: { name: string; aliases: string[] };
  /** Product identifiers (`@id` and purl), each with its subcomponents' identifiers; empty: every product. */
  products: Array<{ ids: string[]; subcomponents: string[][] }>;
  status: VexStatus;
  justification?: string;
  impactStatement?: string;
  actionStatement?: string;
}

export class VexError extends Error {
  override name = 'VexError';
}

const component = {
  type: 'object',
  anyOf: [{ required: ['@id'] }, { required: ['identifiers'] }],
  properties: {
    '@id': { type: 'string', minLength: 1 },
    identifiers: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

const SCHEMA = {
  type: 'object',
  required: ['@context', '@id', 'author', 'timestamp', 'statements'],
  properties: {
    '@context': { type: 'string', pattern: '^https://openvex\\.dev/ns' },
    '@id': { type: 'string', minLength: 1 },
    author: { type: 'string', minLength: 1 },
    timestamp: { type: 'string', format: 'date-time' },
    version: { type: 'integer', minimum: 1 },
    statements: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['vulnerability', 'status'],
        properties: {
          vulnerability: {
            type: 'object',
            required: ['name'],
            properties: {
              name: { type: 'string', minLength: 1 },
              aliases: { type: 'array', items: { type: 'string' } },
            },
          },
          products: {
            type: 'array',
            items: {
              ...component,
              properties: { ...component.properties, subcomponents: { type: 'array', items: component } },
            },
          },
          status: { enum: VEX_STATUSES },
          justification: { enum: VEX_JUSTIFICATIONS },
          impact_statement: { type: 'string' },
          action_statement: { type: 'string' },
        },
        allOf: [
          {
            if: { properties: { status: { const: 'not_affected' } } },
            then: { required: ['justification'] },
          },
          { if: { properties: { status: { const: 'affected' } } }, then: { required: ['action_statement'] } },
        ],
      },
    },
  },
};

const validator = lazyValidator('openvex', SCHEMA, { strictRequired: false });

/** Reads one OpenVEX document; throws VexError naming the file and each field that is wrong. */
export function parseOpenVex(text: string, file: string): VexStatement[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new VexError(`${file} is not JSON (${(error as Error).message}); give an OpenVEX document`);
  }
  const problems = collectSchemaProblems(validator(), doc, translate);
  if (problems.length) {
    const lines = problems.map((p) => `${formatPath(p.path)}: ${p.message}`);
    throw new VexError(`${file} is not a valid OpenVEX document:\n- ${lines.join('\n- ')}`);
  }
  const statements = (doc as { statements: Array<Record<string, unknown>> }).statements;
  return statements.map((s, index) => readStatement(s, file, index));
}

function translate(
  error: ErrorObject,
  root: unknown,
): { path: Array<string | number>; message: string } | undefined {
  const path = problemPath(error.instancePath, root);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required': {
      const missing = String(params.missingProperty);
      const status = (error.data as { status?: unknown } | undefined)?.status;
      const why =
        missing === 'justification' || missing === 'action_statement' ? ` (status ${String(status)})` : '';
      return { path: [...path, missing], message: `is missing${why}` };
    }
    case 'enum':
      return {
        path,
        message: `is ${describeValue(error.data)}, expected one of ${(params.allowedValues as string[]).join(', ')}`,
      };
    case 'if':
    case 'anyOf':
      return error.keyword === 'anyOf' ? { path, message: 'needs an @id or identifiers' } : undefined;
    default:
      return { path, message: `is ${describeValue(error.data, 60)}: ${error.message ?? 'not valid'}` };
  }
}

function ids(c: Record<string, unknown>): string[] {
  const identifiers = (c.identifiers ?? {}) as Record<string, string>;
  return [c['@id'], ...Object.values(identifiers)].filter((v): v is string => typeof v === 'string');
}

function readStatement(s: Record<string, unknown>, file: string, index: number): VexStatement {
  const v = s.vulnerability as { name: string; aliases?: string[] };
  const products = ((s.products ?? []) as Array<Record<string, unknown>>).map((p) => ({
    ids: ids(p),
    subcomponents: ((p.subcomponents ?? []) as Array<Record<string, unknown>>).map(ids),
  }));
  return {
    file,
    index,
    vulnerability: { name: v.name, aliases: v.aliases ?? [] },
    products,
    status: s.status as VexStatus,
    ...(typeof s.justification === 'string' ? { justification: s.justification } : {}),
    ...(typeof s.impact_statement === 'string' ? { impactStatement: s.impact_statement } : {}),
    ...(typeof s.action_statement === 'string' ? { actionStatement: s.action_statement } : {}),
  };
}

/** What a statement is matched against: the finding and the platform image it was found in. */
export interface VexSubject {
  id: string;
  relatedIds: readonly string[];
  packageName: string;
  packageVersion: string;
  /** `host/path` of the image repository and the platform image's digest. */
  imageName: string;
  digest?: string;
}

/** Whether the statement is about this vulnerability in this image (and package, when it names subcomponents). */
export function vexApplies(statement: VexStatement, subject: VexSubject): boolean {
  const names = [statement.vulnerability.name, ...statement.vulnerability.aliases].map((n) =>
    n.toLowerCase(),
  );
  const found = [subject.id, ...subject.relatedIds].map((n) => n.toLowerCase());
  if (!names.some((n) => found.includes(n))) return false;
  if (statement.products.length === 0) return true;
  return statement.products.some(
    (p) =>
      p.ids.some((id) => namesImage(id, subject)) &&
      (p.subcomponents.length === 0 ||
        p.subcomponents.some((c) => c.some((id) => namesPackage(id, subject)))),
  );
}

/** `pkg:oci/agent@sha256%3A…?repository_url=ghcr.io/acme/agent`, `ghcr.io/acme/agent[:tag|@digest]`. */
function namesImage(id: string, subject: VexSubject): boolean {
  const last = subject.imageName.split('/').pop()!;
  if (id.startsWith('pkg:oci/')) {
    const url = new URL(id.replace(/^pkg:oci\//, 'purl://x/'));
    const [name, version] = decodeURIComponent(url.pathname.slice(1)).split('@');
    const repository = url.searchParams.get('repository_url');
    if (name !== last || (repository && repository !== subject.imageName)) return false;
    return !version || version === subject.digest;
  }
  const at = id.indexOf('@');
  const name = at === -1 ? id.replace(/:[^/:]+$/, '') : id.slice(0, at);
  if (name !== subject.imageName) return false;
  return at === -1 || id.slice(at + 1) === subject.digest;
}

/** `pkg:deb/debian/openssl@3.0.11-1` or a bare package name. */
function namesPackage(id: string, subject: VexSubject): boolean {
  if (!id.startsWith('pkg:')) return id === subject.packageName;
  const [path, version] = decodeURIComponent(id.replace(/[?#].*$/, '')).split('@');
  const name = path!.split('/').pop();
  return name === subject.packageName && (!version || version === subject.packageVersion);
}
