/**
 * The signing inputs, checked before anything is built: the key is read and decrypted, the expected identity's
 * `/regex/` compiled, the trusted root parsed, keyless signing's OIDC permission confirmed. A problem with any of
 * them would otherwise surface after the images, index and signatures were already pushed.
 */
import { loadSigningKey, MissingIdTokenPermissionError, SigningError } from '../sign/signer.js';
import type { SigningKey } from '../sign/signer.js';
import { trustMaterialFromJSON } from '../sign/verify.js';
import type { TrustMaterial } from '../sign/verify.js';
import { InputError } from './errors.js';
import type { ParseContext } from './parsers.js';
import type { RunMode, SigningMode } from './settings.js';

const KEY_FORM = 'a PEM private key (-----BEGIN PRIVATE KEY----- or ENCRYPTED PRIVATE KEY)';

/** `signing-key` (+ `signing-key-password`) → a key ready to sign; InputError naming the input otherwise. */
export function readSigningKey(
  signing: SigningMode,
  pem: string | undefined,
  password: string | undefined,
  load: boolean,
): SigningKey | undefined {
  if (signing === 'key' && !pem) {
    throw new InputError(
      'signing-key',
      '',
      'a PEM private key (e.g. ${{ secrets.EDGESHIP_SIGNING_KEY }}) when signing is key',
    );
  }
  if (!pem) return undefined;
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem))
    throw new InputError('signing-key', '(hidden)', KEY_FORM);
  if (signing !== 'key' || !load) return undefined;
  try {
    return loadSigningKey(pem, password);
  } catch (error) {
    if (!(error instanceof SigningError)) throw error;
    if (error.code === 'KEY_PASSWORD_REQUIRED') {
      throw new InputError(
        'signing-key-password',
        '',
        'the password the signing key is encrypted with (the key is encrypted)',
      );
    }
    if (error.code === 'KEY_PASSWORD_WRONG') {
      throw new InputError(
        'signing-key-password',
        '(hidden)',
        'the password the signing key was encrypted with: this one does not decrypt it',
      );
    }
    throw new InputError(
      'signing-key',
      '(hidden)',
      `${KEY_FORM} that can be read: ${error.message.replace(/^the signing key /, 'it ')}`,
    );
  }
}

/** `certificate-identity`: exact text, or `/regex/` compiled here. */
export function readExpectedIdentity(raw: string | undefined): string | RegExp | undefined {
  if (!raw) return undefined;
  const regex = /^\/(.*)\/$/.exec(raw);
  if (!regex) return raw;
  try {
    return new RegExp(regex[1]!);
  } catch (error) {
    throw new InputError(
      'certificate-identity',
      raw,
      `an exact identity (e.g. https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/v1.2.3) or a /regular expression/ that compiles (${(error as Error).message})`,
    );
  }
}

/** `trusted-root`: a trusted_root.json that parses into trust material. */
export function readTrustedRoot(
  file: string | undefined,
  raw: string,
  ctx: ParseContext,
): TrustMaterial | undefined {
  if (!file) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(ctx.readText(file));
  } catch (error) {
    throw new InputError(
      'trusted-root',
      raw,
      `a Sigstore trusted_root.json (it is not JSON: ${(error as Error).message})`,
    );
  }
  const problem = trustedRootProblem(json);
  if (problem) throw new InputError('trusted-root', raw, `a Sigstore trusted_root.json (${problem})`);
  try {
    return trustMaterialFromJSON(json);
  } catch (error) {
    throw new InputError('trusted-root', raw, `a Sigstore trusted_root.json (${(error as Error).message})`);
  }
}

/** What makes a parsed JSON document not a trusted root (the protobuf reader accepts nearly anything). */
function trustedRootProblem(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'it is not a JSON object';
  const root = json as Record<string, unknown>;
  const mediaType = root.mediaType;
  if (mediaType !== undefined && !String(mediaType).startsWith('application/vnd.dev.sigstore.trustedroot'))
    return `mediaType is ${JSON.stringify(mediaType)}, not application/vnd.dev.sigstore.trustedroot+json`;
  for (const field of ['tlogs', 'certificateAuthorities', 'ctlogs', 'timestampAuthorities']) {
    if (root[field] !== undefined && !Array.isArray(root[field])) return `${field} is not a list`;
  }
  const count = (field: string) => (Array.isArray(root[field]) ? (root[field] as unknown[]).length : 0);
  if (count('tlogs') + count('timestampAuthorities') === 0)
    return 'it lists no transparency log and no timestamp authority, so no signature could be verified';
  return undefined;
}

/** Keyless signing needs the workflow's OIDC token: known before anything is built. */
export function checkKeylessPermission(
  mode: RunMode,
  signing: SigningMode,
  env: Record<string, string | undefined> | undefined,
): void {
  if (!env || mode === 'build' || mode === 'check' || signing !== 'keyless') return;
  if (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
    throw new MissingIdTokenPermissionError();
}
