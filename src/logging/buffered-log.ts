import type { PhaseLog } from './phase-log.js';

/**
 * A PhaseLog for work that runs concurrently with other work: lines are kept and written as one
 * group when the work ends, so concurrent platforms never interleave in the job log.
 */
export class BufferedLog implements PhaseLog {
  private readonly entries: Array<{ level: 'info' | 'warning' | 'debug'; message: string }> = [];

  info(message: string): void {
    this.entries.push({ level: 'info', message });
  }
  warning(message: string): void {
    this.entries.push({ level: 'warning', message });
  }
  debug(message: string): void {
    this.entries.push({ level: 'debug', message });
  }
  /** Nested groups are flattened into the one group this buffer is replayed in. */
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.info(`── ${name}`);
    return fn();
  }

  /** Writes everything into `target` as one group named `name`. */
  async replay(target: PhaseLog, name: string): Promise<void> {
    await target.group(name, async () => {
      for (const e of this.entries) target[e.level](e.message);
    });
  }
}
