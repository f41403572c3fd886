/**
 * The sample edge agent with its busybox installed the Debian way: the base image's busybox binary (Debian 12's
 * busybox-static, 1.35.0) plus the dpkg status entry, file list and md5sums of the `busybox-static` package it
 * comes from, and Debian's os-release. Syft then reports the Debian package (whose version carries Debian's
 * backported fixes) instead of a bare busybox 1.35.0 binary, so a scan against Debian's advisories is clean,
 * while the plain sample (no package metadata) matches NVD's busybox advisories.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { arm64Busybox } from './base-images.js';
import { HOST_BUSYBOX } from './host-tools.js';
import { makeSampleWorkspace, SAMPLE_DOCKERFILE } from './workspace.js';

/** The Dockerfile lines that install the dpkg files of `writeBusyboxDpkgFiles` (append to any Dockerfile FROM the base). */
export const DEBIAN_BUSYBOX_LINES = `ARG TARGETARCH
COPY dpkg/os-release /etc/os-release
COPY dpkg/status-\${TARGETARCH} /var/lib/dpkg/status
COPY dpkg/busybox-static.list /var/lib/dpkg/info/busybox-static.list
COPY dpkg/md5sums-\${TARGETARCH} /var/lib/dpkg/info/busybox-static.md5sums
`;

export const DEBIAN_BUSYBOX_DOCKERFILE = `${SAMPLE_DOCKERFILE}${DEBIAN_BUSYBOX_LINES}`;

/** Writes the dpkg files of this machine's busybox-static (per arch) into `dir`. */
export async function writeBusyboxDpkgFiles(dir: string): Promise<void> {
  const status = await readFile('/var/lib/dpkg/status', 'utf8');
  const stanza = status.split(/\n\n/).find((s) => /^Package: busybox-static$/m.test(s));
  if (!stanza) throw new Error('busybox-static is not installed on this machine (.ci/run installs it)');
  await mkdir(dir, { recursive: true });
  // The base image's busybox binaries (the arm64 one comes from the same Debian release's busybox-static:arm64).
  const binaries = { amd64: HOST_BUSYBOX, arm64: await arm64Busybox() };
  for (const [arch, binary] of Object.entries(binaries)) {
    const entry = stanza.replace(/^Architecture: .*$/m, `Architecture: ${arch}`);
    await writeFile(path.join(dir, `status-${arch}`), `${entry.trim()}\n\n`);
    // Syft reads a package's files from its md5sums: that is what makes the binary the package's own.
    const md5 = createHash('md5')
      .update(await readFile(binary))
      .digest('hex');
    await writeFile(path.join(dir, `md5sums-${arch}`), `${md5}  bin/busybox\n`);
  }
  await writeFile(path.join(dir, 'busybox-static.list'), '/.\n/bin\n/bin/busybox\n');
  await writeFile(path.join(dir, 'os-release'), await readFile('/etc/os-release', 'utf8'));
}

/**
 * A sample workspace whose busybox belongs to Debian's busybox-static package. Another Dockerfile FROM the base
 * image may be given: the dpkg lines are appended to it.
 */
export async function makeDebianBusyboxWorkspace(dockerfile = SAMPLE_DOCKERFILE): Promise<string> {
  const dir = await makeSampleWorkspace(`${dockerfile}${DEBIAN_BUSYBOX_LINES}`);
  await writeBusyboxDpkgFiles(path.join(dir, 'dpkg'));
  return dir;
}
