import { describe, expect, it } from 'vitest';
import {
  credentialHelperProgram,
  getFromCredentialHelper,
  parseCredentialHelperResult,
} from '../../../src/registry/credential-helper.js';
import { fakeExec } from '../helpers/memory-host.js';

const PROGRAM = 'docker-credential-pass';
const result = (exitCode: number, stdout = '', stderr = '') => ({ exitCode, stdout, stderr });

describe('docker credential helper', () => {
  it('runs `docker-credential-<name> get` with the server URL on stdin', async () => {
    const exec = fakeExec(() => ({ stdout: '{"ServerURL":"ghcr.io","Username":"u","Secret":"s"}' }));
    await expect(
      getFromCredentialHelper(exec, 'pass', 'https://index.docker.io/v1/', 'docker.io'),
    ).resolves.toEqual({ username: 'u', secret: 's' });
    expect(credentialHelperProgram('pass')).toBe(PROGRAM);
    expect(exec.calls.map((c) => [c.file, c.args, c.options.input])).toEqual([
      [PROGRAM, ['get'], 'https://index.docker.io/v1/'],
    ]);
  });

  it('reads a stored credential, a <token> user as is, and an empty secret as none', () => {
    expect(
      parseCredentialHelperResult(result(0, '{"Username":"<token>","Secret":"id"}'), PROGRAM, 'r'),
    ).toEqual({
      username: '<token>',
      secret: 'id',
    });
    expect(
      parseCredentialHelperResult(result(0, '{"Username":"u","Secret":""}'), PROGRAM, 'r'),
    ).toBeUndefined();
    expect(
      parseCredentialHelperResult(result(1, 'credentials not found in native keychain'), PROGRAM, 'r'),
    ).toBeUndefined();
  });

  it('names the helper and registry when it fails, never showing what it printed on success', () => {
    expect(() =>
      parseCredentialHelperResult({ ...result(-1), failure: 'spawn ENOENT' }, PROGRAM, 'ghcr.io'),
    ).toThrow(`credential helper ${PROGRAM} could not run for ghcr.io: spawn ENOENT`);
    expect(() =>
      parseCredentialHelperResult(result(2, '', 'gpg: decryption failed\nmore'), PROGRAM, 'ghcr.io'),
    ).toThrow(`credential helper ${PROGRAM} failed for ghcr.io with exit code 2: gpg: decryption failed`);
    const notJson = () => parseCredentialHelperResult(result(0, 'Secret=hunter2'), PROGRAM, 'ghcr.io');
    expect(notJson).toThrow(`credential helper ${PROGRAM} printed something other than JSON for ghcr.io`);
    expect(notJson).not.toThrow(/hunter2/);
    expect(() => parseCredentialHelperResult(result(0, '["hunter2"]'), PROGRAM, 'ghcr.io')).toThrow(
      `credential helper ${PROGRAM} printed a non-object for ghcr.io`,
    );
  });
});
