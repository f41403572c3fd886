/**
 * Signing end to end: a real registry (distribution 2.8, TLS + htpasswd, no referrers API) and a mock
 * Sigstore (Fulcio, Rekor, TSA over loopback HTTP). The multi-arch busybox base image is signed keyless
 * (index and each platform), attested with a real Syft SPDX SBOM, the bundles attached as cosign 3
 * referrers through the sha256-<hex> fallback tag, then checked independently with skopeo and verified
 * with @sigstore/verify: good bundles pass; an altered one, a wrong identity and the wrong key fail.
 *
 * Run: npx vitest run --project e2e test/e2e/sign.test.ts
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { describeFailure, execProcess } from '../../src/process/exec.js';
import { RegistryClient } from '../../src/registry/client.js';
import { resolverFromInputs } from '../../src/registry/credentials.js';
import {
  fallbackTag,
  parseReferrerManifest,
  type SubjectDescriptor,
} from '../../src/registry/referrer-manifest.js';
import { listReferrers, ReferrerWriter, type AttachResult } from '../../src/registry/referrers.js';
import { AttachedVerificationError, attachBundle, verifyAttached } from '../../src/sign/bundle-referrers.js';
import { SIGSTORE_BUNDLE_V03_MEDIA_TYPE } from '../../src/sign/cosign-format.js';
import { COSIGN_SIGN_PREDICATE_TYPE, SPDX_PREDICATE_TYPE } from '../../src/sign/predicates.js';
import {
  attest,
  loadSigningKey,
  signDigest,
  type SignerConfig,
  type SigningKey,
} from '../../src/sign/signer.js';
import { trustMaterialFromJSON, type TrustMaterial } from '../../src/sign/verify.js';
import { fixturePath } from '../shared-fixtures.js';
import { publishBaseImage, registryArgs } from './harness/base-images.js';
import { ensureHostTools } from './harness/host-tools.js';
import { startRegistry, type TestRegistry } from './harness/registry.js';
import { GITHUB_ACTIONS_ISSUER, startSigstoreStack, type SigstoreStack } from './harness/sigstore-stack.js';

const REPO = 'base/busybox';
const IDENTITY = 'https://github.com/acme/edgeship-demo/.github/workflows/release.yml@refs/tags/v1.0.0';
const KEYLESS = { kind: 'certificate' as const, identity: IDENTITY, issuer: GITHUB_ACTIONS_ISSUER };
const SBOM_FIXTURE = 'syft/spdx-json/alpine-latest_syft-0.57.0_spdx-2.2.json';
const TOOL_TIMEOUT_MS = 2 * 60_000;

interface IndexJson {
  mediaType?: string;
  manifests?: {
    digest: string;
    mediaType: string;
    size: number;
    artifactType?: string;
    platform?: { architecture?: string };
  }[];
}

async function skopeoRaw(reg: TestRegistry, reference: string): Promise<string> {
  const result = await execProcess(
    'skopeo',
    ['inspect', '--raw', ...registryArgs(reg), `docker://${reference}`],
    {
      timeoutMs: TOOL_TIMEOUT_MS,
    },
  );
  if (result.exitCode !== 0 || result.failure) throw new Error(describeFailure('skopeo', result));
  return result.stdout;
}

describe('signing and attaching to a real registry', () => {
  let reg: TestRegistry | undefined;
  let stack: SigstoreStack | undefined;
  let client: RegistryClient | undefined;
  let writer: ReferrerWriter | undefined;
  let trust: TrustMaterial;
  let keyless: SignerConfig;
  let index: SubjectDescriptor;
  const platforms = new Map<string, SubjectDescriptor>();
  const attached = new Map<string, AttachResult[]>();
  let signingKey: SigningKey;

  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} not started`);
    return value;
  };
  const registry = () => need(reg, 'registry');
  const sigstore = () => need(stack, 'sigstore stack');
  const registryClient = () => need(client, 'registry client');
  const referrerWriter = () => need(writer, 'referrer writer');
  const remember = (digest: string, result: AttachResult) =>
    attached.set(digest, [...(attached.get(digest) ?? []), result]);

  beforeAll(async () => {
    await ensureHostTools();
    reg = await startRegistry();
    stack = await startSigstoreStack();
    const baseRef = await publishBaseImage(reg);
    expect(baseRef).toBe(`${reg.host}/${REPO}:1`);
    client = new RegistryClient({
      registry: reg.host,
      credentials: resolverFromInputs(reg.host, reg.username, reg.password),
      ca: await readFile(reg.caFile, 'utf8'),
    });
    writer = new ReferrerWriter(client);
    trust = trustMaterialFromJSON(stack.trustedRoot);
    const sigstoreStack = stack;
    keyless = {
      identity: {
        kind: 'keyless',
        tokenProvider: {
          getToken: async () => sigstoreStack.oidcToken(IDENTITY, { repository: 'acme/edgeship-demo' }),
        },
        fulcioURL: stack.fulcioURL,
      },
      rekorURL: stack.rekorURL,
      tsaURL: stack.tsaURL,
    };
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    signingKey = loadSigningKey(
      privateKey
        .export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'e2e-pass' })
        .toString(),
      'e2e-pass',
    );

    const top = await client.getManifest(REPO, '1');
    index = { mediaType: top.mediaType, digest: top.digest, size: top.size };
    for (const entry of (top.json as IndexJson).manifests ?? []) {
      platforms.set(entry.platform?.architecture ?? entry.digest, {
        mediaType: entry.mediaType,
        digest: entry.digest,
        size: entry.size,
      });
    }
    expect([...platforms.keys()].sort()).toEqual(['amd64', 'arm64']);
  });

  afterAll(async () => {
    await client?.close();
    await stack?.stop();
    await reg?.stop();
  });

  it('signs the index and each platform keyless and attaches the bundles as referrers', async () => {
    const certificates = new Set<string>();
    for (const subject of [index, ...platforms.values()]) {
      const signature = await signDigest(keyless, subject.digest);
      const material = (
        JSON.parse(signature.bundle.toString('utf8')) as {
          verificationMaterial: { certificate?: { rawBytes: string } };
        }
      ).verificationMaterial;
      certificates.add(material.certificate?.rawBytes ?? '');
      expect(signature.identity).toBe(IDENTITY);
      expect(signature.issuer).toBe(GITHUB_ACTIONS_ISSUER);
      const result = await attachBundle(
        referrerWriter(),
        REPO,
        subject,
        signature.bundle,
        signature.predicateType,
      );
      expect(result.via).toBe('fallback-tag');
      expect(result.fallbackTag).toBe(fallbackTag(subject.digest));
      remember(subject.digest, result);
    }
    // One ephemeral key and one Fulcio certificate for every signature of the run; a log entry and a timestamp each.
    expect(sigstore().requests()).toMatchObject({ fulcio: 1, rekor: 3, tsa: 3 });
    expect(certificates.size).toBe(1);
    expect([...certificates][0]).not.toBe('');
  });

  it('attests a real SPDX SBOM for the index', async () => {
    const predicate = JSON.parse(await readFile(fixturePath(SBOM_FIXTURE), 'utf8')) as {
      spdxVersion: string;
    };
    expect(predicate.spdxVersion).toBe('SPDX-2.2');
    const sbom = await attest(keyless, index.digest, SPDX_PREDICATE_TYPE, predicate, {
      subjectName: `${registry().host}/${REPO}`,
    });
    const result = await attachBundle(referrerWriter(), REPO, index, sbom.bundle, sbom.predicateType);
    remember(index.digest, result);
  });

  it('lists the referrers in the fallback tag index, as skopeo sees it', async () => {
    for (const subject of [index, ...platforms.values()]) {
      const raw = JSON.parse(
        await skopeoRaw(registry(), `${registry().host}/${REPO}:${fallbackTag(subject.digest)}`),
      ) as IndexJson;
      expect(raw.mediaType).toBe('application/vnd.oci.image.index.v1+json');
      const expected = (attached.get(subject.digest) ?? []).map((r) => r.referrer.digest);
      expect(raw.manifests?.map((m) => m.digest)).toEqual(expected);
      expect(raw.manifests?.every((m) => m.artifactType === SIGSTORE_BUNDLE_V03_MEDIA_TYPE)).toBe(true);
      // And each referrer manifest is cosign's shape, pointing back at the subject.
      for (const digest of expected) {
        const manifest = parseReferrerManifest(
          await skopeoRaw(registry(), `${registry().host}/${REPO}@${digest}`),
        );
        expect(manifest.subject).toEqual(subject);
        expect(manifest.layers.map((l) => l.mediaType)).toEqual([SIGSTORE_BUNDLE_V03_MEDIA_TYPE]);
      }
    }
    expect(attached.get(index.digest)).toHaveLength(2);
    expect((await listReferrers(registryClient(), REPO, index.digest)).map((d) => d.digest)).toEqual(
      attached.get(index.digest)?.map((r) => r.referrer.digest),
    );
  });

  it('verifies every attached bundle with @sigstore/verify', async () => {
    const top = await verifyAttached(registryClient(), REPO, index.digest, trust, KEYLESS, {
      requiredPredicateTypes: [COSIGN_SIGN_PREDICATE_TYPE, SPDX_PREDICATE_TYPE],
    });
    expect(top.verified).toHaveLength(2);
    expect(top.otherSigners).toEqual([]);
    for (const subject of platforms.values()) {
      const result = await verifyAttached(registryClient(), REPO, subject.digest, trust, KEYLESS, {
        requiredPredicateTypes: [COSIGN_SIGN_PREDICATE_TYPE],
      });
      expect(result.verified.map((v) => [v.predicateType, v.identity, v.issuer])).toEqual([
        [COSIGN_SIGN_PREDICATE_TYPE, IDENTITY, GITHUB_ACTIONS_ISSUER],
      ]);
    }
  });

  it('refuses the image for another identity or issuer', async () => {
    const wrong = {
      ...KEYLESS,
      identity: 'https://github.com/mallory/fork/.github/workflows/release.yml@refs/tags/v1.0.0',
    };
    await expect(verifyAttached(registryClient(), REPO, index.digest, trust, wrong)).rejects.toThrow(
      /no Sigstore bundle attached to .*base\/busybox@sha256:[0-9a-f]{64} is signed by https:\/\/github\.com\/mallory\/fork/,
    );
    await expect(
      verifyAttached(registryClient(), REPO, index.digest, trust, {
        ...KEYLESS,
        issuer: 'https://accounts.google.com',
      }),
    ).rejects.toBeInstanceOf(AttachedVerificationError);
  });

  it('signs a platform with a key too; each signer verifies on its own', async () => {
    const amd64 = need(platforms.get('amd64'), 'amd64 platform');
    const keyConfig: SignerConfig = {
      identity: { kind: 'key', key: signingKey },
      rekorURL: sigstore().rekorURL,
      tsaURL: sigstore().tsaURL,
    };
    const signature = await signDigest(keyConfig, amd64.digest);
    expect(signature.publicKeyHint).toBe(signingKey.hint);
    remember(
      amd64.digest,
      await attachBundle(referrerWriter(), REPO, amd64, signature.bundle, signature.predicateType),
    );

    const byKey = await verifyAttached(registryClient(), REPO, amd64.digest, trust, {
      kind: 'key',
      publicKey: signingKey.publicKeyPem,
    });
    expect(byKey.verified.map((v) => v.publicKeyHint)).toEqual([signingKey.hint]);
    expect(byKey.otherSigners).toHaveLength(1);
    const byIdentity = await verifyAttached(registryClient(), REPO, amd64.digest, trust, KEYLESS);
    expect(byIdentity.verified).toHaveLength(1);

    const otherKey = loadSigningKey(
      generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
    );
    await expect(
      verifyAttached(registryClient(), REPO, amd64.digest, trust, {
        kind: 'key',
        publicKey: otherKey.publicKeyPem,
      }),
    ).rejects.toThrow(/is signed by the public key with hint .*signed with another key/);
  });

  it('fails verification once an altered bundle is attached', async () => {
    const arm64 = need(platforms.get('arm64'), 'arm64 platform');
    const good = need(attached.get(arm64.digest)?.[0], 'arm64 signature');
    const manifest = parseReferrerManifest(
      (await registryClient().getManifest(REPO, good.referrer.digest)).body,
    );
    const layer = need(manifest.layers[0], 'bundle layer');
    const bundle = JSON.parse((await registryClient().getBlob(REPO, layer.digest)).toString()) as {
      dsseEnvelope: { signatures: { sig: string }[] };
    };
    const signature = need(bundle.dsseEnvelope.signatures[0], 'DSSE signature');
    const bytes = Buffer.from(signature.sig, 'base64');
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0x01;
    signature.sig = bytes.toString('base64');
    const tampered = await attachBundle(
      referrerWriter(),
      REPO,
      arm64,
      Buffer.from(JSON.stringify(bundle)),
      COSIGN_SIGN_PREDICATE_TYPE,
    );
    remember(arm64.digest, tampered);

    const raw = JSON.parse(
      await skopeoRaw(registry(), `${registry().host}/${REPO}:${fallbackTag(arm64.digest)}`),
    ) as IndexJson;
    expect(raw.manifests?.map((m) => m.digest)).toEqual([good.referrer.digest, tampered.referrer.digest]);

    const error = (await verifyAttached(registryClient(), REPO, arm64.digest, trust, KEYLESS).catch(
      (e: unknown) => e,
    )) as AttachedVerificationError;
    expect(error).toBeInstanceOf(AttachedVerificationError);
    expect(error.message).toContain(
      `referrer ${tampered.referrer.digest} (${COSIGN_SIGN_PREDICATE_TYPE}): SIGNATURE_MISMATCH`,
    );
    expect(error.message).toMatch(
      /the DSSE signature does not verify with the signing certificate's key: the bundle was altered/,
    );
    expect(error.failures.map((f) => f.referrer)).toEqual([tampered.referrer.digest]);
    expect(error.verified.map((v) => v.referrer)).toEqual([good.referrer.digest]);
  });
});
