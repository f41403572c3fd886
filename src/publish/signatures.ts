import type { SubjectDescriptor } from '../registry/referrer-manifest.js';
import type { ReferrerWriter } from '../registry/referrers.js';
import type { SignatureFormat } from '../settings/settings.js';
import { attachBundle } from '../sign/bundle-referrers.js';
import {
  classicAttestationLayer,
  classicSignatureLayer,
  simpleSigningPayload,
} from '../sign/classic-format.js';
import { ClassicTagWriter } from '../sign/classic-tags.js';
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
    this.#classic = new ClassicTagWriter(referrers.client, repository);
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
   * layer are independent writes, made at once; both end before this returns or throws (the first failure).
   */
  async attach(subject: SubjectDescriptor, platform: string, result: SignResult): Promise<void> {
    this.#keep(subject, platform, result);
    this.first ??= result;
    const layer = classicAttestationLayer(result.bundle, result.predicateType);
    const [referrer, classic] = await Promise.allSettled([
      this.storesBundles ? this.#storeBundle(subject, result) : undefined,
      this.storesClassic ? this.#classic.append(subject.digest, 'att', layer) : undefined,
    ]);
    if (referrer.status === 'rejected') throw referrer.reason;
    if (classic.status === 'rejected') throw classic.reason;
    // Recorded in a fixed order (bundle, then classic), whichever write ended first.
    if (referrer.value) {
      this.#record(subject, platform, result.predicateType, { format: 'bundle', referrer: referrer.value });
    }
    if (classic.value) {
      const { tag, layer: written } = classic.value;
      this.#record(subject, platform, result.predicateType, { format: 'classic', tag, layer: written });
    }
  }

  async #attachBundle(subject: SubjectDescriptor, platform: string, result: SignResult): Promise<void> {
    this.first ??= result;
    const referrer = await this.#storeBundle(subject, result);
    this.#record(subject, platform, result.predicateType, { format: 'bundle', referrer });
  }

  /** Stores the bundle as a referrer of `subject`; returns the referrer manifest's digest. */
  async #storeBundle(subject: SubjectDescriptor, result: SignResult): Promise<string> {
    const attached = await attachBundle(
      this.referrers,
      this.repository,
      subject,
      result.bundle,
      result.predicateType,
      this.now(),
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
