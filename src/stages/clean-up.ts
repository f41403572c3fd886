import type { PhaseLog } from '../logging/phase-log.js';
import type { Exec, ExecResult } from '../process/exec.js';
import { describeFailure } from '../process/exec.js';
import { removeBuildahImages } from '../builders/buildah.js';
import { dockerLogout, removeBuildxBuilder } from '../builders/buildx.js';
import { parseCleanupState } from '../runner/cleanup-state.js';

export interface PostDeps {
  exec: Exec;
  log: PhaseLog;
  removePath: (p: string) => void;
}

/**
 * The post step: undoes what the main step set up, whether it succeeded or not. Every item is
 * attempted; failures are warnings, never a failed job.
 */
export async function runPost(serializedState: string, deps: PostDeps): Promise<string[]> {
  const state = parseCleanupState(serializedState);
  const done: string[] = [];
  const attempt = async (what: string, file: string, run: () => Promise<ExecResult>) => {
    const result = await run();
    if (result.exitCode === 0) done.push(what);
    else deps.log.warning(`cleanup: ${what} failed: ${describeFailure(file, result, 3)}`);
  };
  await deps.log.group('Clean up', async () => {
    const { buildxBuilder, dockerLogout: loggedIn, buildahImages } = state;
    if (buildxBuilder)
      await attempt(`removed buildx builder ${buildxBuilder}`, 'docker', () =>
        removeBuildxBuilder(deps.exec, buildxBuilder),
      );
    if (loggedIn)
      await attempt(`logged out of ${loggedIn}`, 'docker', () => dockerLogout(deps.exec, loggedIn));
    if (buildahImages.length) {
      await attempt(`removed ${buildahImages.length} local buildah image(s)`, 'buildah', () =>
        removeBuildahImages(deps.exec, buildahImages),
      );
    }
    for (const p of state.paths) {
      try {
        deps.removePath(p);
        done.push(`removed ${p}`);
      } catch (error) {
        deps.log.warning(
          `cleanup: could not remove ${p}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    for (const line of done) deps.log.info(line);
  });
  return done;
}
