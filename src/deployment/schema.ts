/**
 * The JSON schema of the deployment manifest (`apiVersion: edgeship.dev/v1`, `kind: DeploymentManifest`) and the
 * translation of ajv's errors into "path: what is wrong" problems.
 *
 * The schema is JSON Schema draft-07 and only uses standard keywords and formats (`date-time`, `date`, `uri`), so any
 * validator can check a manifest against `deployment-manifest.schema.json` (the same object, written to disk; a unit
 * test keeps them equal). In every leaf, `title` is the expected form (used verbatim in messages: "must be <title>")
 * and `description` says what the field means.
 *
 * Kept as one file: the schema is one document, and its messages are written against its own titles.
 */
import { RUN_MAX_CPUS, RUN_MAX_HEALTH_TIMEOUT, RUN_SETTING_PATTERNS } from '../image/run-settings.js';
import type { ErrorObject } from 'ajv';
import { TAG_PATTERN_SOURCE } from '../registry/reference.js';
import { lazyValidator } from '../validation/ajv.js';
import {
  collectSchemaProblems,
  describeValue as describeValueWith,
  formatPath as formatPathWith,
  problemPath,
  type SchemaProblem,
} from '../validation/schema-messages.js';

export type { SchemaProblem } from '../validation/schema-messages.js';

export const DEPLOYMENT_MANIFEST_API_VERSION = 'edgeship.dev/v1';
export const DEPLOYMENT_MANIFEST_KIND = 'DeploymentManifest';
export const DEPLOYMENT_MANIFEST_SCHEMA_ID = 'https://edgeship.dev/schemas/deployment-manifest-v1.json';

export const CHANNELS = ['production', 'staging', 'dev'] as const;
export const SIGNING_MODES = ['keyless', 'key', 'none'] as const;
export const SIGNATURE_FORMAT_NAMES = ['both', 'bundle', 'classic'] as const;
export const SBOM_FORMAT_VALUES = ['spdx-json', 'cyclonedx-json', 'syft-json'] as const;
export const INDEX_MEDIA_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
] as const;
/** The policy's `failOn` values (same list as src/policy; repeated here so the schema stays a plain constant). */
export const FAIL_ON_NAMES = ['negligible', 'low', 'medium', 'high', 'critical', 'none'] as const;
export const VULNERABILITY_KEYS = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'] as const;

/** A content digest as the registry computes it. */
export const DIGEST_PATTERN = '^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$';
/** The Docker tag grammar (also what Edgeship's release versions follow, so they are safe in file names). */
export const TAG_PATTERN = TAG_PATTERN_SOURCE;
/** The official semver 2.0.0 regular expression (https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string). */
export const SEMVER_PATTERN =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$';
/** A fully qualified repository: registry host[:port], then the lowercase path (distribution reference grammar). */
export const REPOSITORY_PATTERN =
  '^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$';
export const PLATFORM_PATTERN = '^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$';
export const REVISION_PATTERN = '^(?:[a-f0-9]{40}|[a-f0-9]{64})$';
/** A relative file path without `..` segments or backslashes. */
export const RELATIVE_FILE_PATTERN = '^(?!/)(?!.*(?:^|/)\\.\\.(?:/|$))[^\\\\\\s][^\\\\]*$';
export const DATE_PATTERN = '^\\d{4}-\\d{2}-\\d{2}$';

const FORM_DIGEST = 'a digest (sha256:<64 lowercase hex>)';
const FORM_BYTES = 'a number of bytes (a whole number ≥ 0)';
const FORM_COUNT = 'a whole number ≥ 0';
const FORM_TEXT = 'a non-empty string';

const digest = (description: string) => ({
  type: 'string',
  pattern: DIGEST_PATTERN,
  title: FORM_DIGEST,
  description,
});
const bytes = (description: string) => ({ type: 'integer', minimum: 0, title: FORM_BYTES, description });
const count = (description: string) => ({ type: 'integer', minimum: 0, title: FORM_COUNT, description });
const text = (description: string) => ({ type: 'string', minLength: 1, title: FORM_TEXT, description });
const oneOfNames = (values: readonly string[], description: string) => ({
  type: 'string',
  enum: [...values],
  title: `one of ${values.join(', ')}`,
  description,
});
const object = (
  title: string,
  description: string,
  properties: Record<string, unknown>,
  required: string[] = Object.keys(properties),
) => ({ type: 'object', title, description, additionalProperties: false, required, properties });

const RELEASE = object(
  'a mapping with version, channel, revision, ref, workflowRun and created',
  'What was released, from which commit, by which workflow run.',
  {
    version: {
      type: 'string',
      pattern: TAG_PATTERN,
      title: 'a release version such as 1.8.2 (a Docker tag: letters, digits, _, . and -)',
      description:
        'The release version (Docker tag form, build metadata dropped): 1.8.2, 1.8.2-rc.3, a branch name.',
    },
    channel: oneOfNames(
      CHANNELS,
      'The release channel: production (stable semver tags), staging (pre-releases), dev (everything else).',
    ),
    semver: {
      type: 'string',
      pattern: SEMVER_PATTERN,
      title: 'a semantic version such as 1.8.2 or 1.8.2-rc.3+build.5 (no leading v)',
      description:
        'The full semver of the git tag, build metadata included; absent when the tag is not semver.',
    },
    revision: {
      type: 'string',
      pattern: REVISION_PATTERN,
      title: 'a full git commit sha (40 or 64 lowercase hex)',
      description: 'The commit the release was built from.',
    },
    ref: {
      type: 'string',
      pattern: '^refs/\\S+$',
      title: 'a git ref such as refs/tags/v1.8.2',
      description: 'The git ref that triggered the release.',
    },
    workflowRun: {
      type: 'string',
      format: 'uri',
      pattern: '^https?://\\S+$',
      title: 'an http(s) URL of the workflow run',
      description: 'The GitHub Actions run that built, gated, signed and published the release.',
    },
    created: {
      type: 'string',
      format: 'date-time',
      title: 'an RFC 3339 date-time such as 2025-06-01T12:00:00.000Z',
      description: 'When the release was created.',
    },
  },
  ['version', 'channel', 'revision', 'ref', 'workflowRun', 'created'],
);

const IMAGE = object(
  'a mapping with repository, index and tags',
  'Where the release lives: the repository, the multi-arch index every tag points to, and the tags.',
  {
    repository: {
      type: 'string',
      pattern: REPOSITORY_PATTERN,
      title:
        'a fully qualified repository such as ghcr.io/acme/agent (registry host, then the lowercase path)',
      description: 'The image repository, registry included, without tag or digest.',
    },
    index: object(
      'a mapping with digest, mediaType and size',
      'The OCI image index (or Docker manifest list) over the per-platform images: what edge nodes pull.',
      {
        digest: digest('Digest of the index: run <repository>@<digest>.'),
        mediaType: oneOfNames(INDEX_MEDIA_TYPES, 'Media type of the index.'),
        size: {
          type: 'integer',
          minimum: 1,
          title: 'a number of bytes ≥ 1',
          description: 'Bytes of the index.',
        },
      },
    ),
    tags: {
      type: 'array',
      uniqueItems: true,
      title: 'a list of distinct Docker tags',
      description: 'The tags written to the index (they move; the digest does not).',
      items: {
        type: 'string',
        pattern: TAG_PATTERN,
        title: 'a Docker tag (letters, digits, _, . and -, at most 128)',
        description: 'A tag of the release.',
      },
    },
  },
);

const VULNERABILITIES = object(
  `a mapping with ${VULNERABILITY_KEYS.join(', ')}`,
  "Matches per severity the scanner found in the platform's image (deduplicated, before waivers).",
  Object.fromEntries(VULNERABILITY_KEYS.map((k) => [k, count(`Number of ${k} severity matches.`)])),
);

const PLATFORM = object(
  'a platform mapping with platform, digest, size, delta, user, healthcheck, sbom and vulnerabilities',
  'One platform image of the index.',
  {
    platform: {
      type: 'string',
      pattern: PLATFORM_PATTERN,
      title: 'a platform such as linux/arm64 or linux/arm/v7',
      description: 'os/architecture[/variant] of the image.',
    },
    digest: digest("Digest of the platform's image manifest."),
    size: bytes('Compressed bytes of the image (config + layers): a fresh install downloads this much.'),
    delta: object(
      'a mapping with bytes, layers and baseline',
      'What an edge node running the previous release of the same channel must download to upgrade.',
      {
        bytes: bytes('Bytes of the blobs (config and layers) the previous image does not have.'),
        layers: count('Number of layers to download.'),
        baseline: {
          type: ['object', 'null'],
          title: 'a mapping with version and digest, or null',
          description:
            "The previous release's image of this platform the delta is computed against; null: none (full download).",
          additionalProperties: false,
          required: ['version', 'digest'],
          properties: {
            version: {
              type: 'string',
              minLength: 1,
              title: 'a release version',
              description: 'Version of the previous release.',
            },
            digest: digest("Digest of the previous release's image for this platform."),
          },
        },
      },
    ),
    user: {
      type: 'string',
      title: "a string (the image's USER; empty when unset, i.e. root)",
      description: 'The user the image runs as.',
    },
    healthcheck: {
      type: 'boolean',
      title: 'true or false',
      description: 'Whether the image defines a HEALTHCHECK.',
    },
    sbom: object(
      'a mapping with format, file and packages',
      "The software bill of materials of the platform's image.",
      {
        format: oneOfNames(SBOM_FORMAT_VALUES, 'Format of the SBOM document.'),
        file: {
          type: 'string',
          pattern: RELATIVE_FILE_PATTERN,
          title: 'a relative file name (no leading /, no .. segments)',
          description: 'The SBOM file published with the release.',
        },
        packages: count('Number of packages the SBOM lists.'),
        attestation: object(
          'a mapping with referrer',
          'The signed SBOM attestation attached to the image as an OCI referrer.',
          { referrer: digest('Digest of the referrer manifest that carries the attestation bundle.') },
        ),
      },
      ['format', 'file', 'packages'],
    ),
    vulnerabilities: VULNERABILITIES,
    // Offline bundles (issue 12): one block, optional.
    bundles: {
      type: 'array',
      title: 'a list of offline bundles',
      description: 'The offline bundles of this platform (offline-bundles input); absent when off.',
      items: object(
        'a bundle mapping with kind, file, bytes and sha256',
        'One offline bundle: an OCI layout + docker archive with signatures, manifest and SHA256SUMS.',
        {
          kind: oneOfNames(['full', 'delta'], 'full: the whole image; delta: the blobs the baseline lacks.'),
          file: {
            type: 'string',
            pattern: RELATIVE_FILE_PATTERN,
            title: 'a relative file name (no leading /, no .. segments)',
            description: 'The bundle file (release asset and reports-dir file).',
          },
          bytes: bytes("Bytes of the bundle's first part: the image (OCI layout + docker archive)."),
          sha256: digest(
            'sha256 of those first bytes (`head -c <bytes> <file> | sha256sum`); the rest holds this manifest and SHA256SUMS.',
          ),
          baseline: text('For a delta: the version of the release the device must already have.'),
        },
        ['kind', 'file', 'bytes', 'sha256'],
      ),
    },
  },
  ['platform', 'digest', 'size', 'delta', 'user', 'healthcheck', 'sbom', 'vulnerabilities'],
);

const WAIVER = object(
  'a waiver mapping with id, reason, expires and applied',
  'A waiver of the policy, and whether it covered a match in this release.',
  {
    id: text('The vulnerability id, e.g. CVE-2024-1234.'),
    package: text('The package the waiver is limited to.'),
    platforms: {
      type: 'array',
      minItems: 1,
      title: 'a non-empty list of platforms',
      description: 'The platforms the waiver is limited to.',
      items: {
        type: 'string',
        pattern: PLATFORM_PATTERN,
        title: 'a platform such as linux/arm64',
        description: 'A platform.',
      },
    },
    reason: text('Why the risk is accepted.'),
    expires: {
      type: 'string',
      format: 'date',
      pattern: DATE_PATTERN,
      title: 'a date (YYYY-MM-DD)',
      description: 'The last day the waiver is valid (UTC).',
    },
    applied: { type: 'boolean', title: 'true or false', description: 'Whether the waiver covered a match.' },
  },
  ['id', 'reason', 'expires', 'applied'],
);

const GATE = object(
  'a mapping with verdict, policyDigest, failOn and waivers',
  'The release gate the release passed.',
  {
    verdict: {
      type: 'string',
      const: 'pass',
      title: '"pass" (a manifest is only written for a release that passed the gate)',
      description: 'The gate verdict.',
    },
    policyDigest: digest('sha256 of the canonical resolved policy (rules, per-platform rules, waivers).'),
    failOn: oneOfNames(FAIL_ON_NAMES, 'The lowest severity that blocks the release (default rules).'),
    waivers: {
      type: 'array',
      title: 'a list of waivers',
      description: 'Every waiver of the policy, with whether it was applied.',
      items: WAIVER,
    },
  },
);

const SIGNATURES = {
  ...object(
    'a mapping with mode and bundles (identity and issuer for keyless; format and classic for classic signatures)',
    "How the release is signed, the Sigstore bundles attached to its digests as OCI referrers, and cosign's classic signature tags.",
    {
      mode: oneOfNames(
        SIGNING_MODES,
        'keyless: Fulcio certificate for the workflow identity; key: a private key; none: the release is not signed (signing: off).',
      ),
      identity: text(
        'Keyless: the certificate identity (the workflow ref); key: an optional key identifier.',
      ),
      issuer: text('Keyless: the OIDC issuer of the identity token.'),
      bundles: {
        type: 'array',
        title: 'a list of bundle mappings',
        description: 'The signatures and attestations attached to the index and the platform images.',
        items: object(
          'a bundle mapping with subject, predicateType and referrer',
          'One Sigstore bundle stored as an OCI referrer.',
          {
            subject: digest('The digest the bundle signs (the index or a platform image).'),
            predicateType: {
              type: 'string',
              format: 'uri',
              pattern: '^\\S+:\\S+$',
              title: 'a predicate type URI such as https://sigstore.dev/cosign/sign/v1',
              description: 'The in-toto predicate type of the signed statement.',
            },
            referrer: digest('Digest of the referrer manifest that carries the bundle.'),
          },
        ),
      },
      // signature-format: cosign's classic .sig/.att tags, beside or instead of the bundles above.
      format: oneOfNames(
        SIGNATURE_FORMAT_NAMES,
        "Where signatures and attestations are stored: bundle (Sigstore bundles as OCI referrers, listed in bundles), classic (cosign's sha256-<hex>.sig and .att tags, listed in classic) or both.",
      ),
      classic: {
        type: 'array',
        title: 'a list of classic signature mappings',
        description:
          "The signatures (.sig) and attestations (.att) stored in cosign's classic tags next to each digest.",
        items: object(
          'a classic signature mapping with subject, predicateType and tag',
          'One layer of a cosign .sig or .att tag.',
          {
            subject: digest('The digest signed (the index or a platform image).'),
            predicateType: {
              type: 'string',
              format: 'uri',
              pattern: '^\\S+:\\S+$',
              title: 'a predicate type URI such as https://sigstore.dev/cosign/sign/v1',
              description:
                'The in-toto predicate type of the attestation; https://sigstore.dev/cosign/sign/v1 for the image signature (a simple signing payload).',
            },
            tag: {
              type: 'string',
              pattern: '^sha(256-[a-f0-9]{64}|512-[a-f0-9]{128})\\.(sig|att)$',
              title: 'a cosign signature tag such as sha256-<64 hex>.sig or .att',
              description: 'The tag of the repository whose manifest holds the layer.',
            },
          },
        ),
      },
    },
    ['mode', 'bundles'],
  ),
  if: { properties: { mode: { const: 'keyless' } }, required: ['mode'] },
  then: { required: ['identity', 'issuer'] },
};

const BASELINE = {
  type: ['object', 'null'],
  title: 'a mapping with channel, version and index, or null',
  description:
    'The previous release of the same channel the deltas are computed against (the channel tag before this release); null: none.',
  additionalProperties: false,
  required: ['channel', 'version', 'index'],
  properties: {
    channel: oneOfNames(CHANNELS, 'The channel (always the release channel).'),
    version: {
      type: 'string',
      minLength: 1,
      title: 'a release version',
      description: 'Version of the previous release.',
    },
    index: digest('Digest of the previous release index.'),
  },
};

const TAG_PLAN = {
  type: 'array',
  title: 'a list of tag decisions',
  description:
    'Every tag the release could point at its index, and whether it moved: a maintenance release (lower than the ' +
    'release a moving tag holds) leaves latest, the channel tag and higher lines where they are.',
  items: object(
    'a tag decision mapping with tag, moved and reason',
    'One tag, whether this release moved it, and why.',
    {
      tag: {
        type: 'string',
        pattern: TAG_PATTERN,
        title: 'a Docker tag (letters, digits, _, . and -, at most 128)',
        description: 'The tag.',
      },
      moved: {
        type: 'boolean',
        title: 'true or false',
        description: 'Whether the tag now points at this release.',
      },
      reason: text('Why the tag moved or stayed.'),
      previous: object(
        'a mapping with index (and version)',
        'What the tag pointed at before this release (where it stays when it did not move).',
        {
          index: digest('Digest of the index the tag pointed at.'),
          version: text('Release version of that index.'),
        },
        ['index'],
      ),
    },
    ['tag', 'moved', 'reason'],
  ),
};

const PROMOTED_FROM = object(
  'a mapping with version, channel, index, manifest and rescanned',
  'The release this one promotes: the same index, published before under another version, whose deployment manifest ' +
    'and signatures were verified; the platforms were re-scanned from its SBOM attestations (nothing was rebuilt).',
  {
    version: {
      type: 'string',
      pattern: TAG_PATTERN,
      title: 'a release version such as 1.8.2-rc.1',
      description: 'Version of the promoted release.',
    },
    channel: oneOfNames(CHANNELS, 'Channel of the promoted release.'),
    index: digest('Digest of its index: always image.index.digest.'),
    manifest: object(
      'a mapping with file, digest and artifact',
      "The promoted release's signed deployment manifest.",
      {
        file: {
          type: 'string',
          pattern: RELATIVE_FILE_PATTERN,
          title: 'a relative file name (no leading /, no .. segments)',
          description: 'Its file name.',
        },
        digest: digest('sha256 of the file.'),
        artifact: digest('Digest of the OCI artifact (referrer of the index) carrying it.'),
      },
    ),
    rescanned: {
      type: 'string',
      format: 'date-time',
      title: 'an RFC 3339 date-time such as 2025-06-01T12:00:00.000Z',
      description:
        'When the platforms were re-scanned for this promotion (their vulnerabilities are that scan).',
    },
  },
);

// Device run settings (issue 12, `device-run`): one block, optional; the same bounds as the input.
const RUN = object(
  'a mapping with any of restart, memory, cpus, readOnly, user and healthTimeout',
  'How devices run the container: the installer starts it with these settings (its flags override them).',
  {
    restart: {
      type: 'string',
      pattern: RUN_SETTING_PATTERNS.restart,
      title: 'no, always, unless-stopped, on-failure or on-failure:N',
      description: 'Restart policy.',
    },
    memory: {
      type: 'string',
      pattern: RUN_SETTING_PATTERNS.memory,
      title: 'bytes with an optional b, k, m or g suffix (e.g. 256m)',
      description: 'Memory limit.',
    },
    cpus: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: RUN_MAX_CPUS,
      title: `a number of CPUs above 0, at most ${RUN_MAX_CPUS}`,
      description: 'CPU limit.',
    },
    readOnly: { type: 'boolean', title: 'true or false', description: 'Read-only root filesystem.' },
    user: {
      type: 'string',
      pattern: RUN_SETTING_PATTERNS.user,
      title: 'a user name or uid, optionally :group or :gid',
      description: "The user to run as, instead of the image's USER.",
    },
    healthTimeout: {
      type: 'integer',
      minimum: 1,
      maximum: RUN_MAX_HEALTH_TIMEOUT,
      title: `whole seconds from 1 to ${RUN_MAX_HEALTH_TIMEOUT}`,
      description: 'Seconds to wait for the container to become healthy before rolling back.',
    },
  },
  [],
);

/** The JSON schema of a deployment manifest (draft-07). Also in `deployment-manifest.schema.json`. */
export const DEPLOYMENT_MANIFEST_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: DEPLOYMENT_MANIFEST_SCHEMA_ID,
  title: `a mapping with apiVersion: ${DEPLOYMENT_MANIFEST_API_VERSION} and kind: ${DEPLOYMENT_MANIFEST_KIND}`,
  description:
    'Edgeship deployment manifest: the signed record of a multi-arch release. An edge node reads it to know which ' +
    'digest to run and how much it must download to upgrade from the previous release of its channel.',
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'release', 'image', 'platforms', 'gate', 'signatures', 'baseline'],
  properties: {
    apiVersion: {
      type: 'string',
      const: DEPLOYMENT_MANIFEST_API_VERSION,
      title: `"${DEPLOYMENT_MANIFEST_API_VERSION}"`,
      description: 'Version of this document format.',
    },
    kind: {
      type: 'string',
      const: DEPLOYMENT_MANIFEST_KIND,
      title: `"${DEPLOYMENT_MANIFEST_KIND}"`,
      description: 'Kind of document.',
    },
    release: RELEASE,
    image: IMAGE,
    platforms: {
      type: 'array',
      minItems: 1,
      title: 'a non-empty list of platform mappings',
      description: 'The platform images of the index.',
      items: PLATFORM,
    },
    gate: GATE,
    signatures: SIGNATURES,
    baseline: BASELINE,
    tagPlan: TAG_PLAN,
    promotedFrom: PROMOTED_FROM,
    run: RUN,
  },
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Validation

// strictRequired off: the keyless rule (`then: { required: [identity, issuer] }`) names properties defined beside it.
const compiled = lazyValidator('deployment-manifest', DEPLOYMENT_MANIFEST_SCHEMA, { strictRequired: false });

/** A manifest key that reads as `.key` in a path: as in policy files, and also `$`-prefixed. */
const MANIFEST_PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_-]*$/;
/** Longer strings are cut in messages. */
const MAX_VALUE_LENGTH = 80;

/** `platforms[1].delta.bytes`, `signatures.bundles[0].subject`; `(top level)` for the root. */
export function formatPath(path: ReadonlyArray<string | number>): string {
  return formatPathWith(path, MANIFEST_PLAIN_KEY);
}

/** How a value reads in a message. */
export function describeValue(value: unknown): string {
  return describeValueWith(value, MAX_VALUE_LENGTH);
}

interface SchemaNode {
  title?: string;
  properties?: Record<string, SchemaNode>;
}

function translate(error: ErrorObject, root: unknown): SchemaProblem | undefined {
  const path = problemPath(error.instancePath, root);
  const parent = (error.parentSchema ?? {}) as SchemaNode;
  const expected = parent.title ?? 'valid';
  switch (error.keyword) {
    case 'if':
      return undefined; // the `then` branch reports what is missing
    case 'additionalProperties': {
      const key = String((error.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys(parent.properties ?? {});
      return { path: [...path, key], message: `unknown key; allowed keys here: ${allowed.join(', ')}` };
    }
    case 'required': {
      const key = String((error.params as { missingProperty: string }).missingProperty);
      const child = parent.properties?.[key];
      if (!child && error.schemaPath.includes('/then/')) {
        return { path: [...path, key], message: 'is required when mode is keyless' };
      }
      return { path: [...path, key], message: `is required; expected ${child?.title ?? 'a value'}` };
    }
    case 'uniqueItems': {
      const { i, j } = error.params as { i: number; j: number };
      return {
        path,
        message: `must be ${expected}; items ${Math.min(i, j)} and ${Math.max(i, j)} are the same`,
      };
    }
    case 'minItems':
      return { path, message: `must be ${expected}; got an empty list` };
    default:
      // type, const, enum, pattern, format, minimum, minLength, ...
      return { path, message: `must be ${expected}; got ${describeValue(error.data)}` };
  }
}

/** Schema problems of a parsed document; empty when it is valid. */
export function schemaProblems(document: unknown): SchemaProblem[] {
  return collectSchemaProblems(compiled(), document, translate);
}

/** The schema as the text of `deployment-manifest.schema.json`. */
export function deploymentManifestSchemaJson(): string {
  return `${JSON.stringify(DEPLOYMENT_MANIFEST_SCHEMA, null, 2)}\n`;
}
