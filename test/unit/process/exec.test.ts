import { describe, expect, it } from 'vitest';
import { childEnvironment, execProcess } from '../../../src/process/exec.js';

describe('childEnvironment', () => {
  it('withholds the step inputs and the runner tokens from child processes', () => {
    const env = childEnvironment({
      PATH: '/usr/bin',
      'INPUT_SIGNING-KEY': '-----BEGIN PRIVATE KEY-----',
      'INPUT_REGISTRY-PASSWORD': 'hunter2',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'jwt-request',
      ACTIONS_ID_TOKEN_REQUEST_URL: 'https://token',
      ACTIONS_RUNTIME_TOKEN: 'runtime',
      HOME: '/root',
    });
    expect(env).toEqual({ PATH: '/usr/bin', HOME: '/root' });
  });

  it('drops inherited variables by prefix but keeps what the caller sets', () => {
    const env = childEnvironment(
      { GRYPE_ONLY_FIXED: 'true', SYFT_EXCLUDE: '/usr', PATH: '/bin' },
      { GRYPE_DB_CACHE_DIR: '/db' },
      ['SYFT_', 'GRYPE_'],
    );
    expect(env).toEqual({ PATH: '/bin', GRYPE_DB_CACHE_DIR: '/db' });
  });

  it('is what a real child process sees', async () => {
    process.env['INPUT_REGISTRY-PASSWORD'] = 'hunter2';
    try {
      const result = await execProcess('env', [], { env: { EDGESHIP_PROBE: '1' } });
      expect(result.stdout).toContain('EDGESHIP_PROBE=1');
      expect(result.stdout).not.toContain('hunter2');
    } finally {
      delete process.env['INPUT_REGISTRY-PASSWORD'];
    }
  });
});
