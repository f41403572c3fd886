// `npm run local-release`: a real release on this machine, the way the e2e test does it.
// A distribution registry on a random loopback port (htpasswd auth + self-signed TLS), a busybox base
// image for amd64 and arm64, the sample edge agent in test/e2e/harness/workspace.ts, and the bundled
// action run as a GitHub runner runs it (builder: buildah; arm64 RUN steps under QEMU).
//   --keep            leave the registry running (Ctrl-C stops it) so you can inspect it with skopeo
//   --context DIR     build your own project instead of the sample (its Dockerfile may use ARG BASE)
//   --platforms LIST  default linux/amd64,linux/arm64
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runBundled } from './harness/action-runner.js';
import { publishBaseImage } from './harness/base-images.js';
import { ensureBinfmt, ensureHostTools } from './harness/host-tools.js';
import { startRegistry } from './harness/registry.js';
import { buildahEnvironment, makeSampleWorkspace } from './harness/workspace.js';

const { values } = parseArgs({
  options: {
    keep: { type: 'boolean', default: false },
    context: { type: 'string' },
    platforms: { type: 'string', default: 'linux/amd64,linux/arm64' },
    tag: { type: 'string', default: 'v1.0.0' },
  },
});

const step = (text: string) => console.log(`\n==> ${text}`);

step('Checking host tools (docker-registry, buildah, skopeo, qemu-user-static, ...)');
const installed = await ensureHostTools();
if (installed.length) console.log(`installed: ${installed.join(', ')}`);
await ensureBinfmt();

step('Starting a registry on loopback with htpasswd auth and TLS');
const reg = await startRegistry();
const storage = await buildahEnvironment();
const sample = values.context ? undefined : await makeSampleWorkspace();
const workspace = values.context ? path.resolve(values.context) : sample!;
try {
  console.log(`registry https://${reg.host} (user ${reg.username}, CA ${reg.caFile})`);
  step('Publishing a busybox base image for linux/amd64 and linux/arm64');
  const base = await publishBaseImage(reg);
  console.log(base);

  const image = `${reg.host}/acme/edge-agent`;
  step(`Running the bundled action (dist/main.js) for refs/tags/${values.tag} → ${image}`);
  const run = await runBundled('main', {
    workspace,
    inputs: {
      image,
      builder: 'buildah',
      platforms: values.platforms,
      'build-args': `BASE=${base}`,
      'registry-username': reg.username,
      'registry-password': reg.password,
      'registry-ca-file': reg.caFile,
    },
    env: { ...storage.env, GITHUB_REF: `refs/tags/${values.tag}` },
    onLine: (line) => console.log(`    ${line}`),
  });
  await runBundled('post', { workspace, inputs: {}, state: run.state, env: storage.env });
  if (run.exitCode !== 0) {
    console.error(`\nThe release failed:\n${run.errors.join('\n')}`);
    process.exitCode = 1;
  } else {
    const digests = JSON.parse(run.outputs.digests ?? '[]') as Array<{
      platform: string;
      digest: string;
      size: number;
    }>;
    step(`Release ${run.outputs.version} (${run.outputs.channel}): images pushed by digest, no tag yet`);
    console.log(`The registry stops when this script ends; run with --keep to inspect it.`);
    for (const d of digests)
      console.log(`${d.platform.padEnd(14)} ${image}@${d.digest}  ${(d.size / 1e6).toFixed(2)} MB`);
    if (values.keep)
      console.log(
        `\nInspect one: skopeo inspect --cert-dir ${reg.certDir} --authfile ${reg.authFile} docker://${image}@${digests[0]?.digest}`,
      );
  }
  if (values.keep && run.exitCode === 0) {
    console.log('\n--keep: the registry stays up until you press Ctrl-C');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
} finally {
  await reg.stop();
  await rm(storage.dir, { recursive: true, force: true });
  if (sample) await rm(sample, { recursive: true, force: true });
}
