/** Shared inputs for the deploy tests: a two-platform release that passed the gate, with a production baseline. */
import type {
  BaselineInput,
  DeploymentManifestInput,
  ReleasedImage,
} from '../../../src/deployment/manifest.js';
import {
  loadPolicy,
  type GateVerdict,
  type PlatformVerdict,
  type Policy,
} from '../../../src/policy/index.js';

/** A digest made of one repeated hex character (or a short hex string repeated). */
export function digest(seed: string): string {
  return `sha256:${seed.repeat(Math.ceil(64 / seed.length)).slice(0, 64)}`;
}

export const INDEX = digest('1');
export const AMD64 = digest('a');
export const ARM64 = digest('b');
export const PREV_INDEX = digest('9');
export const PREV_AMD64 = digest('8');
export const PREV_ARM64 = digest('7');
export const SHA = '0123456789abcdef0123456789abcdef01234567';

export function image(
  platform: string,
  imageDigest: string,
  layerSeeds: string[],
  configSeed: string,
): ReleasedImage {
  const layers = layerSeeds.map((seed, i) => ({ digest: digest(seed), size: 1000 * (i + 1) }));
  const configSize = 500;
  return {
    platform,
    digest: imageDigest,
    size: configSize + layers.reduce((s, l) => s + l.size, 0),
    configDigest: digest(configSeed),
    layers,
    config: { user: '65532:65532', healthcheck: true },
  };
}

export function policy(): Policy {
  return loadPolicy({
    policyFile: {
      path: 'policy.yml',
      text: `apiVersion: edgeship/v1
kind: Policy
failOn: high
waivers:
  - id: CVE-2024-1234
    package: openssl
    platforms: [linux/arm64]
    reason: "not reachable: the TLS server is disabled"
    expires: 2099-12-31
  - id: CVE-2023-0001
    reason: unused code path
    expires: 2099-01-31
`,
    },
  });
}

function platformVerdict(platform: string, high: number): PlatformVerdict {
  return {
    platform,
    pass: true,
    counts: { Critical: 0, High: high, Medium: 3, Low: 7, Negligible: 1, Unknown: 0 },
    blocking: [],
    waived: [],
    expiredWaiverHits: [],
    edge: [],
    ignoredByGrype: 0,
  };
}

export function verdict(p: Policy): GateVerdict {
  const arm = platformVerdict('linux/arm64', 1);
  const waiver = p.waivers[0]!;
  const use = { waiver, platform: 'linux/arm64', matchId: 'CVE-2024-1234', packageName: 'openssl' };
  arm.waived.push(use);
  return {
    pass: true,
    platforms: [platformVerdict('linux/amd64', 0), arm],
    waivers: { applied: [use], expired: [], unused: [p.waivers[1]!] },
    problems: [],
  };
}

/** The previous production release: 1.1.0, same base layers as the current one. */
export function baseline(): BaselineInput {
  return {
    channel: 'production',
    version: '1.1.0',
    index: PREV_INDEX,
    platforms: new Map([
      [
        'linux/amd64',
        {
          digest: PREV_AMD64,
          configDigest: digest('c0'),
          layers: [{ digest: digest('a1') }, { digest: digest('a2') }, { digest: digest('a3') }],
        },
      ],
      [
        'linux/arm64',
        {
          digest: PREV_ARM64,
          configDigest: digest('c1'),
          layers: [{ digest: digest('b1') }, { digest: digest('b2') }, { digest: digest('b3') }],
        },
      ],
    ]),
  };
}

export function input(overrides: Partial<DeploymentManifestInput> = {}): DeploymentManifestInput {
  const p = policy();
  return {
    release: {
      version: '1.2.0',
      semver: '1.2.0',
      channel: 'production',
      tags: ['1.2.0', '1.2', '1', 'latest'],
    },
    git: {
      revision: SHA,
      ref: 'refs/tags/v1.2.0',
      workflowRun: 'https://github.com/acme/agent/actions/runs/42',
    },
    created: new Date('2025-06-01T12:00:00.000Z'),
    repository: 'ghcr.io/acme/agent',
    index: { digest: INDEX, mediaType: 'application/vnd.oci.image.index.v1+json', size: 1234 },
    // arm64 listed first on purpose: the manifest orders platforms by name.
    images: [
      image('linux/arm64', ARM64, ['b1', 'b2', 'b4'], 'c2'),
      image('linux/amd64', AMD64, ['a1', 'a2', 'a4'], 'c3'),
    ],
    sboms: new Map([
      ['linux/amd64', { format: 'spdx-json', file: 'sbom-linux-amd64.spdx.json', packages: 120 }],
      [
        'linux/arm64',
        {
          format: 'spdx-json',
          file: 'sbom-linux-arm64.spdx.json',
          packages: 118,
          attestation: { referrer: digest('e3') },
        },
      ],
    ]),
    verdict: verdict(p),
    policy: p,
    signatures: {
      mode: 'keyless',
      identity: 'https://github.com/acme/agent/.github/workflows/release.yml@refs/tags/v1.2.0',
      issuer: 'https://token.actions.githubusercontent.com',
      bundles: [
        { subject: ARM64, predicateType: 'https://spdx.dev/Document', referrer: digest('e3') },
        { subject: INDEX, predicateType: 'https://sigstore.dev/cosign/sign/v1', referrer: digest('e1') },
        { subject: AMD64, predicateType: 'https://sigstore.dev/cosign/sign/v1', referrer: digest('e2') },
        { subject: ARM64, predicateType: 'https://sigstore.dev/cosign/sign/v1', referrer: digest('e4') },
      ],
    },
    baseline: baseline(),
    ...overrides,
  };
}
