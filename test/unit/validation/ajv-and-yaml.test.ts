import { describe, expect, it } from 'vitest';
import { LineCounter, parseDocument } from 'yaml';
import { Ajv } from 'ajv';
import { isDate, isDateTime, isUri, lazyValidator, SCHEMAS } from '../../../src/validation/ajv.js';
import { isRecord } from '../../../src/validation/json.js';
import { lineOf } from '../../../src/validation/yaml-position.js';

describe('the shared Ajv set-up', () => {
  it('checks the shared formats as calendars and URLs do', () => {
    expect(isDate('2024-02-29')).toBe(true);
    expect(isDate('2023-02-29')).toBe(false);
    expect(isDateTime('2026-12-01T14:03:20Z')).toBe(true);
    expect(isDateTime('2026-12-01 25:00:00+01:00')).toBe(false);
    expect(isUri('https://example.com/x')).toBe(true);
    expect(isUri('not a uri')).toBe(false);
  });

  it('compiles once, collects every error, and takes formats of its own', () => {
    let calls = 0;
    const validator = lazyValidator(
      'test-even-sizes',
      {
        type: 'object',
        properties: { when: { type: 'string', format: 'date' }, size: { type: 'string', format: 'even' } },
        additionalProperties: false,
      },
      { formats: { even: (s) => (calls++, s.length % 2 === 0) } },
    );
    const validate = validator();
    expect(validator()).toBe(validate);
    expect(validate({ when: '2026-13-01', size: 'odd', extra: 1 })).toBe(false);
    expect(validate.errors?.map((e) => e.keyword).sort()).toEqual([
      'additionalProperties',
      'format',
      'format',
    ]);
    expect(calls).toBe(1);
  });
});

describe("the project's schemas", () => {
  it("are each valid against Ajv's meta-schema (the action skips that check at run time)", async () => {
    // Loading the modules registers their schemas.
    await import('../../../src/policy/schema.js');
    await import('../../../src/policy/vex.js');
    await import('../../../src/deployment/schema.js');
    expect(SCHEMAS.length).toBeGreaterThanOrEqual(3);
    const ajv = new Ajv({ strict: true, allowUnionTypes: true, strictRequired: false });
    for (const { schema } of SCHEMAS) {
      expect(ajv.validateSchema(schema), JSON.stringify(ajv.errors)).toBe(true);
    }
    // And the check can fail: a misspelt type is refused.
    expect(ajv.validateSchema({ type: 'strin' })).toBe(false);
  });
});

describe('lineOf', () => {
  const text = 'a: 1\nrules:\n  failOn: high\n  max:\n    - 1\n    - 2\nz: 3\n';
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });

  it('finds the line of a value, of a key, and of the mapping that lacks a key', () => {
    expect(lineOf(doc.contents, ['rules', 'failOn'], lines)).toBe(3);
    expect(lineOf(doc.contents, ['rules', 'max', 1], lines)).toBe(6);
    expect(lineOf(doc.contents, ['z'], lines, true)).toBe(7);
    expect(lineOf(doc.contents, ['rules', 'missing'], lines)).toBe(3);
  });
});

describe('isRecord', () => {
  it('is true for objects only', () => {
    expect([{}, { a: 1 }, [], null, 'x', 1].map(isRecord)).toEqual([true, true, false, false, false, false]);
  });
});
