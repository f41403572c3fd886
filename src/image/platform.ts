/** A target platform in the OCI sense: `os/architecture[/variant]`. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const KNOWN_OS = new Set(['linux', 'windows', 'freebsd', 'darwin']);

/** Architectures (GOARCH names, as used in OCI image indexes) and the variants each accepts. */
const KNOWN_ARCHITECTURES: Record<string, readonly string[]> = {
  amd64: ['v1', 'v2', 'v3', 'v4'],
  arm64: ['v8', 'v9'],
  arm: ['v5', 'v6', 'v7'],
  '386': [],
  ppc64le: [],
  s390x: [],
  riscv64: [],
  mips64le: [],
  loong64: [],
};

/** Spellings people commonly use for an architecture, mapped to the OCI name. */
const ARCHITECTURE_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  i386: '386',
  armhf: 'arm',
};

export class PlatformError extends Error {
  override name = 'PlatformError';
}

export const PLATFORM_FORM =
  'os/arch[/variant] such as linux/amd64, linux/arm64 or linux/arm/v7 ' +
  `(architectures: ${Object.keys(KNOWN_ARCHITECTURES).join(', ')})`;

/** Parses and normalises one platform string; throws PlatformError describing what is wrong. */
export function parsePlatform(raw: string): Platform {
  const text = raw.trim();
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p.length === 0)) {
    throw new PlatformError(`"${raw}" is not of the form ${PLATFORM_FORM}`);
  }
  const os = parts[0]!.toLowerCase();
  const archRaw = parts[1]!.toLowerCase();
  const architecture = ARCHITECTURE_ALIASES[archRaw] ?? archRaw;
  if (!KNOWN_OS.has(os)) {
    throw new PlatformError(
      `"${raw}" has an unknown operating system "${parts[0]}"; expected ${PLATFORM_FORM}`,
    );
  }
  const variants = KNOWN_ARCHITECTURES[architecture];
  if (!variants) {
    throw new PlatformError(`"${raw}" has an unknown architecture "${parts[1]}"; expected ${PLATFORM_FORM}`);
  }
  let variant = parts[2]?.toLowerCase();
  if (archRaw === 'armhf' && variant === undefined) variant = 'v7';
  if (variant !== undefined && !variants.includes(variant)) {
    const allowed = variants.length ? variants.join(', ') : 'none';
    throw new PlatformError(
      `"${raw}" has an unknown variant "${parts[2]}" for ${architecture}; allowed variants: ${allowed}`,
    );
  }
  // arm64/v8 is the same platform as arm64: keep the canonical short form.
  if (architecture === 'arm64' && variant === 'v8') variant = undefined;
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** A file-name-safe slug such as `linux-arm64` or `linux-arm-v7`. */
export function platformSlug(p: Platform): string {
  return formatPlatform(p).replace(/\//g, '-');
}

/** Splits a list given as newlines and/or commas; blank entries and `#` comments are dropped. */
export function splitList(raw: string): string[] {
  return raw
    .split(/\r?\n/)
    .map((line) => line.replace(/(^|\s)#.*$/, ''))
    .flatMap((line) => line.split(','))
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** Maps Node's `process.arch` to the OCI architecture the runner executes natively. */
export function nativeArchitecture(nodeArch: string): string | undefined {
  const map: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    loong64: 'loong64',
  };
  return map[nodeArch];
}

/** True when a runner of `hostArch` (OCI name) runs `p` without emulation. */
export function runsNatively(p: Platform, hostArch: string | undefined): boolean {
  if (p.os !== 'linux' || hostArch === undefined) return false;
  if (p.architecture === hostArch) return true;
  return hostArch === 'amd64' && p.architecture === '386';
}

/** The qemu/binfmt name of an architecture (`arm64` → `aarch64` for qemu-user-static, `arm64` for tonistiigi/binfmt). */
export function qemuArchitecture(p: Platform): string {
  const map: Record<string, string> = {
    arm64: 'aarch64',
    arm: 'arm',
    amd64: 'x86_64',
    '386': 'i386',
    ppc64le: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    mips64le: 'mips64el',
    loong64: 'loongarch64',
  };
  return map[p.architecture] ?? p.architecture;
}

/** Matches an index entry's platform against a wanted platform (variant optional on either side for arm64). */
export function samePlatform(a: Platform, b: Platform): boolean {
  const norm = (p: Platform) => (p.architecture === 'arm64' && p.variant === 'v8' ? undefined : p.variant);
  return a.os === b.os && a.architecture === b.architecture && norm(a) === norm(b);
}
