import { BufferedLog } from './buffered-log.js';
import type { PhaseLog } from './phase-log.js';

/**
 * Starts `work` now, beside whatever the caller does next, with its lines kept rather than written. The function
 * returned waits for it, writes its lines into `target` as one group named `name` (once, so concurrent work never
 * interleaves in the job log), then returns its result or throws its error. Work never waited for fails silently:
 * the caller failed first and says why.
 */
export function backgroundGroup<T>(
  target: PhaseLog,
  name: string,
  work: (log: PhaseLog) => Promise<T>,
): () => Promise<T> {
  const log = new BufferedLog();
  const running = Promise.resolve().then(() => work(log));
  running.catch(() => undefined);
  let replayed: Promise<void> | undefined;
  return async () => {
    try {
      return await running;
    } finally {
      replayed ??= log.replay(target, name);
      await replayed;
    }
  };
}
