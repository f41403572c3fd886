/**
 * The last `max` characters a long-running child (a registry, dockerd, containerd) wrote, for error messages and
 * log searches. The text is trimmed once it holds twice `max`: one copy per `max` characters written. Trimming at
 * `max` copied all of it for every chunk once that much was written (0.7 ms of the test process's CPU per line at
 * 1 MB).
 */
export interface OutputTail {
  append(chunk: Buffer | string): void;
  text(): string;
}

export function outputTail(max: number): OutputTail {
  let kept = '';
  return {
    append(chunk) {
      kept += chunk.toString();
      if (kept.length > 2 * max) kept = kept.slice(-max);
    },
    text: () => kept.slice(-max),
  };
}
