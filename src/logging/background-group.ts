import { BufferedLog } from './buffered-log.js';
import type { PhaseLog } from './phase-log.js';

/** Work started beside other work (see backgroundGroup). */
export interface Background<T> {
  /** Its result, its log still kept: for other work that waits on it. */
  readonly result: Promise<T>;
  /**
   * Waits for it, writes its lines into the log as one group (once, so concurrent work never interleaves in the
   * job log), then returns its result or throws its error. Call it from the foreground, between groups.
   */
  done(): Promise<T>;
}

/**
 * Starts `work` now, beside whatever the caller does next, with its lines kept rather than written to `target`
 * under `name`. Work never waited for fails silently: the caller failed first and says why.
 */
export function backgroundGroup<T>(
  target: PhaseLog,
  name: string,
  work: (log: PhaseLog) => Promise<T>,
): Background<T> {
  const log = new BufferedLog();
  const result = Promise.resolve().then(() => work(log));
  result.catch(() => undefined);
  let replayed: Promise<void> | undefined;
  return {
    result,
    done: async () => {
      try {
        return await result;
      } finally {
        replayed ??= log.replay(target, name);
        await replayed;
      }
    },
  };
}
