/** The logging surface every phase writes to; the action wires it to @actions/core. */
export interface PhaseLog {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
  /** Runs `fn` inside a collapsible log group. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** A PhaseLog that keeps every line, for tests and for callers that print later. */
export function memoryLog(): PhaseLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => void lines.push(m),
    warning: (m) => void lines.push(`warning: ${m}`),
    debug: (m) => void lines.push(`debug: ${m}`),
    group: async (name, fn) => {
      lines.push(`::group::${name}`);
      try {
        return await fn();
      } finally {
        lines.push('::endgroup::');
      }
    },
  };
}
