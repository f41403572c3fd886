/**
 * Parsers of the builder and build inputs docker/build-push-action users know (`buildx-builder`, `buildkit-image`,
 * `buildkit-endpoint`, `secrets`, `secret-files`, `ssh`, `build-contexts`, `annotations`), and the checks that span
 * several of them. Secret values are never put into an error message.
 */
import path from 'node:path';
import { InputError } from './errors.js';
import { lines } from './parsers.js';
import type { ParseContext } from './parsers.js';

const SECRET_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** `id=value` lines of the `secrets` input; the message names the line's id (or its number), never a value. */
export function parseSecrets(raw: string): Array<[string, string]> {
  return lines(raw).map((line, index) => {
    const eq = line.indexOf('=');
    const id = eq < 0 ? '' : line.slice(0, eq).trim();
    if (eq <= 0 || !SECRET_ID.test(id)) {
      throw new InputError(
        'secrets',
        `line ${index + 1}`,
        'one id=value per line, id being letters, digits, _ . - (the value is not shown)',
      );
    }
    return [id, line.slice(eq + 1)];
  });
}

/** `id=path` lines of the `secret-files` input: files of the workspace that exist. */
export function parseSecretFiles(raw: string, ctx: ParseContext): Array<[string, string]> {
  return lines(raw).map((line) => {
    const eq = line.indexOf('=');
    const id = eq < 0 ? '' : line.slice(0, eq).trim();
    const file = eq < 0 ? '' : path.resolve(ctx.workspace, line.slice(eq + 1).trim());
    if (eq <= 0 || !SECRET_ID.test(id) || ctx.fileExists(file) !== 'file') {
      throw new InputError('secret-files', line, 'one id=path per line, path being a file that exists');
    }
    return [id, file];
  });
}

/** `ssh` lines: `default`, `id`, or `id=<socket or key files>` as buildx --ssh takes them. */
export function parseSsh(raw: string): string[] {
  return lines(raw).map((line) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*(=\S.*)?$/.test(line)) {
      throw new InputError('ssh', line, 'default, or id=<agent socket or key file[,key file]> per line');
    }
    return line;
  });
}

/** `name=value` lines of `build-contexts` (a directory, docker-image://, oci-layout://, a git or https URL). */
export function parseBuildContexts(raw: string): Array<[string, string]> {
  return lines(raw).map((line) => {
    const eq = line.indexOf('=');
    const name = eq < 0 ? '' : line.slice(0, eq).trim();
    const value = eq < 0 ? '' : line.slice(eq + 1).trim();
    if (eq <= 0 || !value || !/^[A-Za-z0-9][A-Za-z0-9_.:/@-]*$/.test(name)) {
      throw new InputError(
        'build-contexts',
        line,
        'one name=value per line, e.g. alpine=docker-image://alpine:3.20 or assets=./assets',
      );
    }
    return [name, value];
  });
}

/** An image reference for a builder's own image (no spaces; pin it by digest). */
export function parseToolImage(name: string, raw: string): string {
  if (!raw || /\s/.test(raw) || raw.includes('://')) {
    throw new InputError(name, raw, 'an image reference such as docker.io/moby/buildkit:v0.31.2@sha256:…');
  }
  return raw;
}

/** `buildx-builder`: the name of an existing builder (e.g. `default`). */
export function parseBuilderName(raw: string): string | undefined {
  if (!raw) return undefined;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(raw))
    throw new InputError('buildx-builder', raw, 'the name of an existing buildx builder, e.g. default');
  return raw;
}

/** `buildkit-endpoint`: a BuildKit daemon for buildx's remote driver. */
export function parseBuildkitEndpoint(raw: string): string | undefined {
  if (!raw) return undefined;
  if (!/^(unix|tcp):\/\/\S+$/.test(raw))
    throw new InputError(
      'buildkit-endpoint',
      raw,
      'a BuildKit address such as tcp://10.0.0.5:1234 or unix:///run/buildkit/buildkitd.sock',
    );
  return raw;
}

/** What the cross-input check reads. */
export interface BuildInputValues {
  builder: 'buildx' | 'buildah';
  buildxBuilder?: string | undefined;
  buildkitEndpoint?: string | undefined;
  secrets: ReadonlyArray<[string, string]>;
  secretFiles: ReadonlyArray<[string, string]>;
  annotations: Record<string, string>;
}

/** Checks what depends on several build inputs; throws the InputError of the first conflict. */
export function checkBuildInputs(v: BuildInputValues): void {
  if (v.buildxBuilder && v.buildkitEndpoint) {
    throw new InputError(
      'buildkit-endpoint',
      v.buildkitEndpoint,
      `no endpoint when buildx-builder (${v.buildxBuilder}) names the builder to use: set one of them`,
    );
  }
  if (v.builder === 'buildah') {
    for (const [name, set] of [
      ['buildx-builder', v.buildxBuilder],
      ['buildkit-endpoint', v.buildkitEndpoint],
      ['annotations', Object.keys(v.annotations).length ? 'set' : undefined],
    ] as const) {
      if (set) {
        throw new InputError(
          name,
          name === 'annotations' ? '' : set,
          `nothing with builder: buildah (${name} is for buildx; buildah writes docker-format manifests without annotations)`,
        );
      }
    }
  }
  const ids = [...v.secrets, ...v.secretFiles].map(([id]) => id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice)
    throw new InputError('secret-files', twice, 'each secret id once across secrets and secret-files');
}
