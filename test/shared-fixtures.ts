import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** `../shared/fixtures` beside the project: real outputs of the real tools, read in place, never copied. */
export const FIXTURES_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'shared',
  'fixtures',
);

export const fixturesPresent = existsSync(FIXTURES_DIR);

// GitHub's runners have no ../shared: the workflow says so with EDGESHIP_FIXTURES=optional.
if (!fixturesPresent && process.env.CI === 'true' && process.env.EDGESHIP_FIXTURES !== 'optional') {
  throw new Error(
    `the shared fixtures are missing at ${FIXTURES_DIR}; CI must run with ../shared beside the project`,
  );
}
if (!fixturesPresent) {
  console.error(
    `shared fixtures not found at ${FIXTURES_DIR}: fixture contract tests are skipped outside CI`,
  );
}

export function fixturePath(relative: string): string {
  return path.join(FIXTURES_DIR, relative);
}

export function readFixture(relative: string): string {
  return readFileSync(fixturePath(relative), 'utf8');
}

export function readFixtureJson<T = unknown>(relative: string): T {
  return JSON.parse(readFixture(relative)) as T;
}
