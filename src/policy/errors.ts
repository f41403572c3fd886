/** A policy that cannot be used: the message names the file or input and the field path, and says what is accepted. */
export class PolicyError extends Error {
  override name = 'PolicyError';
  constructor(
    message: string,
    /** One line per problem (a policy file can have several). */
    readonly problems: readonly string[] = [message],
  ) {
    super(message);
  }
}
