import type { SubjectDescriptor } from '../registry/referrer-manifest.js';
import type { ReferrerWriter } from '../registry/referrers.js';
import { attachBundle } from '../sign/bundle-referrers.js';
import type { SignResult } from '../sign/signer.js';

/** One bundle attached to the release: to the index (`platform` 'index') or a platform image. */
export interface SignatureRecord {
  subject: string;
  platform: string;
  predicateType: string;
  referrer: string;
}

/** The bundles a publish attaches, in the order they were attached, and the first signature made. */
export class ReleaseSignatures {
  readonly records: SignatureRecord[] = [];
  /** Each attached bundle with the subject and predicate type it was attached under (GitHub attestations read them). */
  readonly bundles: Array<{ subject: string; platform: string; predicateType: string; bundle: Buffer }> = [];
  /** The first signature made: whom verification expects (keyless: its identity and issuer). */
  first: SignResult | undefined;

  constructor(
    private readonly referrers: ReferrerWriter,
    private readonly repository: string,
    private readonly now: () => Date,
  ) {}

  /** Attaches the bundle of `result` to `subject` as a referrer and records it. */
  async attach(subject: SubjectDescriptor, platform: string, result: SignResult): Promise<void> {
    this.first ??= result;
    const attached = await attachBundle(
      this.referrers,
      this.repository,
      subject,
      result.bundle,
      result.predicateType,
      this.now(),
    );
    this.bundles.push({
      subject: subject.digest,
      platform,
      predicateType: result.predicateType,
      bundle: result.bundle,
    });
    this.records.push({
      subject: subject.digest,
      platform,
      predicateType: result.predicateType,
      referrer: attached.referrer.digest,
    });
  }
}
