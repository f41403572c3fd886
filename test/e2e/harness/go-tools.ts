/**
 * Go tools built from their published modules (Go module proxy) at pinned versions, for the tests: Syft and Grype
 * at the versions pinned in `src/tools/pinned.ts`, BuildKit's `buildkitd`/`buildctl`. Each binary is built once
 * per tool version, Go version and arch into `/var/cache/edgeship-ci/go-tools/<tool>-<version>-<goversion>-<arch>`
 * (a folder that stays on the machine); Go's own module and build caches stay at their defaults, so a rebuild
 * after a pin change downloads nothing again and recompiles only what changed.
 *
 * Builds run with `nice -n 10`, `CGO_ENABLED=0` (as the upstream releases) and `-trimpath`, one at a time on the
 * machine (a lock file in the cache folder), and every binary is checked to report the pinned version before it
 * is used. Binaries built from source are not the release archives whose sha256 Edgeship pins, so tests give them
 * to the action as tools on PATH (`syft-version: path`), never through the download path.
 *
 * CLI (called by `.ci/run` before the tests, so the compile happens once and its time is stated):
 *   node --import tsx test/e2e/harness/go-tools.ts syft grype [buildkitd buildctl]
 */
import { open, readdir, readFile, rename, rm, mkdir, mkdtemp, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { describeFailure, execProcess } from '../../../src/process/exec.js';
import { PINNED_TOOLS } from '../../../src/tools/pinned.js';

/** Where finished binaries are kept across runs. Override: EDGESHIP_GO_TOOLS_DIR. */
export const GO_TOOLS_DIR = process.env.EDGESHIP_GO_TOOLS_DIR ?? '/var/cache/edgeship-ci/go-tools';

/** The BuildKit release whose `buildkitd`/`buildctl` the builder tests use. */
export const BUILDKIT_VERSION = '0.34.2';

/** cosign 3 (the verifier devices get from Sigstore's releases; Debian 13 ships cosign 2.5). */
export const COSIGN3_VERSION = '3.1.3';

/** GitHub CLI with `gh attestation verify` (Debian 13's gh 2.46 has no `attestation` command). */
export const GH_VERSION = '2.83.0';

export type GoToolName = 'syft' | 'grype' | 'buildkitd' | 'buildctl' | 'cosign3' | 'gh';

export interface GoToolSpec {
  name: GoToolName;
  /** Module path (`go install <module>/<cmd>@v<version>`). */
  module: string;
  /** Package of the command inside the module (default `cmd/<name>`); the binary is named after its last element. */
  cmd?: string;
  /**
   * `install` (default): `go install <module>/<cmd>@v<version>`. `module-dir`: `go mod download -json` of the
   * module, then `go build ./<cmd>` inside its folder, for a module `go install` refuses (a `replace` directive,
   * or a proxy that refuses the module's version list, which `go install` reads for deprecations).
   */
  via?: 'install' | 'module-dir';
  /** Version without `v`. */
  version: string;
  ldflags: string[];
  tags: string[];
  /** argv that prints the version, and how to read it from stdout. */
  versionArgs: string[];
  readVersion(stdout: string): string | undefined;
}

const anchoreVersion = (stdout: string): string | undefined => {
  try {
    const doc = JSON.parse(stdout) as { version?: unknown };
    return typeof doc.version === 'string' ? doc.version : undefined;
  } catch {
    return undefined;
  }
};

function anchore(name: 'syft' | 'grype'): GoToolSpec {
  const version = PINNED_TOOLS[name].version;
  return {
    name,
    module: `github.com/anchore/${name}`,
    version,
    // The variables upstream's .goreleaser.yaml sets; without them `version` prints "[not provided]".
    ldflags: ['-s', '-w', `-X main.version=${version}`, `-X main.gitDescription=v${version}`],
    tags: [],
    versionArgs: ['version', '-o', 'json'],
    readVersion: anchoreVersion,
  };
}

function buildkit(name: 'buildkitd' | 'buildctl'): GoToolSpec {
  const pkg = 'github.com/moby/buildkit/version';
  return {
    name,
    module: 'github.com/moby/buildkit',
    // Its go.mod has `exclude` directives, which `go install …@v` refuses: built inside the module.
    via: 'module-dir',
    version: BUILDKIT_VERSION,
    ldflags: [
      '-s',
      '-w',
      `-X ${pkg}.Version=v${BUILDKIT_VERSION}`,
      `-X ${pkg}.Revision=module-v${BUILDKIT_VERSION}`,
      `-X ${pkg}.Package=github.com/moby/buildkit`,
    ],
    // As BuildKit's own Dockerfile builds buildkitd.
    tags: name === 'buildkitd' ? ['osusergo', 'netgo', 'static_build', 'seccomp'] : [],
    versionArgs: ['--version'],
    readVersion: (stdout) => / v(\d+\.\d+\.\d+\S*)/.exec(stdout)?.[1],
  };
}

// cosign's version package (sigs.k8s.io/release-utils) prints `gitVersion` as set by upstream's .goreleaser.yml.
const cosign3: GoToolSpec = {
  name: 'cosign3',
  module: 'github.com/sigstore/cosign/v3',
  cmd: 'cmd/cosign',
  version: COSIGN3_VERSION,
  ldflags: ['-s', '-w', `-X sigs.k8s.io/release-utils/version.gitVersion=v${COSIGN3_VERSION}`],
  tags: [],
  versionArgs: ['version', '--json'],
  readVersion: (stdout) => {
    try {
      const doc = JSON.parse(stdout) as { gitVersion?: unknown };
      return typeof doc.gitVersion === 'string' ? doc.gitVersion.replace(/^v/, '') : undefined;
    } catch {
      return undefined;
    }
  },
};

// gh's Makefile sets internal/build.Version; `gh --version` prints "gh version 2.83.0 (…)". The proxy refuses
// this module's version list (403), which `go install …@v` reads for deprecations: built inside the module.
const gh: GoToolSpec = {
  name: 'gh',
  module: 'github.com/cli/cli/v2',
  via: 'module-dir',
  version: GH_VERSION,
  ldflags: ['-s', '-w', `-X github.com/cli/cli/v2/internal/build.Version=v${GH_VERSION}`],
  tags: [],
  versionArgs: ['--version'],
  readVersion: (stdout) => /^gh version (\S+)/m.exec(stdout)?.[1],
};

export const GO_TOOLS: Readonly<Record<GoToolName, GoToolSpec>> = {
  syft: anchore('syft'),
  grype: anchore('grype'),
  buildkitd: buildkit('buildkitd'),
  buildctl: buildkit('buildctl'),
  cosign3,
  gh,
};

/** The binary `go install` writes for a tool (the last element of its command package). */
export function goToolBinary(spec: GoToolSpec): string {
  return path.basename(spec.cmd ?? `cmd/${spec.name}`);
}

export function isGoToolName(name: string): name is GoToolName {
  return Object.hasOwn(GO_TOOLS, name);
}

/** Go's name of this machine's arch. */
export function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/** `<dir>/syft-1.52.0-go1.26.8-amd64`. */
export function goToolPath(spec: GoToolSpec, goVersion: string, arch = goArch(), dir = GO_TOOLS_DIR): string {
  return path.join(dir, `${spec.name}-${spec.version}-${goVersion}-${arch}`);
}

/** `go install` argv for a tool (built into GOBIN). */
export function goInstallArgs(spec: GoToolSpec): string[] {
  return [
    'install',
    '-trimpath',
    ...(spec.tags.length > 0 ? ['-tags', spec.tags.join(',')] : []),
    '-ldflags',
    spec.ldflags.join(' '),
    `${spec.module}/${spec.cmd ?? `cmd/${spec.name}`}@v${spec.version}`,
  ];
}

/** `go build` argv for a tool, run inside its module's folder (`-o` the binary). */
export function goBuildArgs(spec: GoToolSpec, output: string): string[] {
  return [
    'build',
    '-trimpath',
    ...(spec.tags.length > 0 ? ['-tags', spec.tags.join(',')] : []),
    '-ldflags',
    spec.ldflags.join(' '),
    '-o',
    output,
    `./${spec.cmd ?? `cmd/${spec.name}`}`,
  ];
}

/** The folder of `module@v<version>` in the module cache, downloaded first when missing. */
async function moduleDir(spec: GoToolSpec, log: (line: string) => void): Promise<string> {
  const ref = `${spec.module}@v${spec.version}`;
  const result = await execProcess('go', ['mod', 'download', '-json', ref], { timeoutMs: BUILD_TIMEOUT_MS });
  const dir = (() => {
    try {
      return (JSON.parse(result.stdout) as { Dir?: unknown }).Dir;
    } catch {
      return undefined;
    }
  })();
  if (result.exitCode !== 0 || result.failure || typeof dir !== 'string') {
    throw new Error(`go mod download -json ${ref} failed: ${describeFailure('go', result, 20)}`);
  }
  log(`${ref} is in ${dir}`);
  return dir;
}

/** The Go version (`go1.26.8`), or undefined when Go is not installed. */
export async function goVersion(): Promise<string | undefined> {
  const result = await execProcess('go', ['env', 'GOVERSION'], { timeoutMs: 60_000 });
  return result.exitCode === 0 && !result.failure ? result.stdout.trim() : undefined;
}

/** The version the binary reports, or why it could not be read. */
export async function reportedVersion(
  spec: GoToolSpec,
  bin: string,
): Promise<{ version: string } | { error: string }> {
  const result = await execProcess(bin, spec.versionArgs, { timeoutMs: 60_000 });
  if (result.exitCode !== 0 || result.failure) return { error: describeFailure(spec.name, result) };
  const version = spec.readVersion(result.stdout);
  return version ? { version } : { error: `no version in ${JSON.stringify(result.stdout.slice(0, 200))}` };
}

async function verified(spec: GoToolSpec, bin: string): Promise<boolean> {
  try {
    await stat(bin);
  } catch {
    return false;
  }
  const reported = await reportedVersion(spec, bin);
  return 'version' in reported && reported.version === spec.version;
}

/** Any verified binary of this tool version in the cache (built with any Go version), for machines without Go. */
async function anyCached(spec: GoToolSpec): Promise<string | undefined> {
  let names: string[];
  try {
    names = await readdir(GO_TOOLS_DIR);
  } catch {
    return undefined;
  }
  const prefix = `${spec.name}-${spec.version}-go`;
  for (const name of names.filter((n) => n.startsWith(prefix) && n.endsWith(`-${goArch()}`)).sort()) {
    const bin = path.join(GO_TOOLS_DIR, name);
    if (await verified(spec, bin)) return bin;
  }
  return undefined;
}

const LOCK = () => path.join(GO_TOOLS_DIR, '.build.lock');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One Go compile at a time on the machine: waits for the lock file (a dead holder's lock is taken over). */
async function withBuildLock<T>(work: () => Promise<T>, log: (line: string) => void): Promise<T> {
  await mkdir(GO_TOOLS_DIR, { recursive: true });
  let said = false;
  for (;;) {
    try {
      const handle = await open(LOCK(), 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(await readFile(LOCK(), 'utf8').catch(() => ''), 10);
      if (!Number.isInteger(holder) || !alive(holder)) {
        await rm(LOCK(), { force: true });
        continue;
      }
      if (!said) log(`waiting for another Go build (pid ${holder}) to finish`);
      said = true;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }
  try {
    return await work();
  } finally {
    await rm(LOCK(), { force: true });
  }
}

export interface GoToolResult {
  path: string;
  /** Seconds spent building (0 for a cache hit). */
  seconds: number;
  built: boolean;
}

const BUILD_TIMEOUT_MS = 60 * 60_000;

/**
 * The path of a verified binary of the tool, building it first when the cache has none. Throws with the
 * reason when it cannot be had (no Go and nothing cached, a failed build, a wrong version).
 */
export async function ensureGoTool(
  name: GoToolName,
  log: (line: string) => void = () => undefined,
): Promise<GoToolResult> {
  const spec = GO_TOOLS[name];
  const go = await goVersion();
  if (!go) {
    const cached = await anyCached(spec);
    if (cached) return { path: cached, seconds: 0, built: false };
    throw new Error(
      `${name} ${spec.version} is not in ${GO_TOOLS_DIR} and Go is not installed to build it (.ci/run installs Go)`,
    );
  }
  const bin = goToolPath(spec, go);
  if (await verified(spec, bin)) return { path: bin, seconds: 0, built: false };
  return withBuildLock(async () => {
    if (await verified(spec, bin)) return { path: bin, seconds: 0, built: false }; // built while we waited
    const started = Date.now();
    const gobin = await mkdtemp(path.join(GO_TOOLS_DIR, `.build-${name}-`));
    try {
      log(`building ${name} ${spec.version} with ${go} from ${spec.module} (Go module proxy)`);
      const built = path.join(gobin, goToolBinary(spec));
      const inModule = spec.via === 'module-dir';
      const args = inModule ? goBuildArgs(spec, built) : goInstallArgs(spec);
      const result = await execProcess('nice', ['-n', '10', 'go', ...args], {
        env: { CGO_ENABLED: '0', GOBIN: gobin },
        timeoutMs: BUILD_TIMEOUT_MS,
        onLine: log,
        ...(inModule ? { cwd: await moduleDir(spec, log) } : {}),
      });
      if (result.exitCode !== 0 || result.failure) {
        throw new Error(`go ${args.join(' ')} failed: ${describeFailure('go', result, 20)}`);
      }
      const reported = await reportedVersion(spec, built);
      if (!('version' in reported) || reported.version !== spec.version) {
        throw new Error(
          `${name} built from ${spec.module}@v${spec.version} reports ${'version' in reported ? reported.version : reported.error}, not ${spec.version}`,
        );
      }
      await rename(built, bin);
      return { path: bin, seconds: (Date.now() - started) / 1000, built: true };
    } finally {
      await rm(gobin, { recursive: true, force: true });
    }
  }, log);
}

/**
 * For a test suite: the tools' paths, or one line saying why they are missing. With CI=true a missing tool is an
 * error (CI must run every case); elsewhere the caller skips what needs it and says so.
 */
export async function goToolsOrReason(
  names: readonly GoToolName[],
  log?: (line: string) => void,
): Promise<{ paths: Record<string, string> } | { reason: string }> {
  const paths: Record<string, string> = {};
  try {
    for (const name of names) paths[name] = (await ensureGoTool(name, log)).path;
    return { paths };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    if (process.env.CI === 'true') throw error;
    return { reason };
  }
}

async function main(args: string[]): Promise<number> {
  const names = args.length > 0 ? args : ['syft', 'grype'];
  const unknown = names.filter((n) => !isGoToolName(n));
  if (unknown.length > 0) {
    console.error(`go-tools: unknown tool ${unknown.join(', ')}; known: ${Object.keys(GO_TOOLS).join(', ')}`);
    return 2;
  }
  for (const name of names as GoToolName[]) {
    const started = Date.now();
    try {
      const result = await ensureGoTool(name, (line) => console.log(`  ${name}: ${line}`));
      const took = ((Date.now() - started) / 1000).toFixed(1);
      console.log(
        `go-tools: ${name} ${GO_TOOLS[name].version} ${result.built ? `built in ${took} s` : `cached (${took} s)`}: ${result.path}`,
      );
    } catch (error) {
      console.error(`go-tools: ${name}: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    }
  }
  return 0;
}

// Run as a script only (not when imported, nor from a bundle that contains this module).
if (
  process.argv[1] &&
  /go-tools\.ts$/.test(process.argv[1]) &&
  import.meta.url === pathToFileURL(process.argv[1]).href
) {
  process.exitCode = await main(process.argv.slice(2));
}
