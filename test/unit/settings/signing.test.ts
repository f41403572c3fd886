import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InputError, readSettings } from '../../../src/settings/inputs.js';
import { MissingIdTokenPermissionError } from '../../../src/sign/signer.js';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const plainKey = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const encryptedKey = privateKey
  .export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'right' })
  .toString();
const publicDer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({
  format: 'der',
  type: 'spki',
});

/** A trusted root with one transparency log, enough for trust material to be built from it. */
const trustedRoot = JSON.stringify({
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [
    {
      baseUrl: 'https://rekor.example',
      hashAlgorithm: 'SHA2_256',
      publicKey: {
        rawBytes: publicDer.toString('base64'),
        keyDetails: 'PKIX_ECDSA_P256_SHA_256',
        validFor: { start: '2025-01-01T00:00:00Z' },
      },
      logId: { keyId: Buffer.alloc(32, 1).toString('base64') },
    },
  ],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
});

const texts: Record<string, string> = {
  '/w/root.json': trustedRoot,
  '/w/not-json.json': '{ "tlogs": [',
  '/w/wrong.json': JSON.stringify({ tlogs: 'many' }),
  '/w/other.json': JSON.stringify({ mediaType: 'application/json', tlogs: [] }),
};
const env = {
  workspace: '/w',
  fileExists: (p: string) =>
    p === '/w'
      ? ('directory' as const)
      : p === '/w/Dockerfile' || p in texts
        ? ('file' as const)
        : ('missing' as const),
  readText: (p: string) => texts[p] ?? '',
  env: {
    ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1/token',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 't',
  } as Record<string, string | undefined>,
};
const settingsFor = (inputs: Record<string, string>, over: Partial<typeof env> = {}) =>
  readSettings((name) => ({ image: 'ghcr.io/acme/agent', ...inputs })[name] ?? '', { ...env, ...over });

function inputErrorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  }
  throw new Error('no error was thrown');
}

describe('signing inputs are checked up front', () => {
  it('reads a plain key and decrypts an encrypted one', () => {
    expect(settingsFor({ signing: 'key', 'signing-key': plainKey }).publish.key?.algorithm).toBe(
      'ecdsa-p256-sha256',
    );
    const s = settingsFor({ signing: 'key', 'signing-key': encryptedKey, 'signing-key-password': 'right' });
    expect(s.publish.key?.publicKeyPem).toContain('BEGIN PUBLIC KEY');
  });

  it('names signing-key-password when the key is encrypted and the password is missing or wrong', () => {
    const missing = inputErrorOf(() => settingsFor({ signing: 'key', 'signing-key': encryptedKey }));
    expect(missing.input).toBe('signing-key-password');
    expect(missing.message).toMatch(
      /no value was given; expected the password the signing key is encrypted with/,
    );
    const wrong = inputErrorOf(() =>
      settingsFor({ signing: 'key', 'signing-key': encryptedKey, 'signing-key-password': 'wrong' }),
    );
    expect(wrong.input).toBe('signing-key-password');
    expect(wrong.message).toMatch(/this one does not decrypt it/);
    expect(wrong.message).not.toContain('wrong"');
  });

  it('names signing-key when the PEM cannot be read, and never echoes it', () => {
    const broken = plainKey.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!');
    const error = inputErrorOf(() => settingsFor({ signing: 'key', 'signing-key': broken }));
    expect(error.input).toBe('signing-key');
    expect(error.message).toMatch(
      /^Input "signing-key": "\(hidden\)" is not valid; expected a PEM private key/,
    );
    expect(error.message).not.toContain(broken.split('\n')[2]!);
  });

  it('compiles a /regex/ certificate-identity and refuses one that does not compile', () => {
    const s = settingsFor({ 'certificate-identity': '/^https://github\\.com/acme/.*$/' });
    expect(s.publish.expectedIdentity).toBeInstanceOf(RegExp);
    expect(settingsFor({ 'certificate-identity': 'https://x/y' }).publish.expectedIdentity).toBe(
      'https://x/y',
    );
    const error = inputErrorOf(() => settingsFor({ 'certificate-identity': '/^https://(acme/$/' }));
    expect(error.input).toBe('certificate-identity');
    expect(error.message).toMatch(/a \/regular expression\/ that compiles \(Invalid regular expression/);
  });

  it('parses the trusted root and refuses one that is not JSON or not a trusted root', () => {
    expect(settingsFor({ 'trusted-root': 'root.json' }).publish.trustMaterial?.tlogs).toHaveLength(1);
    const notJson = inputErrorOf(() => settingsFor({ 'trusted-root': 'not-json.json' }));
    expect(notJson.input).toBe('trusted-root');
    expect(notJson.message).toMatch(
      /"not-json.json" is not valid; expected a Sigstore trusted_root.json \(it is not JSON/,
    );
    const wrong = inputErrorOf(() => settingsFor({ 'trusted-root': 'wrong.json' }));
    expect(wrong.message).toMatch(
      /"wrong.json" is not valid; expected a Sigstore trusted_root.json \(tlogs is not a list\)/,
    );
    const other = inputErrorOf(() => settingsFor({ 'trusted-root': 'other.json' }));
    expect(other.message).toMatch(
      /\(mediaType is "application\/json", not application\/vnd.dev.sigstore.trustedroot\+json\)/,
    );
  });

  it('leaves the key and the trusted root alone where nothing is signed', () => {
    const build = settingsFor({ mode: 'build', signing: 'key', 'signing-key': encryptedKey });
    expect(build.publish.key).toBeUndefined();
    expect(
      settingsFor({ signing: 'off', 'trusted-root': 'not-json.json' }).publish.trustMaterial,
    ).toBeUndefined();
  });

  it('refuses keyless signing without the OIDC token permission, except in build jobs', () => {
    expect(() => settingsFor({}, { env: {} })).toThrow(MissingIdTokenPermissionError);
    expect(settingsFor({ mode: 'build' }, { env: {} }).mode).toBe('build');
    expect(settingsFor({ signing: 'off' }, { env: {} }).publish.signing).toBe('off');
  });
});
