import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { COSIGN_SIGN_PREDICATE_TYPE, SPDX_PREDICATE_TYPE } from '../../../src/sign/predicates.js';
import {
  attest,
  githubOidcTokenProvider,
  loadSigningKey,
  MissingIdTokenPermissionError,
  prepareSigning,
  publicKeyHint,
  signDigest,
  SigningError,
  signStatement,
  type KeylessIdentity,
  type SignerConfig,
} from '../../../src/sign/signer.js';
import { attestationStatement } from '../../../src/sign/statements.js';
import {
  BundleVerificationError,
  trustMaterialFromJSON,
  verifyBundle,
  type TrustMaterial,
} from '../../../src/sign/verify.js';
import {
  GITHUB_ACTIONS_ISSUER,
  startSigstoreStack,
  type SigstoreStack,
} from '../../e2e/harness/sigstore-stack.js';

const IDENTITY = 'https://github.com/acme/agent/.github/workflows/release.yml@refs/tags/v1.2.3';
const DIGEST = `sha256:${'5e'.repeat(32)}`;

function ecPem(curve = 'prime256v1', password?: string): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
  return privateKey
    .export({
      format: 'pem',
      type: 'pkcs8',
      ...(password ? { cipher: 'aes-256-cbc', passphrase: password } : {}),
    })
    .toString();
}

describe('loadSigningKey', () => {
  it('reads PKCS#8 P-256 keys, plain and encrypted, and computes cosign’s hint', () => {
    const plain = loadSigningKey(ecPem());
    expect(plain.algorithm).toBe('ecdsa-p256-sha256');
    expect(plain.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(plain.hint).toBe(publicKeyHint(plain.publicKeyPem));
    expect(Buffer.from(plain.hint, 'base64')).toHaveLength(32);

    const pem = ecPem('prime256v1', 's3cret');
    expect(pem).toMatch(/ENCRYPTED PRIVATE KEY/);
    expect(loadSigningKey(pem, 's3cret').algorithm).toBe('ecdsa-p256-sha256');
    expect(() => loadSigningKey(pem)).toThrow(/encrypted but no key password/);
    expect(() => loadSigningKey(pem, 'wrong')).toThrow(/could not be decrypted with the key password given/);
  });

  it('names the password whichever way a wrong one fails (bad padding, or garbage that happens to end in good padding)', () => {
    const pem = ecPem('prime256v1', 's3cret');
    const failures = new Map<'padding' | 'garbage', string>();
    // About one wrong password in 256 decrypts to valid padding and fails later, reading the garbage as DER.
    for (let i = 0; i < 20_000 && failures.size < 2; i++) {
      try {
        createPrivateKey({ key: pem, format: 'pem', passphrase: `wrong-${i}` });
      } catch (error) {
        failures.set(/bad decrypt/i.test((error as Error).message) ? 'padding' : 'garbage', `wrong-${i}`);
      }
    }
    expect([...failures.keys()].sort()).toEqual(['garbage', 'padding']);
    for (const password of failures.values()) {
      expect(() => loadSigningKey(pem, password)).toThrow(
        expect.objectContaining({ code: 'KEY_PASSWORD_WRONG' }) as Error,
      );
    }
  });

  it('reads SEC1 EC, RSA and Ed25519 keys', () => {
    const { privateKey: ec } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(loadSigningKey(ec.export({ format: 'pem', type: 'sec1' }).toString()).algorithm).toBe(
      'ecdsa-p256-sha256',
    );
    const { privateKey: rsa } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(loadSigningKey(rsa.export({ format: 'pem', type: 'pkcs1' }).toString()).algorithm).toBe(
      'rsa-sha256',
    );
    const { privateKey: ed } = generateKeyPairSync('ed25519');
    expect(loadSigningKey(ed.export({ format: 'pem', type: 'pkcs8' }).toString()).algorithm).toBe('ed25519');
  });

  it('refuses keys it cannot sign with compatibly, with the reason', () => {
    expect(() => loadSigningKey(ecPem('secp384r1'))).toThrow(/EC key on secp384r1.*P-256/);
    const { privateKey: small } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => loadSigningKey(small.export({ format: 'pem', type: 'pkcs8' }).toString())).toThrow(
      /1024 bits/,
    );
    expect(() =>
      loadSigningKey(
        '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----',
      ),
    ).toThrow(/cosign's own encrypted key format/);
    expect(() => loadSigningKey('not a key')).toThrow(/not a PEM private key/);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(() => loadSigningKey(publicKey.export({ format: 'pem', type: 'spki' }).toString())).toThrow(
      /not a PEM private key/,
    );
  });

  it('computes the same hint from PEM, DER and KeyObject', () => {
    const key = loadSigningKey(ecPem());
    const object = createPublicKey(key.publicKeyPem);
    const der = object.export({ format: 'der', type: 'spki' });
    expect(publicKeyHint(object)).toBe(key.hint);
    expect(publicKeyHint(der)).toBe(key.hint);
  });
});

describe('githubOidcTokenProvider', () => {
  const jwt = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.';

  it('tells the user to grant id-token: write when the request variables are missing', async () => {
    const provider = githubOidcTokenProvider({ env: {} });
    await expect(provider.getToken()).rejects.toBeInstanceOf(MissingIdTokenPermissionError);
    await expect(provider.getToken()).rejects.toThrow(/permissions: id-token: write/);
  });

  it('asks for the sigstore audience with the request token', async () => {
    const calls: { url: string; auth: string | null }[] = [];
    const fetchImpl = (async (url: URL | string, init?: RequestInit) => {
      calls.push({ url: String(url), auth: new Headers(init?.headers).get('authorization') });
      return new Response(JSON.stringify({ value: jwt }), { status: 200 });
    }) as typeof fetch;
    const provider = githubOidcTokenProvider({
      env: {
        ACTIONS_ID_TOKEN_REQUEST_URL: 'https://pipelines.example/idtoken?api-version=2.0',
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token',
      },
      fetchImpl,
    });
    await expect(provider.getToken()).resolves.toBe(jwt);
    expect(calls).toEqual([
      {
        url: 'https://pipelines.example/idtoken?api-version=2.0&audience=sigstore',
        auth: 'Bearer request-token',
      },
    ]);
  });

  it('asks over undici by default: the token from a loopback server, its failure reported', async () => {
    const seen: Array<{ url?: string; auth?: string }> = [];
    let answer = { status: 200, body: JSON.stringify({ value: jwt }) };
    const server = createServer((req, res) => {
      seen.push({ url: req.url, auth: req.headers.authorization });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const provider = githubOidcTokenProvider({
        env: {
          ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${port}/idtoken?api-version=2.0`,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token',
        },
        timeoutMs: 5000,
      });
      await expect(provider.getToken()).resolves.toBe(jwt);
      expect(seen).toEqual([
        { url: '/idtoken?api-version=2.0&audience=sigstore', auth: 'Bearer request-token' },
      ]);
      answer = { status: 500, body: 'broken' };
      await expect(provider.getToken()).rejects.toThrow(/HTTP 500: broken/);
    } finally {
      server.close();
    }
  });

  it('reports HTTP failures and answers without a token', async () => {
    const env = { ACTIONS_ID_TOKEN_REQUEST_URL: 'https://x.example/t', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 't' };
    const failing = githubOidcTokenProvider({
      env,
      fetchImpl: (async () => new Response('denied', { status: 403 })) as typeof fetch,
    });
    await expect(failing.getToken()).rejects.toThrow(/HTTP 403: denied/);
    const empty = githubOidcTokenProvider({
      env,
      fetchImpl: (async () => new Response('{}', { status: 200 })) as typeof fetch,
    });
    await expect(empty.getToken()).rejects.toThrow(/no JWT/);
  });
});

describe('signing and verifying against a mock Sigstore', () => {
  let stack: SigstoreStack;
  let trust: TrustMaterial;
  let keyless: SignerConfig;

  beforeAll(async () => {
    stack = await startSigstoreStack();
    trust = trustMaterialFromJSON(stack.trustedRoot);
    keyless = {
      identity: {
        kind: 'keyless',
        tokenProvider: { getToken: async () => stack.oidcToken(IDENTITY) },
        fulcioURL: stack.fulcioURL,
      },
      rekorURL: stack.rekorURL,
      tsaURL: stack.tsaURL,
    };
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const expectedSigner = { kind: 'certificate' as const, identity: IDENTITY, issuer: GITHUB_ACTIONS_ISSUER };

  it('signs keyless: v0.3 bundle with certificate, dsse tlog entry and RFC 3161 timestamp', async () => {
    const result = await signDigest(keyless, DIGEST);
    expect(result.identity).toBe(IDENTITY);
    expect(result.issuer).toBe(GITHUB_ACTIONS_ISSUER);
    expect(result.predicateType).toBe(COSIGN_SIGN_PREDICATE_TYPE);
    const bundle = JSON.parse(result.bundle.toString()) as {
      mediaType: string;
      verificationMaterial: {
        certificate?: unknown;
        tlogEntries: { kindVersion: { kind: string } }[];
        timestampVerificationData: { rfc3161Timestamps: unknown[] };
      };
      dsseEnvelope: { payloadType: string };
    };
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(bundle.verificationMaterial.certificate).toBeDefined();
    expect(bundle.verificationMaterial.tlogEntries.map((e) => e.kindVersion.kind)).toEqual(['dsse']);
    expect(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps).toHaveLength(1);
    expect(bundle.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');

    const verified = verifyBundle(result.bundle, trust, { subjectDigest: DIGEST, expected: expectedSigner });
    expect(verified).toMatchObject({ predicateType: COSIGN_SIGN_PREDICATE_TYPE, identity: IDENTITY });
    expect(stack.requests()).toMatchObject({ fulcio: 1, rekor: 1, tsa: 1 });
  });

  it('signs a whole run with one key and certificate, and renews both once the certificate has under 3 minutes left', async () => {
    let clock = Date.now();
    const run: SignerConfig = {
      ...keyless,
      identity: { ...(keyless.identity as KeylessIdentity), now: () => clock },
    };
    const before = stack.requests().fulcio;
    const certificateOf = (bundle: Buffer) =>
      (JSON.parse(bundle.toString()) as { verificationMaterial: { certificate: { rawBytes: string } } })
        .verificationMaterial.certificate.rawBytes;
    const first = await signDigest(run, DIGEST);
    const second = await attest(run, DIGEST, SPDX_PREDICATE_TYPE, { spdxVersion: 'SPDX-2.3' });
    expect(certificateOf(second.bundle)).toBe(certificateOf(first.bundle));
    expect(stack.requests().fulcio - before).toBe(1);
    // 8 minutes on, the 10-minute certificate has 2 left: a new key and certificate.
    clock += 8 * 60_000;
    const third = await signDigest(run, DIGEST);
    expect(certificateOf(third.bundle)).not.toBe(certificateOf(first.bundle));
    expect(stack.requests().fulcio - before).toBe(2);
    for (const signed of [first, second, third]) {
      expect(
        verifyBundle(signed.bundle, trust, { subjectDigest: DIGEST, expected: expectedSigner }),
      ).toMatchObject({
        identity: IDENTITY,
      });
    }
  });

  it('prepares the run certificate ahead: the first signature uses it, and a failed preparation is asked again', async () => {
    const run: SignerConfig = { ...keyless, identity: { ...(keyless.identity as KeylessIdentity) } };
    const before = stack.requests().fulcio;
    prepareSigning(run);
    prepareSigning(run);
    await vi.waitFor(() => expect(stack.requests().fulcio - before).toBe(1), {
      timeout: 5_000,
      interval: 10,
    });
    const signed = await signDigest(run, DIGEST);
    expect(stack.requests().fulcio - before).toBe(1);
    expect(
      verifyBundle(signed.bundle, trust, { subjectDigest: DIGEST, expected: expectedSigner }),
    ).toMatchObject({
      identity: IDENTITY,
    });
    // A token provider that fails once: the signature that waited for the preparation fails with its error (no
    // second ask in a row), the next one asks again and succeeds.
    let calls = 0;
    const flaky: SignerConfig = {
      ...keyless,
      identity: {
        ...(keyless.identity as KeylessIdentity),
        tokenProvider: {
          getToken: async () => {
            calls += 1;
            if (calls === 1) throw new Error('token endpoint down');
            return stack.oidcToken(IDENTITY);
          },
        },
      },
    };
    prepareSigning(flaky);
    await expect(signDigest(flaky, DIGEST)).rejects.toThrow(/token endpoint down/);
    expect(calls).toBe(1);
    const retried = await signDigest(flaky, DIGEST);
    expect(calls).toBe(2);
    expect(
      verifyBundle(retried.bundle, trust, { subjectDigest: DIGEST, expected: expectedSigner }),
    ).toMatchObject({
      identity: IDENTITY,
    });
    // A key signs without asking anyone: nothing to prepare.
    const fulcio = stack.requests().fulcio;
    prepareSigning({ ...keyless, identity: { kind: 'key', key: loadSigningKey(ecPem()) } });
    expect(stack.requests().fulcio).toBe(fulcio);
  });

  it('attests with a predicate and verifies it, with an identity RegExp too', async () => {
    const result = await attest(keyless, DIGEST, SPDX_PREDICATE_TYPE, { spdxVersion: 'SPDX-2.3' });
    const verified = verifyBundle(result.bundle, trust, {
      subjectDigest: DIGEST,
      expected: { ...expectedSigner, identity: /^https:\/\/github\.com\/acme\/agent\/\.github\/workflows\// },
    });
    expect(verified.statement.predicate).toEqual({ spdxVersion: 'SPDX-2.3' });
  });

  it('refuses altered bundles, other signers and other subjects with the reason', async () => {
    const { bundle } = await signDigest(keyless, DIGEST);
    const check = { subjectDigest: DIGEST, expected: expectedSigner };

    const json = JSON.parse(bundle.toString()) as {
      dsseEnvelope: { signatures: { sig: string }[]; payload: string };
    };
    const signature = json.dsseEnvelope.signatures[0];
    if (!signature) throw new Error('no signature');
    const bytes = Buffer.from(signature.sig, 'base64');
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01;
    signature.sig = bytes.toString('base64');
    const tampered = Buffer.from(JSON.stringify(json));
    expect(() => verifyBundle(tampered, trust, check)).toThrow(/DSSE signature does not verify.*altered/);

    expect(() =>
      verifyBundle(bundle, trust, {
        ...check,
        expected: { ...expectedSigner, identity: 'https://github.com/evil/x' },
      }),
    ).toThrow(expect.objectContaining({ code: 'UNTRUSTED_SIGNER' }) as BundleVerificationError);
    expect(() =>
      verifyBundle(bundle, trust, {
        ...check,
        expected: { ...expectedSigner, issuer: 'https://accounts.example' },
      }),
    ).toThrow(/signed by .* from https:\/\/token\.actions\.githubusercontent\.com, expected/);
    expect(() =>
      verifyBundle(bundle, trust, { ...check, subjectDigest: `sha256:${'77'.repeat(32)}` }),
    ).toThrow(/statement is about sha256:5e5e.*not sha256:7777/);
    const keyExpected = { kind: 'key' as const, publicKey: loadSigningKey(ecPem()).publicKeyPem };
    expect(() => verifyBundle(bundle, trust, { ...check, expected: keyExpected })).toThrow(
      /signed by a certificate/,
    );

    const twice = JSON.parse(bundle.toString()) as { dsseEnvelope: { signatures: unknown[] } };
    twice.dsseEnvelope.signatures.push(twice.dsseEnvelope.signatures[0]);
    expect(() => verifyBundle(Buffer.from(JSON.stringify(twice)), trust, check)).toThrow(
      expect.objectContaining({
        code: 'INVALID_BUNDLE',
        message: expect.stringMatching(/signatures/) as string,
      }) as BundleVerificationError,
    );
    const badCertificate = JSON.parse(bundle.toString()) as {
      verificationMaterial: { certificate: { rawBytes: string } };
    };
    badCertificate.verificationMaterial.certificate.rawBytes =
      Buffer.from('not a certificate').toString('base64');
    expect(() => verifyBundle(Buffer.from(JSON.stringify(badCertificate)), trust, check)).toThrow(
      expect.objectContaining({
        code: 'INVALID_BUNDLE',
        message: expect.stringMatching(/^the bundle's certificate cannot be parsed: /) as string,
      }) as BundleVerificationError,
    );

    const otherStack = await startSigstoreStack();
    try {
      const otherTrust = trustMaterialFromJSON(otherStack.trustedRoot);
      expect(() => verifyBundle(bundle, otherTrust, check)).toThrow(
        expect.objectContaining({ code: 'VERIFICATION_FAILED' }) as BundleVerificationError,
      );
    } finally {
      await otherStack.stop();
    }
  });

  it('signs with a key: public key hint in the bundle, verified with the public key', async () => {
    const key = loadSigningKey(ecPem('prime256v1', 'pw'), 'pw');
    const config: SignerConfig = {
      identity: { kind: 'key', key },
      rekorURL: stack.rekorURL,
      tsaURL: stack.tsaURL,
    };
    const result = await signDigest(config, DIGEST);
    expect(result.publicKeyHint).toBe(key.hint);
    expect(result.identity).toBeUndefined();
    const bundle = JSON.parse(result.bundle.toString()) as {
      verificationMaterial: { publicKey?: { hint: string } };
    };
    expect(bundle.verificationMaterial.publicKey).toEqual({ hint: key.hint });
    const verified = verifyBundle(result.bundle, trust, {
      subjectDigest: DIGEST,
      expected: { kind: 'key', publicKey: key.publicKeyPem },
    });
    expect(verified.publicKeyHint).toBe(key.hint);

    const other = loadSigningKey(ecPem());
    expect(() =>
      verifyBundle(result.bundle, trust, {
        subjectDigest: DIGEST,
        expected: { kind: 'key', publicKey: other.publicKeyPem },
      }),
    ).toThrow(expect.objectContaining({ code: 'WRONG_KEY' }) as BundleVerificationError);
    expect(() =>
      verifyBundle(result.bundle, trust, { subjectDigest: DIGEST, expected: expectedSigner }),
    ).toThrow(/signed with a key/);
  });

  it('signs with Ed25519 and RSA keys, without transparency log or timestamp when asked', async () => {
    for (const type of ['ed25519', 'rsa'] as const) {
      const { privateKey } =
        type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
      const key = loadSigningKey(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
      const result = await signDigest(
        { identity: { kind: 'key', key }, rekorURL: false, tsaURL: false },
        DIGEST,
      );
      const expected = { kind: 'key' as const, publicKey: key.publicKeyPem };
      expect(() => verifyBundle(result.bundle, trust, { subjectDigest: DIGEST, expected })).toThrow(
        /expected 1 timestamps, got 0/,
      );
      expect(
        verifyBundle(result.bundle, trust, {
          subjectDigest: DIGEST,
          expected,
          tlogThreshold: 0,
          timestampThreshold: 0,
        }).predicateType,
      ).toBe(COSIGN_SIGN_PREDICATE_TYPE);
    }
  });

  it('passes the OIDC provider’s own errors through and names the failing service otherwise', async () => {
    const noPermission: SignerConfig = {
      ...keyless,
      identity: {
        kind: 'keyless',
        tokenProvider: githubOidcTokenProvider({ env: {} }),
        fulcioURL: stack.fulcioURL,
      },
    };
    await expect(signDigest(noPermission, DIGEST)).rejects.toBeInstanceOf(MissingIdTokenPermissionError);

    const secretToken = `x.${Buffer.from('{"nosub":true}').toString('base64url')}.${randomBytes(8).toString('hex')}`;
    const badToken: SignerConfig = {
      ...keyless,
      identity: {
        kind: 'keyless',
        tokenProvider: { getToken: async () => secretToken },
        fulcioURL: stack.fulcioURL,
      },
    };
    const error = (await signDigest(badToken, DIGEST).catch((e: unknown) => e)) as SigningError;
    expect(error).toBeInstanceOf(SigningError);
    expect(error.message).toMatch(/OIDC token is not a JWT with a subject/);
    expect(error.message).not.toContain(secretToken);

    const deadFulcio: SignerConfig = {
      ...keyless,
      identity: {
        ...keyless.identity,
        kind: 'keyless',
        tokenProvider: { getToken: async () => stack.oidcToken(IDENTITY) },
        fulcioURL: `${stack.rekorURL}/nowhere`,
      },
      retries: 0,
    };
    await expect(signDigest(deadFulcio, DIGEST)).rejects.toThrow(
      /signing failed at Fulcio \(http:\/\/127\.0\.0\.1:\d+\/nowhere\)/,
    );
  });

  it('signs an exact statement given as bytes', async () => {
    const statement = attestationStatement(DIGEST, 'https://example.com/custom/v1', { ok: true });
    const result = await signStatement(keyless, statement, 'https://example.com/custom/v1');
    const json = JSON.parse(result.bundle.toString()) as { dsseEnvelope: { payload: string } };
    expect(Buffer.from(json.dsseEnvelope.payload, 'base64').equals(statement)).toBe(true);
  });
});
