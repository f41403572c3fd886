/** buildah as a fake-exec handler: `push` writes a real OCI layout of a small image and the digest file. */
import { writeFileSync } from 'node:fs';
import { writeOciLayout } from './images.js';
import type { ExecCall, ExecHandler } from './memory-host.js';

const option = (call: ExecCall, name: string) => call.args[call.args.indexOf(name) + 1]!;

export const buildah: ExecHandler = (call) => {
  if (call.file !== 'buildah') return undefined;
  if (call.args[0] === '--version')
    return { stdout: 'buildah version 1.33.7 (image-spec 1.1.0, runtime-spec 1.1.0)' };
  if (call.args[0] === 'build') return { stdout: `STEP 1/2: FROM scratch (${option(call, '--platform')})` };
  if (call.args[0] === 'push') {
    const [, target] = call.args.slice(-2);
    const [, dir, tag] = /^oci:(.+):([^:]+)$/.exec(target!)!;
    const platform = tag!.replace(/-/g, '/');
    const digest = writeOciLayout(dir!, tag!, platform);
    writeFileSync(option(call, '--digestfile'), digest);
    return {};
  }
  return undefined;
};
