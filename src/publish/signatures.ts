import { digestOf } from '../registry/digest.js';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, type SubjectDescriptor } from '../registry/referrer-manifest.js';
import type { ReferrerWriter } from '../registry/referrers.js';
import type { SignatureFormat } from '../settings/settings.js';
import { attachBundle } from '../sign/bundle-referrers.js';
import {
  classicAttestationLayer,
  classicSignatureLayer,
  classicTag,
  simpleSigningPayload,
} from '../sign/classic-format.js';
import { bundleReferrerManifest } from '../sign/cosign-format.js';
import { ClassicTagWriter } from '../sign/classic-writer.js';
import { COSIGN_SIGN_PREDICATE_TYPE } from '../sign/predicates.js';
import { attest, signDigest, signPayload, type SignerConfig, type SignResult } from '../sign/signer.js';

/**
 * One signature or attestation of the release, on the index (`platform` 'index') or a platform image:
 * a Sigstore bundle stored as a referrer, or a classic layer in the digest's `.sig`/`.att` tag.
 */
export type SignatureRecord = {
  subject: string;
  platform: string;
  /** Image signatures (either format): https://sigstore.dev/cosign/sign/v1. */
  predicateType: string;
} & ({ format: 'bundle'; referrer: string } | { format: 'classic'; tag: string; layer: string });

/**
 * Signs and attests the release in the formats `signature-format` asks for, and records each. The same
 * calls serve every predicate: `sign` (the image signature), `attest` (any in-toto predicate) and
 * `attach` (a statement signed elsewhere, e.g. the deployment manifest). An attestation is signed once
 * (one certificate, one Rekor entry) and stored in both formats; an image signature is signed per format
 * (the bundle signs an in-toto statement, the classic layer cosign's simple signing payload).
 */
export class ReleaseSignatures {
  readonly records: SignatureRecord[] = [];
  /** Each attached bundle with the subject and predicate type it was attached under (GitHub attestations read them). */
  readonly bundles: Array<{ subject: string; platform: string; predicateType: string; bundle: Buffer }> = [];
  /** The first signature made: whom verification expects (keyless: its identity and issuer). */
  first: SignResult | undefined;
  readonly #classic: ClassicTagWriter;

  constructor(
    private readonly referrers: ReferrerWriter,
    private readonly repository: string,
    private readonly now: () => Date,
    /** Where signatures go; default both. */
    readonly format: SignatureFormat = 'both',
    /** The image's repository as cosign and containers/image name it (`registry/path`). */
    private readonly dockerReference = repository,
  ) {
    this.#classic = new ClassicTagWriter(referrers.client, repository, referrers.firstReads);
  }

  /** Whether Sigstore bundles are stored as referrers (`bundle`, `both`). */
  get storesBundles(): boolean {
    return this.format !== 'classic';
  }

  /** Whether cosign's classic `.sig`/`.att` tags are written (`classic`, `both`). */
  get storesClassic(): boolean {
    return this.format !== 'bundle';
  }

  /** Signs `subject` (cosign's image signature) in each format. */
  async sign(signer: SignerConfig, subject: SubjectDescriptor, platform: string): Promise<void> {
    if (this.storesBundles) {
      const signed = await signDigest(signer, subject.digest);
      this.#keep(subject, platform, signed);
      await this.#attachBundle(subject, platform, signed);
    }
    if (this.storesClassic) {
      const payload = simpleSigningPayload(this.dockerReference, subject.digest);
      const signed = await signPayload(signer, payload, COSIGN_SIGN_PREDICATE_TYPE);
      this.first ??= signed;
      const written = await this.#classic.append(
        subject.digest,
        'sig',
        classicSignatureLayer(payload, signed.bundle),
      );
      this.#record(subject, platform, COSIGN_SIGN_PREDICATE_TYPE, {
        format: 'classic',
        tag: written.tag,
        layer: written.layer,
      });
    }
  }

  /** Attests `predicate` (of `predicateType`) about `subject`, stored in each format. */
  async attest(
    signer: SignerConfig,
    subject: SubjectDescriptor,
    platform: string,
    predicateType: string,
    predicate: unknown,
  ): Promise<SignResult> {
    const result = await attest(signer, subject.digest, predicateType, predicate);
    await this.attach(subject, platform, result);
    return result;
  }

  /**
   * Stores a signed in-toto statement about `subject` (a DSSE bundle) in each format: the referrer and the `.att`
   * layer are independent writes, made at once; both end before this returns or throws (the first failure). Both
   * are recorded (bundle, then classic) before they start: where each format stores the statement (the referrer
   * manifest's digest, the `.att` tag and layer) follows from the bundle alone, so what lists the records (a
   * deployment manifest) can be made while the writes go on. A record whose write failed stays: nothing that lists
   * the records is published before this settles. With `prepared`, what the writes need is read and uploaded first,
   * all at once (prepareAttach), so fewer round trips follow one another.
   */
  async attach(
    subject: SubjectDescriptor,
    platform: string,
    result: SignResult,
    options: { prepared?: boolean } = {},
  ): Promise<void> {
    this.#keep(subject, platform, result);
    this.first ??= result;
    const layer = classicAttestationLayer(result.bundle, result.predicateType);
    const created = this.now();
    const referrer = digestOf(
      bundleReferrerManifest({
        bundle: result.bundle,
        subject,
        predicateType: result.predicateType,
        created,
      }),
    );
    const { predicateType } = result;
    if (this.storesBundles) this.#record(subject, platform, predicateType, { format: 'bundle', referrer });
    const tag = classicTag(subject.digest, 'att');
    const classicLayer = digestOf(layer.body);
    if (this.storesClassic) {
      this.#record(subject, platform, predicateType, { format: 'classic', tag, layer: classicLayer });
    }
    if (options.prepared) await this.prepareAttach(subject, result);
    const [stored, appended] = await Promise.allSettled([
      this.storesBundles ? this.#storeBundle(subject, result, created) : undefined,
      this.storesClassic ? this.#classic.append(subject.digest, 'att', layer) : undefined,
    ]);
    if (stored.status === 'rejected') throw stored.reason;
    if (appended.status === 'rejected') throw appended.reason;
    if (stored.value !== undefined && stored.value !== referrer) {
      throw new Error(
        `the referrer of ${subject.digest} was stored as ${stored.value}, recorded as ${referrer}`,
      );
    }
    if (appended.value && (appended.value.tag !== tag || appended.value.layer !== classicLayer)) {
      throw new Error(
        `the .att layer of ${subject.digest} was stored as ${appended.value.layer}, not ${classicLayer}`,
      );
    }
  }

  /**
   * What attach(subject, …, result) will need, ahead of it and all at once: the blobs it references go up and the
   * tags it adds to (the subject's fallback index, its `.att` tag) are read, so attach only writes manifests. Nothing
   * is listed anywhere: an unreferenced blob is all a failure leaves.
   */
  async prepareAttach(subject: SubjectDescriptor, result: SignResult): Promise<void> {
    const { client } = this.referrers;
    const path = this.repository;
    await Promise.all([
      this.storesBundles && client.uploadBlob(path, EMPTY_JSON, EMPTY_JSON_DIGEST),
      this.storesBundles &&
        client.uploadBlob(path, result.bundle, digestOf(result.bundle), { knownMissing: true }),
      this.storesBundles && this.referrers.load(path, subject),
      this.storesClassic &&
        this.#classic.prepare(
          subject.digest,
          'att',
          classicAttestationLayer(result.bundle, result.predicateType),
        ),
    ]);
  }

  async #attachBundle(subject: SubjectDescriptor, platform: string, result: SignResult): Promise<void> {
    this.first ??= result;
    const referrer = await this.#storeBundle(subject, result);
    this.#record(subject, platform, result.predicateType, { format: 'bundle', referrer });
  }

  /** Stores the bundle as a referrer of `subject`; returns the referrer manifest's digest. */
  async #storeBundle(subject: SubjectDescriptor, result: SignResult, created = this.now()): Promise<string> {
    const attached = await attachBundle(
      this.referrers,
      this.repository,
      subject,
      result.bundle,
      result.predicateType,
      created,
    );
    return attached.referrer.digest;
  }

  /** The bundle, for GitHub artifact attestations (in every format: the DSSE bundle exists either way). */
  #keep(subject: SubjectDescriptor, platform: string, result: SignResult): void {
    this.bundles.push({
      subject: subject.digest,
      platform,
      predicateType: result.predicateType,
      bundle: result.bundle,
    });
  }

  #record(
    subject: SubjectDescriptor,
    platform: string,
    predicateType: string,
    where: { format: 'bundle'; referrer: string } | { format: 'classic'; tag: string; layer: string },
  ): void {
    this.records.push({ subject: subject.digest, platform, predicateType, ...where });
  }
}
