import { describe, expect, it } from 'vitest';
import { grypeEnvironment, grypeScanArgs } from '../../../src/scan/grype.js';

describe('grype argv and environment', () => {
  it('scans the SBOM once and writes JSON and SARIF', () => {
    expect(
      grypeScanArgs({ sbomFile: '/o/sbom.syft.json', jsonFile: '/o/g.json', sarifFile: '/o/g.sarif' }),
    ).toEqual(['sbom:/o/sbom.syft.json', '-o', 'json=/o/g.json', '-o', 'sarif=/o/g.sarif']);
  });

  it('never updates the database during a scan and enforces its age', () => {
    expect(grypeEnvironment({ dbCacheDir: '/c/grype-db', maxDbAgeHours: 120 })).toEqual({
      GRYPE_CHECK_FOR_APP_UPDATE: 'false',
      GRYPE_DB_AUTO_UPDATE: 'false',
      GRYPE_DB_CACHE_DIR: '/c/grype-db',
      GRYPE_DB_VALIDATE_AGE: 'true',
      GRYPE_DB_MAX_ALLOWED_BUILT_AGE: '120h',
    });
    expect(grypeEnvironment({ dbCacheDir: '/c', maxDbAgeHours: 1.5 }).GRYPE_DB_MAX_ALLOWED_BUILT_AGE).toBe(
      '1.5h',
    );
    expect(() => grypeEnvironment({ dbCacheDir: '/c', maxDbAgeHours: 0 })).toThrow(/positive/);
  });

  it('downloads the database from the grype-db-url mirror when one is given', () => {
    const env = grypeEnvironment({ dbCacheDir: '/c', maxDbAgeHours: 1, updateUrl: 'https://m.example/db' });
    expect(env.GRYPE_DB_UPDATE_URL).toBe('https://m.example/db');
    expect(grypeEnvironment({ dbCacheDir: '/c', maxDbAgeHours: 1 })).not.toHaveProperty(
      'GRYPE_DB_UPDATE_URL',
    );
  });
});

describe('scanner isolation', () => {
  it('points grype at an explicit config file so no .grype.yaml of the workspace is read', () => {
    expect(grypeScanArgs({ sbomFile: 's', jsonFile: 'j', sarifFile: 'r', configFile: '/t/c.yaml' })).toEqual([
      'sbom:s',
      '-o',
      'json=j',
      '-o',
      'sarif=r',
      '--config',
      '/t/c.yaml',
    ]);
  });
});
