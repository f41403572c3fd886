/** The logging surface every phase writes to; the action wires it to @actions/core. */
export interface PhaseLog {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
  /** Runs `fn` inside a collapsible log group. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}
