import { readSettings } from '../../../src/settings/inputs.js';
import type { Settings } from '../../../src/settings/inputs.js';
import type { InstallDeps } from '../../../src/tools/install.js';

/** Settings read from action inputs, for a workspace whose context and Dockerfile exist. */
export function settingsFrom(inputs: Record<string, string>, workspace = '/work/app'): Settings {
  return readSettings((name) => inputs[name] ?? '', {
    workspace,
    fileExists: (p) => (p.endsWith('Dockerfile') || p.endsWith('.pem') ? 'file' : 'directory'),
  });
}

/**
 * Install deps for `syft-version: path` / `grype-version: path`: the scanners are "on PATH" in `dir`;
 * anything that would download fails the test.
 */
export function scannersOnPath(log: InstallDeps['log'], dir = '/opt/scanners'): InstallDeps {
  const nothing = async (): Promise<never> => {
    throw new Error('the test installs scanners from PATH only');
  };
  return {
    download: nothing,
    extractTar: nothing,
    cacheDir: nothing,
    find: () => '',
    readFile: nothing,
    sha256File: nothing,
    which: async (name) => `${dir}/${name}`,
    log,
  };
}
