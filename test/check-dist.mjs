// Fails when dist/ is not what `npm run build` produces from the current sources.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const fresh = mkdtempSync(path.join(tmpdir(), 'edgeship-dist-'));
try {
  execFileSync(process.execPath, ['build.mjs', '--outdir', fresh], { stdio: 'inherit' });
  const list = (dir) =>
    readdirSync(dir, { recursive: true })
      .filter((f) => !f.endsWith('/'))
      .sort();
  const committed = list('dist').filter((f) => !statSync(path.join('dist', f)).isDirectory());
  const rebuilt = list(fresh).filter((f) => !statSync(path.join(fresh, f)).isDirectory());
  const stale = [];
  if (committed.join() !== rebuilt.join())
    stale.push(`files differ: dist has [${committed}] but a build makes [${rebuilt}]`);
  for (const name of rebuilt) {
    if (!committed.includes(name)) continue;
    if (!readFileSync(path.join('dist', name)).equals(readFileSync(path.join(fresh, name))))
      stale.push(`dist/${name} differs`);
  }
  if (stale.length) {
    console.error(`dist/ is stale: ${stale.join('; ')}. Run \`npm run build\` and commit dist/.`);
    process.exit(1);
  }
  console.log(`dist/ is up to date (${rebuilt.length} files)`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
