/**
 * Reads the step's inputs once, before any side effect: every input through the table in `table.ts`, then what
 * depends on several inputs (the Dockerfile next to the context, credentials in pairs, an own Sigstore needing its
 * trusted root), the signing material and the gate policy. Whatever can be checked up front is checked here.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadPolicy, POLICY_INPUT_NAMES } from '../policy/index.js';
import type { Policy } from '../policy/index.js';
import { formatRepository } from '../registry/reference.js';
import type { InputReader } from '../runner/host.js';
import { checkBuildInputs } from './build-inputs.js';
import { InputError } from './errors.js';
import type { ParseContext } from './parsers.js';
import type { GateSettings, PublishSettings, Settings } from './settings.js';
import { checkKeylessPermission, readExpectedIdentity, readSigningKey, readTrustedRoot } from './signing.js';
import { readInputs } from './table.js';
import type { InputValues } from './table.js';

export { InputError } from './errors.js';
export { parseBoolean, parseDuration } from './parsers.js';
export { INPUT_DEFAULTS, INPUTS, maskSecretInputs } from './table.js';
export type * from './settings.js';
export type { InputReader } from '../runner/host.js';

export interface SettingsEnvironment {
  /** Working directory relative paths resolve against (GITHUB_WORKSPACE). */
  workspace: string;
  fileExists?: ParseContext['fileExists'];
  /** Reads a text file (policy, templates, trusted root); defaults to fs. */
  readText?: (p: string) => string;
  /** The job's environment, for checks such as keyless signing's OIDC permission. */
  env?: Record<string, string | undefined>;
}

const defaultFileExists = (p: string): 'file' | 'directory' | 'missing' => {
  if (!existsSync(p)) return 'missing';
  return statSync(p).isDirectory() ? 'directory' : 'file';
};

export function readSettings(read: InputReader, env: SettingsEnvironment): Settings {
  const ctx: ParseContext = {
    workspace: env.workspace,
    fileExists: env.fileExists ?? defaultFileExists,
    readText: env.readText ?? ((p) => readFileSync(p, 'utf8')),
  };
  const v = readInputs(read, ctx);
  const image = v.image;
  const file = v.mode === 'promote' || v.mode === 'rescan' ? '' : dockerfile(v, ctx);
  checkPromotion(v);
  if (v['registry-password'] !== undefined && v['registry-username'] === undefined) {
    throw new InputError('registry-username', '', 'a user name whenever registry-password is set');
  }
  if (v['registry-username'] !== undefined && v['registry-password'] === undefined) {
    throw new InputError('registry-password', '', 'a password or token whenever registry-username is set');
  }
  checkBuildInputs({
    builder: v.builder,
    buildxBuilder: v['buildx-builder'],
    buildkitEndpoint: v['buildkit-endpoint'],
    secrets: v.secrets,
    secretFiles: v['secret-files'],
    annotations: v.annotations,
  });
  const publish = publishSettings(v, read, ctx);
  checkKeylessPermission(v.mode, publish.signing, env.env);
  const policy = policyInputs(v);
  return {
    mode: v.mode,
    ...(v.from ? { from: v.from } : {}),
    image,
    imageName: formatRepository(image),
    context: v.context.path,
    file,
    platforms: v.platforms,
    builder: v.builder,
    buildArgs: v['build-args'],
    labels: v.labels,
    cacheFrom: v['cache-from'],
    cacheTo: v['cache-to'],
    ...(v.target ? { target: v.target } : {}),
    tags: v.tags,
    registry: v.registry ?? image.registry,
    ...(v['registry-username'] ? { registryUsername: v['registry-username'] } : {}),
    ...(v['registry-password'] ? { registryPassword: v['registry-password'] } : {}),
    ...(v['registry-ca-file'] ? { registryCaFile: v['registry-ca-file'] } : {}),
    insecureRegistries: v['insecure-registries'],
    registryRetryBudgetMs: v['registry-retry-budget'],
    qemu: v.qemu,
    binfmtImage: v['binfmt-image'],
    ...(v['buildx-builder'] ? { buildxBuilder: v['buildx-builder'] } : {}),
    buildkitImage: v['buildkit-image'],
    ...(v['buildkit-endpoint'] ? { buildkitEndpoint: v['buildkit-endpoint'] } : {}),
    secrets: v.secrets,
    secretFiles: v['secret-files'],
    ssh: v.ssh,
    buildContexts: v['build-contexts'],
    annotations: v.annotations,
    noCache: v['no-cache'],
    pull: v.pull,
    ...(v['github-token'] ? { githubToken: v['github-token'] } : {}),
    gate: gateSettings(v),
    publish,
    ...(v['records-dir'] ? { recordsDir: v['records-dir'] } : {}),
    recordsRetentionDays: v['records-retention-days'],
    policy,
    gatePolicy: withVex(loadPolicy(policy), formatRepository(image), v.vex),
    vexFiles: v.vex.map((d) => d.file),
    rescan: { channels: v.channels, releases: v['rescan-releases'] },
    ...gitOpsSettings(v),
  };
}

/** `gitops-*`: all or nothing; the token is needed to push the branch and open the pull request. */
function gitOpsSettings(v: InputValues): Pick<Settings, 'gitops'> {
  const repository = v['gitops-repository'];
  if (!repository) return {};
  if (v['gitops-paths'].length === 0)
    throw new InputError(
      'gitops-paths',
      '',
      `the files of ${repository} to pin to each release, one per line`,
    );
  const token = v['gitops-token'];
  if (!token)
    throw new InputError(
      'gitops-token',
      '',
      `a token that may push branches and open pull requests in ${repository}`,
    );
  return { gitops: { repository, paths: v['gitops-paths'], branch: v['gitops-branch'], token } };
}

/** `mode: promote` takes the release to promote (`from`) and verifies and signs it: signing cannot be off. */
function checkPromotion(v: InputValues): void {
  if (v.mode !== 'promote') return;
  if (!v.from)
    throw new InputError(
      'from',
      '',
      'the tag or digest of the release to promote (e.g. 1.8.2-rc.1) in mode promote',
    );
  if (v.signing === 'off')
    throw new InputError(
      'signing',
      'off',
      'keyless or key in mode promote: the release is promoted only when its signatures verify, and the promotion is signed',
    );
}

/** The Dockerfile: `file`, else `Dockerfile` in the context (a remote context brings its own). */
function dockerfile(v: InputValues, ctx: ParseContext): string {
  const raw = v.file ?? '';
  const { path: context, remote } = v.context;
  const file = raw
    ? path.resolve(ctx.workspace, raw)
    : remote
      ? 'Dockerfile'
      : path.join(context, 'Dockerfile');
  if (!(remote && !raw) && ctx.fileExists(file) !== 'file') {
    throw new InputError(
      'file',
      raw || path.relative(ctx.workspace, file) || file,
      `a Dockerfile or Containerfile that exists (looked for ${file}); set "file" or "context"`,
    );
  }
  return file;
}

function gateSettings(v: InputValues): GateSettings {
  return {
    syftVersion: v['syft-version'],
    grypeVersion: v['grype-version'],
    sbomFormats: v['sbom-formats'],
    maxDbAge: v['max-db-age'],
    ...(v['grype-db-url'] ? { grypeDbUrl: v['grype-db-url'] } : {}),
    scanConcurrency: v['scan-concurrency'],
    scanTimeoutMs: v['scan-timeout'],
    allowEmptySbom: v['allow-empty-sbom'],
    ...(v['reports-dir'] ? { reportsDir: v['reports-dir'] } : {}),
  };
}

function publishSettings(v: InputValues, read: InputReader, ctx: ParseContext): PublishSettings {
  const signing = v.signing;
  // Build jobs of a matrix and pull-request checks do not sign: their key (if any) is only checked for form.
  const signs = signing !== 'off' && v.mode !== 'build' && v.mode !== 'check';
  const key = readSigningKey(signing, v['signing-key'], v['signing-key-password'], signs);
  const ownSigstore = (['fulcio-url', 'rekor-url', 'tsa-url'] as const).find((name) => {
    const url = v[name];
    return url && url !== 'off' && !isPublicSigstore(url);
  });
  if (ownSigstore && signing !== 'off' && !v['trusted-root']) {
    throw new InputError(
      'trusted-root',
      '',
      `the trusted_root.json of your Sigstore instance whenever ${ownSigstore} points at it (${read(ownSigstore).trim()}); ` +
        'without it the signatures are checked against the public-good root and fail',
    );
  }
  // A check verifies production's signatures to compare with its findings.
  const trustMaterial =
    signs || (v.mode === 'check' && signing !== 'off')
      ? readTrustedRoot(v['trusted-root'], read('trusted-root').trim(), ctx)
      : undefined;
  const expectedIdentity = readExpectedIdentity(v['certificate-identity']);
  const optional = {
    signingKey: v['signing-key'],
    signingKeyPassword: v['signing-key-password'],
    fulcioUrl: v['fulcio-url'],
    rekorUrl: v['rekor-url'],
    tsaUrl: v['tsa-url'],
    trustedRootFile: v['trusted-root'],
    certificateIdentity: v['certificate-identity'],
    certificateOidcIssuer: v['certificate-oidc-issuer'],
    key,
    expectedIdentity,
    trustMaterial,
  };
  return {
    signing,
    signatureFormat: v['signature-format'],
    overwrite: v.overwrite,
    allowDowngrade: v['allow-downgrade'],
    releaseAssets: v['release-assets'],
    githubAttestations: v['github-attestations'],
    deployTemplates: v['deploy-templates'],
    offlineBundles: {
      mode: v['offline-bundles'],
      compression: v['offline-compression'],
      ...(v['offline-bundle-max-size'] ? { maxSize: v['offline-bundle-max-size'] } : {}),
    },
    ...(v['device-run'] ? { deviceRun: v['device-run'] } : {}),
    ...(Object.fromEntries(
      Object.entries(optional).filter(([, value]) => value !== undefined),
    ) as Partial<PublishSettings>),
  };
}

/** The policy with the `vex` input's statements, matched against this image repository. */
function withVex(policy: Policy, imageName: string, vex: InputValues['vex']): Policy {
  if (vex.length === 0) return policy;
  return { ...policy, vex: { imageName, statements: vex.flatMap((d) => d.statements) } };
}

/** The policy inputs as given (the policy module resolves and validates them). */
function policyInputs(v: InputValues): Settings['policy'] {
  const inputs: Settings['policy'] = v.policy ? { policyFile: v.policy } : {};
  for (const [key, name] of Object.entries(POLICY_INPUT_NAMES) as Array<
    [keyof typeof POLICY_INPUT_NAMES, (typeof POLICY_INPUT_NAMES)[keyof typeof POLICY_INPUT_NAMES]]
  >) {
    const value = v[name];
    if (value !== undefined) inputs[key] = value;
  }
  return inputs;
}

function isPublicSigstore(url: string): boolean {
  return /^https:\/\/(fulcio|rekor|timestamp)\.sigstore\.dev\/?/.test(url);
}
