import type { PhaseLog } from '../logging/phase-log.js';
import type { Exec } from '../process/exec.js';
import { describeFailure } from '../process/exec.js';
import { buildahRemoveImagesArgs } from '../builders/buildah.js';
import { dockerLogoutArgs, removeBuilderArgs } from '../builders/buildx.js';
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
  const attempt = async (what: string, file: string, args: string[]) => {
    const result = await deps.exec(file, args);
    if (result.exitCode === 0) done.push(what);
    else deps.log.warning(`cleanup: ${what} failed: ${describeFailure(file, result, 3)}`);
  };
  await deps.log.group('Clean up', async () => {
    if (state.buildxBuilder)
      await attempt(
        `removed buildx builder ${state.buildxBuilder}`,
        'docker',
        removeBuilderArgs(state.buildxBuilder),
      );
    if (state.dockerLogout)
      await attempt(`logged out of ${state.dockerLogout}`, 'docker', dockerLogoutArgs(state.dockerLogout));
    if (state.buildahImages.length) {
      await attempt(
        `removed ${state.buildahImages.length} local buildah image(s)`,
        'buildah',
        buildahRemoveImagesArgs(state.buildahImages),
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
