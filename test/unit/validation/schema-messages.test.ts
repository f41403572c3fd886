import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  collectSchemaProblems,
  describeValue,
  formatPath,
  problemPath,
  type SchemaProblem,
} from '../../../src/validation/schema-messages.js';

describe('formatPath', () => {
  it('joins plain keys with dots, quotes other keys and brackets indexes', () => {
    expect(formatPath([])).toBe('(top level)');
    expect(formatPath(['waivers', 2, 'expires'])).toBe('waivers[2].expires');
    expect(formatPath(['platforms', 'linux/arm/v7', 'failOn'])).toBe('platforms["linux/arm/v7"].failOn');
    expect(formatPath(['$ref'])).toBe('["$ref"]');
    expect(formatPath(['$ref'], /^[A-Za-z_$][A-Za-z0-9_-]*$/)).toBe('$ref');
  });
});

describe('describeValue', () => {
  it('names the kind of value, quotes strings and cuts long ones when asked', () => {
    expect([null, undefined, [], {}, '  ', 'x', 3, false].map((v) => describeValue(v))).toEqual([
      'null',
      'nothing',
      'a list',
      'a mapping',
      'an empty string',
      '"x"',
      '3',
      'false',
    ]);
    const long = 'a'.repeat(100);
    expect(describeValue(long)).toBe(JSON.stringify(long));
    expect(describeValue(long, 80)).toBe(JSON.stringify(`${'a'.repeat(77)}...`));
    expect(describeValue('a'.repeat(80), 80)).toBe(JSON.stringify('a'.repeat(80)));
  });
});

describe('problemPath', () => {
  it('decodes the JSON pointer and reads indexes of lists as numbers', () => {
    const root = { platforms: { 'linux/arm/v7': { list: ['a', 'b'] } }, '~x': 1 };
    expect(problemPath('', root)).toEqual([]);
    expect(problemPath('/platforms/linux~1arm~1v7/list/1', root)).toEqual([
      'platforms',
      'linux/arm/v7',
      'list',
      1,
    ]);
    expect(problemPath('/~0x', root)).toEqual(['~x']);
    expect(problemPath('/0/missing', { 0: {} })).toEqual(['0', 'missing']);
  });
});

describe('collectSchemaProblems', () => {
  const validate = new Ajv({ allErrors: true }).compile({
    type: 'object',
    properties: { a: { type: 'integer' }, b: { type: 'integer' } },
  });
  const translate = (
    error: { instancePath: string; keyword: string },
    root: unknown,
  ): SchemaProblem | undefined =>
    error.keyword === 'type' && error.instancePath !== '/b'
      ? { path: problemPath(error.instancePath, root), message: 'must be a whole number' }
      : undefined;

  it('is empty for a valid document', () => {
    expect(collectSchemaProblems(validate, { a: 1 }, translate)).toEqual([]);
  });

  it('skips errors translated to nothing and keeps one problem per path and message', () => {
    const dedupe = (): SchemaProblem => ({ path: ['a'], message: 'bad' });
    expect(collectSchemaProblems(validate, { a: 'x', b: 'y' }, translate)).toEqual([
      { path: ['a'], message: 'must be a whole number' },
    ]);
    expect(collectSchemaProblems(validate, { a: 'x', b: 'y' }, dedupe)).toEqual([
      { path: ['a'], message: 'bad' },
    ]);
  });
});
