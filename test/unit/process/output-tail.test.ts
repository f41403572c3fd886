import { describe, expect, it } from 'vitest';
import { outputTail } from '../../e2e/harness/output-tail.js';

describe('outputTail (the e2e harness keeps the end of a long-running child’s output)', () => {
  it('keeps the last max characters, in order, however the output was chunked', () => {
    const tail = outputTail(10);
    let written = '';
    for (let i = 0; i < 100; i++) {
      const chunk = `${i},`;
      written += chunk;
      tail.append(i % 2 ? Buffer.from(chunk) : chunk);
      expect(tail.text()).toBe(written.slice(-10));
    }
  });
});
