import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execProcess, describeFailure } from '../../../src/process/exec.js';
import { basicAuth, httpsGet } from './registry.js';
import type { TestRegistry } from './registry.js';

/** A sample edge agent project: a Dockerfile with RUN steps, a HEALTHCHECK and a non-root user. */
export const SAMPLE_DOCKERFILE = `ARG BASE
FROM \${BASE}
RUN mkdir -p /opt/agent && uname -m > /opt/agent/arch && echo "edge agent" > /opt/agent/README
COPY agent.sh /opt/agent/agent.sh
HEALTHCHECK --interval=30s CMD ["/bin/sh", "-c", "test -f /opt/agent/arch"]
USER 1000:1000
CMD ["/bin/sh", "/opt/agent/agent.sh"]
`;

export async function makeSampleWorkspace(dockerfile = SAMPLE_DOCKERFILE): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edgeship-workspace-'));
  await writeFile(path.join(dir, 'Dockerfile'), dockerfile);
  await writeFile(path.join(dir, 'agent.sh'), '#!/bin/sh\necho "agent on $(cat /opt/agent/arch)"\n');
  return dir;
}

/**
 * Environment that makes buildah (as the action runs it) use a private vfs store with chroot
 * isolation, which work as root on any Debian machine without a container runtime setup.
 */
export async function buildahEnvironment(): Promise<{ env: Record<string, string>; dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edgeship-storage-'));
  const conf = path.join(dir, 'storage.conf');
  await mkdir(path.join(dir, 'root'), { recursive: true });
  await writeFile(
    conf,
    `[storage]\ndriver = "vfs"\ngraphroot = "${path.join(dir, 'root')}"\nrunroot = "${path.join(dir, 'run')}"\n`,
  );
  return { env: { CONTAINERS_STORAGE_CONF: conf, BUILDAH_ISOLATION: 'chroot' }, dir };
}

/** Runs skopeo against the test registry (TLS verified with its CA, authenticated); returns stdout. */
export async function skopeo(reg: TestRegistry, args: string[]): Promise<string> {
  const [command, ...rest] = args;
  const access =
    command === 'copy'
      ? [
          '--src-cert-dir',
          reg.certDir,
          '--src-authfile',
          reg.authFile,
          '--dest-cert-dir',
          reg.certDir,
          '--dest-authfile',
          reg.authFile,
        ]
      : ['--cert-dir', reg.certDir, '--authfile', reg.authFile];
  const result = await execProcess('skopeo', [command!, ...access, ...rest], { timeoutMs: 120_000 });
  if (result.exitCode !== 0) throw new Error(describeFailure('skopeo', result));
  return result.stdout;
}

/**
 * The layer digests of a release's platform images (its `digests` output), read with skopeo: what a promotion must
 * never read.
 */
export async function releasedLayers(
  reg: TestRegistry,
  repository: string,
  digestsOutput: string,
): Promise<Set<string>> {
  const layers = new Set<string>();
  for (const { digest } of JSON.parse(digestsOutput) as Array<{ digest: string }>) {
    const raw = await skopeo(reg, ['inspect', '--raw', `docker://${reg.host}/${repository}@${digest}`]);
    for (const layer of (JSON.parse(raw) as { layers: Array<{ digest: string }> }).layers)
      layers.add(layer.digest);
  }
  return layers;
}

/**
 * Tags of a repository read with a raw HTTP request (not Edgeship's client). A repository that has
 * manifests but no tag answers 404 NAME_UNKNOWN on distribution 2.8: that is an empty list.
 */
export async function listTagsRaw(reg: TestRegistry, repository: string): Promise<string[]> {
  const response = await httpsGet(`https://${reg.host}/v2/${repository}/tags/list`, {
    ca: await readFile(reg.caFile, 'utf8'),
    headers: { authorization: basicAuth(reg.username, reg.password) },
  });
  if (response.status === 404 && response.body.includes('NAME_UNKNOWN')) return [];
  if (response.status !== 200)
    throw new Error(`tags/list of ${repository}: HTTP ${response.status} ${response.body}`);
  return (JSON.parse(response.body) as { tags: string[] | null }).tags ?? [];
}

/** Reads one file out of an image's layers (newest layer first) with skopeo + tar, independent of Edgeship. */
export async function readFileFromImage(
  reg: TestRegistry,
  reference: string,
  file: string,
): Promise<string | undefined> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edgeship-image-'));
  await skopeo(reg, ['copy', `docker://${reference}`, `dir:${dir}`]);
  const manifest = JSON.parse(
    await (await import('node:fs/promises')).readFile(path.join(dir, 'manifest.json'), 'utf8'),
  ) as {
    layers: Array<{ digest: string }>;
  };
  for (const layer of [...manifest.layers].reverse()) {
    const blob = path.join(dir, layer.digest.split(':')[1]!);
    const extracted = await execProcess('tar', ['-xzOf', blob, file.replace(/^\//, '')]);
    if (extracted.exitCode === 0) return extracted.stdout;
  }
  return undefined;
}
