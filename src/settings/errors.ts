/** A step input that is missing or malformed: names the input, the value (never a secret's) and the form expected. */
export class InputError extends Error {
  override name = 'InputError';
  constructor(
    readonly input: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(
      `Input "${input}": ${value === '' ? 'no value was given' : `"${value}" is not valid`}; expected ${expected}`,
    );
  }
}
