/**
 * Docker credential helpers (`docker-credential-<name> get`, the protocol of docker/docker-credential-helpers):
 * the server URL goes to stdin, the helper prints `{"ServerURL", "Username", "Secret"}` as JSON, or says
 * "credentials not found" and exits non-zero. The helper's output holds the secret, so it never goes
 * into an error message.
 */
import type { Exec, ExecResult } from '../process/exec.js';

/** What a helper stores for a server: `Username` is `<token>` when `Secret` is an identity token. */
export interface HelperCredential {
  username: string;
  secret: string;
}

const HELPER_TIMEOUT_MS = 30_000;

/** `docker-credential-<helper>` for the name in a docker config's credHelpers or credsStore. */
export function credentialHelperProgram(helper: string): string {
  return `docker-credential-${helper}`;
}

export function credentialHelperGetArgs(): string[] {
  return ['get'];
}

/**
 * Asks the helper for `serverUrl`'s credential. Undefined when it has none; throws when the helper is
 * missing or fails otherwise. `registry` names the registry in messages.
 */
export async function getFromCredentialHelper(
  exec: Exec,
  helper: string,
  serverUrl: string,
  registry: string,
): Promise<HelperCredential | undefined> {
  const program = credentialHelperProgram(helper);
  const result = await exec(program, credentialHelperGetArgs(), {
    input: serverUrl,
    timeoutMs: HELPER_TIMEOUT_MS,
  });
  return parseCredentialHelperResult(result, program, registry);
}

/** Reads what `<program> get` did: its credential, undefined for none, or an error without the secret. */
export function parseCredentialHelperResult(
  result: ExecResult,
  program: string,
  registry: string,
): HelperCredential | undefined {
  if (result.failure) {
    throw new Error(`credential helper ${program} could not run for ${registry}: ${result.failure}`);
  }
  if (result.exitCode !== 0) {
    const said = `${result.stdout}\n${result.stderr}`.trim();
    if (/credentials not found/i.test(said)) return undefined;
    const firstLine = said.split('\n')[0]?.slice(0, 200) ?? '';
    throw new Error(
      `credential helper ${program} failed for ${registry} with exit code ${result.exitCode}${firstLine ? `: ${firstLine}` : ''}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    throw new Error(`credential helper ${program} printed something other than JSON for ${registry}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`credential helper ${program} printed a non-object for ${registry}`);
  }
  const doc = parsed as Record<string, unknown>;
  const username = typeof doc.Username === 'string' ? doc.Username : '';
  const secret = typeof doc.Secret === 'string' ? doc.Secret : '';
  return secret === '' ? undefined : { username, secret };
}
