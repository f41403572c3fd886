import { backgroundGroup, type Background } from '../logging/background-group.js';
import type { PhaseLog } from '../logging/phase-log.js';
import type { ActionHost } from '../runner/host.js';

/**
 * Starts a stage beside the next ones, its log kept; `done()` waits for it and writes its log as one group named
 * `name`, `result` is for other background stages that wait on it (see backgroundGroup).
 */
export function inBackground<T>(
  host: ActionHost,
  name: string,
  stage: (log: PhaseLog) => Promise<T>,
): Background<T> {
  return backgroundGroup(host.log, name, stage);
}
