/**
 * The JSON schema of a policy file and the translation of ajv's errors into "file: path: what is wrong" lines.
 * Every leaf has a `description` that is the expected form, used verbatim in messages ("must be <description>").
 */
import type { ErrorObject } from 'ajv';
import { lazyValidator, succeeds } from '../validation/ajv.js';
import { parsePlatform } from '../image/platform.js';
import { parseSize } from './size.js';
import { didYouMean } from './suggest.js';
import {
  collectSchemaProblems,
  describeValue,
  problemPath,
  type SchemaProblem as BaseSchemaProblem,
} from '../validation/schema-messages.js';

export { describeValue, formatPath } from '../validation/schema-messages.js';

export const API_VERSION = 'edgeship/v1';
export const KIND = 'Policy';
export const FAIL_ON_VALUES = ['negligible', 'low', 'medium', 'high', 'critical', 'none'] as const;
export const CHECK_MODES = ['fail', 'warn', 'off'] as const;
export const SEVERITY_KEYS = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'] as const;

export type FailOn = (typeof FAIL_ON_VALUES)[number];
export type CheckMode = (typeof CHECK_MODES)[number];
export type SeverityKey = (typeof SEVERITY_KEYS)[number];

/** The rule keys a file can set at the top level and per platform. */
export const RULE_KEYS = ['failOn', 'max', 'onlyFixed', 'failOnKev', 'epssThreshold', 'edge'] as const;
export const EDGE_KEYS = ['maxImageSize', 'imageSize', 'nonRoot', 'healthcheck'] as const;

/** The shape of a policy file once it passed the schema. */
export interface RawRules {
  failOn?: string;
  max?: Partial<Record<SeverityKey, number | null>>;
  onlyFixed?: boolean;
  failOnKev?: boolean;
  epssThreshold?: number | null;
  edge?: {
    maxImageSize?: string | number | null;
    imageSize?: string;
    nonRoot?: string;
    healthcheck?: string;
  };
}
export interface RawWaiver {
  id: string;
  package?: string;
  platforms?: string[];
  reason: string;
  expires: string;
}
export interface RawPolicyFile extends RawRules {
  apiVersion: string;
  kind: string;
  platforms?: Record<string, RawRules>;
  waivers?: RawWaiver[];
}

const FORM_FAIL_ON = `one of ${FAIL_ON_VALUES.join(', ')}`;
const FORM_CHECK = `one of ${CHECK_MODES.join(', ')}`;
const FORM_SIZE = 'a size such as 150MB, 150 MiB, 1.5GB or a number of bytes (or null for no limit)';
const FORM_DATE = 'a date (YYYY-MM-DD)';

const checkMode = { type: 'string', format: 'check-mode', description: FORM_CHECK };
const cap = { type: ['integer', 'null'], minimum: 0, description: 'a whole number ≥ 0, or null for no cap' };

function rulesSchema(): Record<string, unknown> {
  return {
    failOn: { type: 'string', format: 'fail-on', description: FORM_FAIL_ON },
    max: {
      type: 'object',
      description: `a mapping of severities (${SEVERITY_KEYS.join(', ')}) to caps`,
      additionalProperties: false,
      properties: Object.fromEntries(SEVERITY_KEYS.map((k) => [k, cap])),
    },
    onlyFixed: { type: 'boolean', description: 'true or false' },
    failOnKev: { type: 'boolean', description: 'true or false' },
    epssThreshold: {
      type: ['number', 'null'],
      minimum: 0,
      maximum: 1,
      description: 'a number from 0 to 1 (e.g. 0.5), or null',
    },
    edge: {
      type: 'object',
      description: `a mapping with ${EDGE_KEYS.join(', ')}`,
      additionalProperties: false,
      properties: {
        maxImageSize: {
          type: ['string', 'integer', 'null'],
          format: 'size',
          minimum: 1,
          description: FORM_SIZE,
        },
        imageSize: checkMode,
        nonRoot: checkMode,
        healthcheck: checkMode,
      },
    },
  };
}

const SCHEMA = {
  type: 'object',
  description: `a mapping with apiVersion: ${API_VERSION} and kind: ${KIND}`,
  required: ['apiVersion', 'kind'],
  additionalProperties: false,
  properties: {
    apiVersion: { type: 'string', const: API_VERSION, description: `"${API_VERSION}"` },
    kind: { type: 'string', const: KIND, description: `"${KIND}"` },
    ...rulesSchema(),
    platforms: {
      type: 'object',
      description: 'a mapping of platforms (such as linux/arm/v7) to rule overrides',
      additionalProperties: {
        type: 'object',
        description: `a mapping of rule overrides (${RULE_KEYS.join(', ')})`,
        additionalProperties: false,
        properties: rulesSchema(),
      },
    },
    waivers: {
      type: 'array',
      description: 'a list of waivers',
      items: {
        type: 'object',
        description: 'a waiver mapping with id, reason and expires',
        required: ['id', 'reason', 'expires'],
        additionalProperties: false,
        properties: {
          id: { type: 'string', pattern: '\\S', description: 'a vulnerability id such as CVE-2024-1234' },
          package: { type: 'string', pattern: '\\S', description: 'a package name' },
          platforms: {
            type: 'array',
            minItems: 1,
            description: 'a non-empty list of platforms',
            items: { type: 'string', format: 'platform', description: 'a platform such as linux/arm64' },
          },
          reason: {
            type: 'string',
            pattern: '\\S',
            description: 'a non-empty text saying why the risk is accepted',
          },
          expires: { type: 'string', format: 'date', description: FORM_DATE },
        },
      },
    },
  },
} as const;

const validate = lazyValidator('policy', SCHEMA, {
  formats: {
    'fail-on': (s) => (FAIL_ON_VALUES as readonly string[]).includes(s.trim().toLowerCase()),
    'check-mode': (s) => (CHECK_MODES as readonly string[]).includes(s.trim().toLowerCase()),
    size: (s) => succeeds(() => parseSize(s)),
    platform: (s) => succeeds(() => parsePlatform(s)),
  },
});

/** A problem at a path of the document (segments as in the data: keys and array indexes). */
export interface SchemaProblem extends BaseSchemaProblem {
  /** The path points at a key (an unknown key) rather than a value. */
  atKey?: boolean;
}

const FORMAT_CANDIDATES: Record<string, readonly string[]> = {
  'fail-on': FAIL_ON_VALUES,
  'check-mode': CHECK_MODES,
};

function translate(error: ErrorObject, root: unknown): SchemaProblem {
  const path = problemPath(error.instancePath, root);
  const parent = (error.parentSchema ?? {}) as { description?: string; properties?: Record<string, unknown> };
  const expected = parent.description ?? 'valid';
  const got = describeValue(error.data);
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String((error.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys(parent.properties ?? {});
      const inOverride = path.length === 2 && path[0] === 'platforms';
      const hint =
        inOverride && (key === 'waivers' || key === 'platforms' || key === 'apiVersion' || key === 'kind')
          ? `; a platform override can only set ${allowed.join(', ')}`
          : didYouMean(key, allowed) || `; allowed keys here: ${allowed.join(', ')}`;
      return { path: [...path, key], atKey: true, message: `unknown key${hint}` };
    }
    case 'required': {
      const key = String((error.params as { missingProperty: string }).missingProperty);
      const child = (parent.properties?.[key] ?? {}) as { description?: string };
      return { path: [...path, key], message: `is required; expected ${child.description ?? 'a value'}` };
    }
    case 'const':
      return { path, message: `must be ${expected}; got ${got}` };
    case 'format': {
      const format = String((error.params as { format: string }).format);
      if (format === 'platform' && typeof error.data === 'string') {
        try {
          parsePlatform(error.data);
        } catch (platformError) {
          return { path, message: `is not a platform: ${(platformError as Error).message}` };
        }
      }
      const candidates = FORMAT_CANDIDATES[format];
      const hint = candidates && typeof error.data === 'string' ? didYouMean(error.data, candidates) : '';
      return { path, message: `must be ${expected}; got ${got}${hint}` };
    }
    case 'pattern':
    case 'minLength':
      return { path, message: `must be ${expected}; got ${got}` };
    case 'minItems':
      return { path, message: `must be ${expected}; got an empty list` };
    default:
      // type, minimum, maximum, ...
      return { path, message: `must be ${expected}; got ${got}` };
  }
}

/** Schema problems of a parsed document; empty when it is valid. */
export function schemaProblems(document: unknown): SchemaProblem[] {
  return collectSchemaProblems(validate(), document, translate);
}
