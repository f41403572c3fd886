// Child process of bench/run.mjs (run with tsx, so the e2e harness finds dist/): wall time of a 2-platform release
// of the sample (mode build: build, push by digest, real Syft and Grype, gate) with the real buildah against the real
// buildx, on a test registry (Debian docker-registry, htpasswd + TLS) with a busybox base image built here.
// buildx runs on a private Docker Engine 26 twice: the default path (a docker-container builder created from a
// BuildKit image assembled here, removed by the post step) and an existing `docker`-driver builder (OCI layouts
// uploaded by Edgeship). QEMU comes from the host's handlers for both. The sample's busybox is Debian's package (it
// scans clean, so each release runs to its end). Prints one JSON line: ms per builder, or {"skipped": reason} when
// the engine or the real scanners cannot be had.
import { copyFile, mkdir, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { runBundled } from '../test/e2e/harness/action-runner.js';
import { publishBaseImage } from '../test/e2e/harness/base-images.js';
import { publishBuildkitImage } from '../test/e2e/harness/buildkit-image.js';
import { startDockerEngine, type DockerEngine } from '../test/e2e/harness/docker-engine.js';
import { ensureBinfmt, ensureHostTools } from '../test/e2e/harness/host-tools.js';
import { startRegistry } from '../test/e2e/harness/registry.js';
import { makeDebianBusyboxWorkspace } from '../test/e2e/harness/debian-busybox.js';
import { realScannerTools, startRealScanners } from '../test/e2e/harness/real-scanners.js';
import { buildahEnvironment, SAMPLE_DOCKERFILE } from '../test/e2e/harness/workspace.js';

// The engine has no bridge network: for buildx the sample's RUN step runs without one (buildah 1.28 has no
// `RUN --network` and needs none).
const BUILDX_DOCKERFILE = SAMPLE_DOCKERFILE.replace(/^RUN /m, 'RUN --network=none ');
const tools = await realScannerTools('builders bench');
if ('reason' in tools) {
  console.log(JSON.stringify({ skipped: `real Syft/Grype unavailable: ${tools.reason}` }));
  process.exit(0);
}

await ensureHostTools();
await ensureBinfmt();
const reg = await startRegistry();
const scanners = await startRealScanners(tools);
const cleanup: Array<() => Promise<unknown>> = [() => reg.stop(), () => scanners.stop()];

/** One release (main, then post) of the sample; returns the main step's wall time in ms. */
async function release(
  name: string,
  workspace: string,
  inputs: Record<string, string>,
  env: Record<string, string>,
): Promise<number> {
  const started = process.hrtime.bigint();
  const run = await runBundled('main', {
    workspace,
    inputs: {
      image: `${reg.host}/bench/${name}`,
      mode: 'build',
      'records-dir': path.join(workspace, `.records-${name}`),
      'registry-username': reg.username,
      'registry-password': reg.password,
      'registry-ca-file': reg.caFile,
      ...scanners.inputs,
      ...inputs,
    },
    env: { PATH: scanners.env.PATH, ...env },
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await runBundled('post', {
    workspace,
    inputs: {},
    state: run.state,
    env: { PATH: scanners.env.PATH, ...env },
  });
  if (run.exitCode !== 0) throw new Error(`${name} release failed: ${run.errors.join('\n')}`);
  return ms;
}

let engine: DockerEngine | undefined;
try {
  const base = await publishBaseImage(reg);
  const buildahWorkspace = await makeDebianBusyboxWorkspace();
  const buildxWorkspace = await makeDebianBusyboxWorkspace(BUILDX_DOCKERFILE);
  for (const dir of [buildahWorkspace, buildxWorkspace])
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const storage = await buildahEnvironment();
  cleanup.push(() => rm(storage.dir, { recursive: true, force: true }));
  const buildArgs = { 'build-args': `BASE=${base}`, qemu: 'off' };
  const buildah = await release(
    'buildah',
    buildahWorkspace,
    { ...buildArgs, builder: 'buildah' },
    storage.env,
  );

  engine = await startDockerEngine().catch((error: unknown) => {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    console.log(JSON.stringify({ skipped: `Docker Engine 26 could not start: ${reason}`, buildah }));
    return undefined;
  });
  if (engine) {
    const certsDir = path.join('/etc/docker/certs.d', reg.host);
    await mkdir(certsDir, { recursive: true });
    await copyFile(reg.caFile, path.join(certsDir, 'ca.crt'));
    cleanup.push(async () => {
      await rm(certsDir, { recursive: true, force: true });
      await rmdir(path.dirname(certsDir)); // only when no other registry's CA is left
    });
    const env = { ...engine.env, PATH: `${path.dirname(engine.docker)}:${scanners.env.PATH}` };
    const buildkitImage = await publishBuildkitImage(reg);
    const buildx = await release(
      'buildx',
      buildxWorkspace,
      { ...buildArgs, builder: 'buildx', 'buildkit-image': buildkitImage },
      env,
    );
    const dockerDriver = await release(
      'buildx-docker',
      buildxWorkspace,
      { ...buildArgs, builder: 'buildx', 'buildx-builder': 'default' },
      env,
    );
    console.log(JSON.stringify({ buildah, buildx, dockerDriver }));
  }
} finally {
  await engine?.stop();
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
}
