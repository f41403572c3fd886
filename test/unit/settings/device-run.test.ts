import { describe, expect, it } from 'vitest';
import { parseDeviceRun } from '../../../src/settings/device-run.js';
import { InputError } from '../../../src/settings/errors.js';

describe('device-run', () => {
  it('is optional', () => {
    expect(parseDeviceRun('')).toBeUndefined();
    expect(parseDeviceRun('  \n')).toBeUndefined();
  });

  it('reads YAML and JSON', () => {
    expect(
      parseDeviceRun(
        'restart: on-failure:5\nmemory: 256m\ncpus: 1.5\nreadOnly: true\nuser: "65532:65532"\nhealthTimeout: 90\n',
      ),
    ).toEqual({
      restart: 'on-failure:5',
      memory: '256m',
      cpus: 1.5,
      readOnly: true,
      user: '65532:65532',
      healthTimeout: 90,
    });
    expect(parseDeviceRun('{"restart": "always", "memory": 268435456, "user": 1000}')).toEqual({
      restart: 'always',
      memory: '268435456',
      user: '1000',
    });
  });

  it.each([
    ['restart: sometimes', /"restart: sometimes" is not valid; expected restart as no, always/],
    ['memory: 256 MB', /expected memory as bytes with an optional b, k, m or g suffix/],
    ['memory: "0"', /expected memory as/],
    ['cpus: 0', /expected cpus as a number of CPUs above 0/],
    ['cpus: "2"', /expected cpus as/],
    ['readOnly: "yes"', /expected readOnly as true or false/],
    ['user: "root; rm -rf /"', /expected user as a user name or uid/],
    ['healthTimeout: 1.5', /expected healthTimeout as whole seconds from 1 to 3600/],
    ['healthTimeout: 0', /expected healthTimeout as/],
    [
      'memroy: 1g',
      /"memroy: "1g"" is not valid; expected only restart, memory, cpus, readOnly, user, healthTimeout \(memroy is unknown\)/,
    ],
    ['- restart', /expected a mapping with any of restart, memory/],
    ['{restart: [', /expected YAML or JSON/],
  ])('refuses %j naming the field', (raw, message) => {
    let error: unknown;
    try {
      parseDeviceRun(raw);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).input).toBe('device-run');
    expect((error as Error).message).toMatch(message);
  });
});
