/**
 * Ajv itself: the options every schema is compiled with, at run time (compileSchema, the sources and the unit
 * tests) or at build time (standaloneValidators, build/schemas.js). The bundle replaces this module with one that
 * refuses to compile, so Ajv is not in it.
 */
import { _, Ajv, type Options, type ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';

export type FormatCheck = (value: string) => boolean;

export interface ValidatorOptions {
  /** Formats of this schema beyond the shared ones (`date`, `date-time`, `uri`). */
  formats?: Record<string, FormatCheck>;
  /** Ajv's strictRequired (on by default): off where `required` names properties defined beside it. */
  strictRequired?: boolean;
}

/** A schema given to lazyValidator, under its name. */
export interface RegisteredSchema {
  name: string;
  schema: object;
  options: ValidatorOptions;
}

function ajvFor(
  options: ValidatorOptions,
  formats: Record<string, FormatCheck>,
  code: Options['code'] = {},
): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    verbose: true,
    allowUnionTypes: true,
    strict: true,
    validateSchema: false,
    code: { optimize: code.source ? 1 : false, ...code },
    ...(options.strictRequired === false ? { strictRequired: false } : {}),
  });
  for (const [name, validate] of Object.entries(formats)) ajv.addFormat(name, { type: 'string', validate });
  return ajv;
}

/** `schema` compiled now, with `formats` (the shared ones and its own). */
export function compileSchema(
  schema: object,
  options: ValidatorOptions,
  formats: Record<string, FormatCheck>,
): ValidateFunction {
  return ajvFor(options, formats).compile(schema);
}

/**
 * Each schema compiled to standalone code, by name: the body of a CommonJS module whose `formats` variable holds the
 * format checks by name (`{ validate }` each) when it runs; its `module.exports` is the validator.
 */
export function standaloneValidators(
  schemas: readonly RegisteredSchema[],
  formatNames: readonly string[],
): Record<string, string> {
  const placeholder = () => {
    throw new Error('a format check of a schema compiled at build time was called at build time');
  };
  return Object.fromEntries(
    schemas.map(({ name, schema, options }) => {
      const names = [...formatNames, ...Object.keys(options.formats ?? {})];
      const formats = Object.fromEntries(names.map((n) => [n, placeholder]));
      const ajv = ajvFor(options, formats, { source: true, formats: _`formats` });
      return [name, standaloneCode.default(ajv, ajv.compile(schema))];
    }),
  );
}
