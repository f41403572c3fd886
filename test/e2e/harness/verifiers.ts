/**
 * The verifiers devices and clusters run, from Debian 13 packages unpacked privately (never installed):
 * cosign 2.5 and oras 1.2 (they run on this machine's libc), skopeo 1.18 through Debian 13's own loader
 * (it needs glibc 2.38). Plus what they need to trust a local Sigstore and a TLS + htpasswd registry: PEM
 * files of the Rekor and CT log keys and the Fulcio root (cosign reads them from SIGSTORE_* variables
 * instead of TUF), a Docker config with the registry's credentials, and a private TUF root.
 *
 * cosign 3 and the GitHub CLI (`gh attestation verify`) are not in Debian 13 at versions that verify bundles
 * stored as OCI referrers / artifact attestations: they are built from their Go modules (see go-tools.ts) and
 * read the local Sigstore's trusted root from a file (`--trusted-root`, `--custom-trusted-root`).
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { execProcess, type ExecResult } from '../../../src/process/exec.js';
import { debianRoot } from './debian-packages.js';
import { goToolsOrReason } from './go-tools.js';
import type { TestRegistry } from './registry.js';

/** Where the unpacked tools stay between runs of the suite (re-unpacked from the .deb cache when missing). */
const TOOLS_ROOT = path.join(os.tmpdir(), 'edgeship-verifier-tools');
const TOOL_TIMEOUT_MS = 3 * 60_000;

export interface VerifierTools {
  cosign: string;
  oras: string;
  /** argv prefix that runs skopeo 1.18 through its own loader. */
  skopeo: string[];
}

/** Fetches (once, into the Debian cache) and unpacks cosign, oras and skopeo with its libc. */
export async function verifierTools(): Promise<VerifierTools> {
  const root = await debianRoot(
    [{ suite: 'trixie', packages: ['cosign', 'oras'] }],
    path.join(TOOLS_ROOT, 'root'),
  );
  const skopeoRoot = await debianRoot(
    [
      {
        suite: 'trixie',
        packages: ['skopeo', 'libc6', 'libgpgme11t64', 'libassuan9', 'libgpg-error0', 'libsqlite3-0'],
      },
    ],
    path.join(TOOLS_ROOT, 'skopeo'),
  );
  const lib = path.join(skopeoRoot, 'usr/lib/x86_64-linux-gnu');
  return {
    cosign: path.join(root, 'usr/bin/cosign'),
    oras: path.join(root, 'usr/bin/oras'),
    skopeo: [
      path.join(lib, 'ld-linux-x86-64.so.2'),
      '--library-path',
      lib,
      path.join(skopeoRoot, 'usr/bin/skopeo'),
    ],
  };
}

/** cosign 3 or gh built from its Go module, or why it is missing (outside CI the suite skips what needs it). */
export async function goVerifier(
  name: 'cosign3' | 'gh',
  log?: (line: string) => void,
): Promise<{ path: string } | { reason: string }> {
  const tools = await goToolsOrReason([name], log);
  return 'reason' in tools ? tools : { path: tools.paths[name]! };
}

/**
 * The claims GitHub Actions puts into a workflow's OIDC token, for a workflow identity
 * `https://github.com/OWNER/REPO/.github/workflows/FILE@REF`: the local Fulcio (@sigstore/mock) turns them
 * into the certificate extensions (1.3.6.1.4.1.57264.1.x) that `gh attestation verify --owner/--repo` checks
 * (source repository owner URI, source repository URI, build signer and build config URIs, issuer).
 */
export function githubActionsClaims(identity: string): Record<string, string> {
  const match = /^https:\/\/github\.com\/(([^/]+)\/[^/]+)\/(\.github\/workflows\/[^@]+)@(.+)$/.exec(identity);
  if (!match) throw new Error(`not a GitHub workflow identity: ${identity}`);
  const [, repository, owner, , ref] = match as unknown as [string, string, string, string, string];
  const workflowRef = identity.slice('https://github.com/'.length);
  const sha = '0123456789abcdef0123456789abcdef01234567';
  return {
    repository,
    repository_owner: owner,
    repository_id: '700001',
    repository_owner_id: '9001',
    repository_visibility: 'public',
    ref,
    sha,
    event_name: 'push',
    workflow: 'release',
    workflow_ref: workflowRef,
    workflow_sha: sha,
    job_workflow_ref: workflowRef,
    job_workflow_sha: sha,
    runner_environment: 'github-hosted',
  };
}

/** What cosign needs to verify against the local Sigstore and read the registry. */
export interface CosignTrust {
  dir: string;
  trustedRootFile: string;
  /**
   * The same root as one JSON line ending in a newline: gh's `--custom-trusted-root` reads a JSON Lines file
   * and ignores a last line that has no newline (pkg/cmd/attestation/verification/sigstore.go,
   * createCustomVerifiers).
   */
  trustedRootJsonl: string;
  dockerConfigDir: string;
  tufRoot: string;
  fulcioRootPem: string;
  rekorKeyPem: string;
  /** Environment for cosign 2.5: SIGSTORE_*, TUF_ROOT, DOCKER_CONFIG. */
  env: Record<string, string>;
}

interface TrustedRootJson {
  tlogs: Array<{ publicKey: { rawBytes: string } }>;
  ctlogs: Array<{ publicKey: { rawBytes: string } }>;
  certificateAuthorities: Array<{ certChain: { certificates: Array<{ rawBytes: string }> } }>;
}

/** Writes the PEM files, the Docker config and a private TUF root into `dir`. */
export async function cosignTrust(
  dir: string,
  trustedRoot: Record<string, unknown>,
  reg: TestRegistry,
): Promise<CosignTrust> {
  await mkdir(path.join(dir, 'docker'), { recursive: true });
  await mkdir(path.join(dir, 'tuf'), { recursive: true });
  const root = trustedRoot as unknown as TrustedRootJson;
  const keyPem = (b64: string) =>
    createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'spki' })
      .export({ format: 'pem', type: 'spki' })
      .toString();
  const rekorKeyPem = path.join(dir, 'rekor.pub');
  const ctKeyPem = path.join(dir, 'ctlog.pub');
  const fulcioRootPem = path.join(dir, 'fulcio-root.pem');
  const trustedRootFile = path.join(dir, 'trusted_root.json');
  const trustedRootJsonl = path.join(dir, 'trusted_root.jsonl');
  await writeFile(rekorKeyPem, keyPem(root.tlogs[0]!.publicKey.rawBytes));
  await writeFile(ctKeyPem, keyPem(root.ctlogs[0]!.publicKey.rawBytes));
  await writeFile(
    fulcioRootPem,
    root.certificateAuthorities
      .flatMap((ca) => ca.certChain.certificates)
      .map((c) => new X509Certificate(Buffer.from(c.rawBytes, 'base64')).toString())
      .join(''),
  );
  await writeFile(trustedRootFile, JSON.stringify(trustedRoot));
  await writeFile(trustedRootJsonl, `${JSON.stringify(trustedRoot)}\n`);
  const auth = Buffer.from(`${reg.username}:${reg.password}`).toString('base64');
  await writeFile(
    path.join(dir, 'docker', 'config.json'),
    JSON.stringify({ auths: { [reg.host]: { auth } } }),
  );
  return {
    dir,
    trustedRootFile,
    trustedRootJsonl,
    dockerConfigDir: path.join(dir, 'docker'),
    tufRoot: path.join(dir, 'tuf'),
    fulcioRootPem,
    rekorKeyPem,
    env: {
      SIGSTORE_REKOR_PUBLIC_KEY: rekorKeyPem,
      SIGSTORE_CT_LOG_PUBLIC_KEY_FILE: ctKeyPem,
      SIGSTORE_ROOT_FILE: fulcioRootPem,
      TUF_ROOT: path.join(dir, 'tuf'),
      DOCKER_CONFIG: path.join(dir, 'docker'),
      COSIGN_EXPERIMENTAL: '',
    },
  };
}

/** Runs a verifier; never throws for a non-zero exit (the tests look at the exit code and output). */
export async function runTool(
  argv: readonly string[],
  env: Record<string, string> = {},
  cwd?: string,
): Promise<ExecResult> {
  const [command, ...args] = argv;
  return execProcess(command!, args, { env, timeoutMs: TOOL_TIMEOUT_MS, ...(cwd ? { cwd } : {}) });
}

/** A one-line account of a tool run, for assertion messages. */
export function describeRun(argv: readonly string[], result: ExecResult): string {
  const out = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-15).join('\n');
  return `${argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')} → exit ${result.exitCode}\n${out}`;
}
