/**
 * The one Ajv set-up of the project: every schema (policy files, deployment manifests) is compiled with the options of
 * ./ajv-compile.ts, with all errors collected, values kept for messages, strict mode on, and the string formats the
 * schemas share. A schema adds its own formats by name. The bundle carries each schema compiled at build time
 * (./precompiled.ts, filled by build/schemas.js), so the action neither loads Ajv nor compiles a schema when it runs;
 * the sources (and the unit tests) compile on first use.
 */
import type { ValidateFunction } from 'ajv';
import {
  compileSchema,
  type FormatCheck,
  type RegisteredSchema,
  type ValidatorOptions,
} from './ajv-compile.js';
import { PRECOMPILED } from './precompiled.js';

export type { FormatCheck, RegisteredSchema, ValidatorOptions } from './ajv-compile.js';

/** `YYYY-MM-DD`, a real calendar date. */
export function isDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** RFC 3339 date-time (`T` or space, `Z` or an offset), with a real calendar date and time. */
export function isDateTime(value: string): boolean {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/.exec(value);
  if (!m || !isDate(m[1]!)) return false;
  const [h, mi, s] = [Number(m[2]), Number(m[3]), Number(m[4])];
  if (h > 23 || mi > 59 || s > 60) return false;
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return false;
  return true;
}

/** An absolute URI with a scheme that URL accepts. */
export function isUri(value: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(value)) return false;
  return URL.canParse(value);
}

/** True when `fn` returns, false when it throws: a parser used as a format check. */
export function succeeds(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

export const SHARED_FORMATS: Record<string, FormatCheck> = {
  date: isDate,
  'date-time': isDateTime,
  uri: isUri,
};

/** Every schema given to lazyValidator: the unit tests check each against Ajv's meta-schema, the build compiles each. */
export const SCHEMAS: RegisteredSchema[] = [];

/**
 * A validator for `schema` (`name` is its key among the precompiled ones), compiled on first use unless the bundle
 * carries it compiled. The schemas are the project's own and fixed, so the action does not validate them against the
 * meta-schema on every run (compiling it costs about as much as the schema itself); the unit tests do, for every
 * schema in SCHEMAS, and strict mode refuses unknown keywords when a schema is compiled.
 */
export function lazyValidator(
  name: string,
  schema: object,
  options: ValidatorOptions = {},
): () => ValidateFunction {
  if (SCHEMAS.some((s) => s.name === name)) throw new Error(`schema ${name} is registered twice`);
  SCHEMAS.push({ name, schema, options });
  let compiled: ValidateFunction | undefined;
  return () => {
    if (compiled) return compiled;
    const formats = { ...SHARED_FORMATS, ...options.formats };
    const precompiled = PRECOMPILED[name];
    compiled = precompiled
      ? precompiled(Object.fromEntries(Object.entries(formats).map(([k, validate]) => [k, { validate }])))
      : compileSchema(schema, options, formats);
    return compiled;
  };
}
