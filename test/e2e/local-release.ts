// `npm run local-release`: a real release on this machine, the way the e2e tests make one.
//   - a distribution registry on a random loopback port (htpasswd auth + self-signed TLS)
//   - a busybox base image for amd64 and arm64, and the sample edge agent (RUN, HEALTHCHECK, USER)
//   - a local Sigstore (Fulcio, Rekor, TSA from @sigstore/mock) and a stand-in of the runner's OIDC endpoint
//   - the bundled action run as a GitHub runner runs it: dist/main.js then dist/post.js, with buildx on a private
//     Docker Engine 26 (harness/docker-engine.ts, the `default` docker-driver builder: OCI layouts uploaded by
//     Edgeship) when one starts here, else buildah (one line says why); arm64 RUN steps under the host's QEMU
//   - the real Syft and Grype at the pinned versions: the releases, downloaded and verified by the action as on a
//     runner, where GitHub is reachable; else the same versions built from their Go modules; the test doubles
//     only when neither is possible (see harness/scanner-source.ts; one line says which). With real scanners the
//     sample's busybox is installed as Debian's busybox-static package (harness/debian-busybox.ts), whose fixes
//     Debian's advisories record, so the real gate passes.
// Options:
//   --keep            leave the registry running (Ctrl-C stops it) to inspect it with skopeo
//   --context DIR     build your own project instead of the sample (its Dockerfile may use ARG BASE)
//   --platforms LIST  default linux/amd64,linux/arm64
//   --tag TAG         the git tag released (default v1.0.0)
//   --builder NAME    auto (default) or buildx: buildx when the Docker engine starts, else buildah; buildah
//                     (the engine has no bridge: with --context and buildx, RUN steps need --network=none)
import { copyFile, mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runBundled } from './harness/action-runner.js';
import { publishBaseImage } from './harness/base-images.js';
import { startDockerEngine } from './harness/docker-engine.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { startOidcTokenEndpoint } from './harness/oidc-issuer.js';
import { startRegistry, type TestRegistry } from './harness/registry.js';
import { makeDebianBusyboxWorkspace } from './harness/debian-busybox.js';
import { chooseScanners } from './harness/scanner-source.js';
import { startSigstoreStack } from './harness/sigstore-stack.js';
import { buildahEnvironment, makeSampleWorkspace } from './harness/workspace.js';

const { values } = parseArgs({
  options: {
    keep: { type: 'boolean', default: false },
    context: { type: 'string' },
    platforms: { type: 'string', default: 'linux/amd64,linux/arm64' },
    tag: { type: 'string', default: 'v1.0.0' },
    builder: { type: 'string', default: 'auto' },
  },
});

interface Builder {
  /** The one line saying which builder runs (and why, after a fallback). */
  line: string;
  inputs: Record<string, string>;
  /** Environment for main and post; `pathPrefix` goes before the scanners' PATH. */
  env: Record<string, string>;
  pathPrefix?: string;
  /** The private engine has no bridge network: the sample's RUN steps then say `--network=none`. */
  runWithoutNetwork: boolean;
  stop: () => Promise<void>;
}

const buildah = async (): Promise<Builder> => ({
  line: 'buildah (builder: buildah)',
  inputs: { builder: 'buildah' }, // its storage: `storage` below
  env: {},
  runWithoutNetwork: false,
  stop: async () => undefined,
});

/**
 * buildx on a private Docker Engine 26 (harness/docker-engine.ts) with the engine's `default` builder (docker driver:
 * Edgeship exports OCI layouts and uploads them by digest), the registry's CA in /etc/docker/certs.d/<host>/ (the
 * only place a root dockerd reads registry CAs from) and QEMU from the host's handlers (`qemu: off`: the pinned
 * tonistiigi/binfmt image cannot be pulled here). Falls back to buildah, in one line, when the engine cannot start.
 */
async function buildxOrBuildah(reg: TestRegistry): Promise<Builder> {
  let engine;
  try {
    engine = await startDockerEngine();
  } catch (error) {
    // The harness's first line, then dockerd's last word (its own log follows that first line).
    const lines = (error instanceof Error ? error.message : String(error)).split('\n').filter(Boolean);
    const reason = lines.length > 1 ? `${lines[0]} ${lines.at(-1)!.trim()}` : lines[0];
    const fallback = await buildah();
    return { ...fallback, line: `buildah: no Docker engine could be started here (${reason})` };
  }
  const certsDir = path.join('/etc/docker/certs.d', reg.host);
  const stop = async () => {
    await engine.stop();
    await rm(certsDir, { recursive: true, force: true });
    await rmdir(path.dirname(certsDir)).catch(() => undefined); // only when no other registry's CA is left
  };
  try {
    await mkdir(certsDir, { recursive: true });
    await copyFile(reg.caFile, path.join(certsDir, 'ca.crt'));
  } catch (error) {
    await stop();
    throw error;
  }
  const { PATH: _path, ...env } = engine.env;
  return {
    line: 'buildx on a private Docker Engine 26 (builder: buildx, buildx-builder: default, docker driver)',
    inputs: { builder: 'buildx', 'buildx-builder': 'default', qemu: 'off' },
    env,
    pathPrefix: path.dirname(engine.docker),
    runWithoutNetwork: true,
    stop,
  };
}

/** How each `--builder` builds. */
const BUILDERS: Record<string, (reg: TestRegistry) => Promise<Builder>> = {
  auto: buildxOrBuildah,
  buildx: buildxOrBuildah,
  buildah,
};
const makeBuilder = BUILDERS[values.builder!];
if (!makeBuilder) {
  console.error(`--builder ${values.builder}: choose ${Object.keys(BUILDERS).join(', ')}`);
  process.exit(2);
}

const step = (text: string) => console.log(`\n==> ${text}`);

step('Checking host tools (docker-registry, buildah, skopeo, qemu-user-static, ...)');
const installed = await ensureHostTools();
if (installed.length) console.log(`installed: ${installed.join(', ')}`);
await ensureBinfmt();

step('Starting a registry (htpasswd + TLS) and a local Sigstore on loopback');
const reg = await startRegistry();
const stack = await startSigstoreStack();
const identity = 'https://github.com/acme/edge-agent/.github/workflows/release.yml@refs/heads/main';
const oidc = await startOidcTokenEndpoint(() => stack.oidcToken(identity));
const storage = await buildahEnvironment();
const scratch = await mkdtemp(path.join(os.tmpdir(), 'edgeship-local-release-'));

step('Choosing the scanners');
const scanners = await chooseScanners();
console.log(scanners.line);
// Real scanners flag the bare busybox 1.35.0 binary of the plain sample (NVD: CVE-2022-48174, Critical).
const sample = values.context
  ? undefined
  : scanners.kind === 'doubles'
    ? await makeSampleWorkspace()
    : await makeDebianBusyboxWorkspace();
const workspace = values.context ? path.resolve(values.context) : sample!;

step('Choosing the builder');
const builder = await makeBuilder(reg); // nothing between here and `try` can throw: finally stops it
console.log(builder.line);
try {
  if (sample && builder.runWithoutNetwork) {
    const dockerfile = path.join(sample, 'Dockerfile');
    const text = await readFile(dockerfile, 'utf8');
    await writeFile(dockerfile, text.replace(/^RUN /gm, 'RUN --network=none '));
  }
  const env = {
    ...storage.env,
    ...builder.env,
    ...scanners.env,
    PATH: [builder.pathPrefix, scanners.env.PATH ?? process.env.PATH].filter(Boolean).join(':'),
  };
  console.log(`registry https://${reg.host} (user ${reg.username}, CA ${reg.caFile})`);
  console.log(`Fulcio ${stack.fulcioURL}, Rekor ${stack.rekorURL}, TSA ${stack.tsaURL}`);
  const trustedRoot = path.join(scratch, 'trusted_root.json');
  await writeFile(trustedRoot, JSON.stringify(stack.trustedRoot));

  step('Publishing a busybox base image for linux/amd64 and linux/arm64');
  const base = await publishBaseImage(reg);
  console.log(base);

  const image = `${reg.host}/acme/edge-agent`;
  step(`Running the bundled action (dist/main.js) for refs/tags/${values.tag} → ${image}`);
  const run = await runBundled('main', {
    workspace,
    inputs: {
      image,
      platforms: values.platforms,
      'build-args': `BASE=${base}`,
      'registry-username': reg.username,
      'registry-password': reg.password,
      'registry-ca-file': reg.caFile,
      'reports-dir': path.join(scratch, 'reports'),
      'fulcio-url': stack.fulcioURL,
      'rekor-url': stack.rekorURL,
      'tsa-url': stack.tsaURL,
      'trusted-root': trustedRoot,
      'release-assets': 'off',
      ...builder.inputs,
      ...scanners.inputs,
    },
    env: {
      ...env,
      ...oidc.env,
      GITHUB_REF: `refs/tags/${values.tag}`,
    },
    onLine: (line) => console.log(`    ${line}`),
  });
  await runBundled('post', { workspace, inputs: {}, state: run.state, env });
  if (run.exitCode !== 0) {
    console.error(`\nThe release failed:\n${run.errors.join('\n')}`);
    process.exitCode = 1;
  } else {
    const digests = JSON.parse(run.outputs.digests ?? '[]') as Array<{
      platform: string;
      digest: string;
      size: number;
    }>;
    step(`Released ${run.outputs.version} (${run.outputs.channel}), gate ${run.outputs.gate}`);
    console.log(`index      ${image}@${run.outputs.digest}`);
    for (const d of digests)
      console.log(`${d.platform.padEnd(10)} ${image}@${d.digest}  ${(d.size / 1e6).toFixed(2)} MB`);
    console.log(`tags       ${(run.outputs.tags ?? '').split('\n').join(', ')}`);
    console.log(`manifest   ${run.outputs['manifest-file']} (${run.outputs['manifest-digest']})`);
    console.log(
      `signatures ${(JSON.parse(run.outputs.signatures ?? '[]') as unknown[]).length} bundles attached as OCI referrers (sha256-<hex> fallback tags)`,
    );
    console.log(`reports    ${run.outputs['reports-dir']}`);
    if (values.keep) {
      console.log(
        `\nInspect: skopeo inspect --cert-dir ${reg.certDir} --authfile ${reg.authFile} docker://${image}:latest`,
      );
      console.log('--keep: the registry stays up until you press Ctrl-C');
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    } else {
      console.log(
        '\nThe registry stops now that the script ends (run with --keep to inspect it); the reports stay.',
      );
    }
  }
} finally {
  await builder.stop();
  await reg.stop();
  await stack.stop();
  await oidc.stop();
  await scanners.stop();
  // The reports (SBOMs, Grype reports, SARIF, the deployment manifest and its bundle) stay in `scratch`.
  for (const dir of [storage.dir, sample]) if (dir) await rm(dir, { recursive: true, force: true });
}
