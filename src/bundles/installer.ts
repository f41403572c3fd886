/**
 * `edgeship-install.sh`: the device installer, POSIX sh, rendered for one release from its signed deployment
 * manifest (the platforms, digests and bundles are constants in the script). Shipped inside every bundle and
 * as a release asset. Pure: text in, text out; `shellcheck` runs on the output in the tests.
 */
import type { DeploymentManifest } from '../deployment/manifest.js';
import type { RunSettings } from '../image/run-settings.js';
import { INSTALLER_FILE, SUMS_BUNDLE_FILE, SUMS_FILE, TRUSTED_ROOT_FILE } from './layout.js';

/** The predicate type of a bundle's signed SHA256SUMS (an in-toto statement naming the file). */
export const OFFLINE_BUNDLE_PREDICATE_TYPE = 'https://edgeship.dev/offline-bundle/v1';

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** The installer for a release, given the names of its manifest files. */
export function renderInstaller(
  m: DeploymentManifest,
  files: { manifest: string; manifestBundle: string; predicateType: string },
): string {
  const rows = m.platforms.map((p) =>
    [p.platform, p.digest, p.user || '-', p.healthcheck ? 'yes' : 'no'].join(' '),
  );
  const bundles = m.platforms.flatMap((p) =>
    (p.bundles ?? []).map((b) =>
      [
        b.file,
        p.platform,
        b.kind,
        b.bytes,
        b.sha256,
        b.baseline ?? '-',
        p.delta.baseline?.digest ?? '-',
      ].join(' '),
    ),
  );
  const who =
    m.signatures.mode === 'keyless'
      ? `--certificate-identity ${quote(m.signatures.identity ?? '')} --certificate-oidc-issuer ${quote(m.signatures.issuer ?? '')}`
      : m.signatures.mode === 'key'
        ? '--key "$KEY"'
        : '';
  const head = [
    '#!/bin/sh',
    `# ${INSTALLER_FILE}: installs ${m.image.repository} ${m.release.version} from an Edgeship offline bundle.`,
    '# Rendered from the signed deployment manifest of this release; run with --help.',
    'set -eu',
    `REPO=${quote(m.image.repository)}`,
    `VERSION=${quote(m.release.version)}`,
    `MANIFEST=${quote(files.manifest)}`,
    `MANIFEST_BUNDLE=${quote(files.manifestBundle)}`,
    `MANIFEST_TYPE=${quote(files.predicateType)}`,
    `SUMS=${SUMS_FILE} SUMS_BUNDLE=${SUMS_BUNDLE_FILE} SUMS_TYPE=${quote(OFFLINE_BUNDLE_PREDICATE_TYPE)}`,
    `ROOT=${TRUSTED_ROOT_FILE}`,
    `SIGNED=${m.signatures.mode === 'none' ? 'no' : 'yes'}`,
    `verify_args() { cosign "$@" ${who}; }`,
    `PLATFORMS=${quote(rows.join('\n'))}`,
    `BUNDLES=${quote(bundles.join('\n'))}`,
    ...runDefaults(m.run ?? {}),
  ];
  return `${head.join('\n')}\n${BODY}`;
}

/**
 * The container's settings from the manifest's `run` block (`device-run`), as the script's defaults: its flags
 * override them. Absent ones keep the installer's own defaults (restart unless-stopped, 60 s health timeout,
 * the image's USER, no limits, writable root filesystem).
 */
function runDefaults(run: RunSettings): string[] {
  return [
    `RESTART=${quote(run.restart ?? 'unless-stopped')} TIMEOUT=${run.healthTimeout ?? 60}`,
    `MEMORY=${quote(run.memory ?? '')} CPUS=${quote(run.cpus === undefined ? '' : String(run.cpus))}`,
    `READONLY=${run.readOnly ? 'yes' : 'no'} RUNAS=${quote(run.user ?? '')}`,
  ];
}

// The script's logic, the same for every release. Keep it POSIX (dash, busybox ash) and shellcheck-clean.
const BODY = String.raw`
NAME=${'$'}{REPO##*/} BUNDLE='' ENGINE='' DRY=no INSECURE=no PULL=no KEY=cosign.pub NETWORK=''
say() { printf '%s\n' "edgeship-install: $*" >&2; }
die() { say "$*"; exit 1; }
run() { if [ "$DRY" = yes ]; then say "would run: $*"; else "$@"; fi; }
usage() {
  cat <<EOF
Usage: $0 [--bundle FILE | --pull] [options]
  --bundle FILE   offline bundle to install (default: this device's bundle next to the script)
  --pull          pull $REPO by digest instead of loading a bundle
  --name NAME     container name (default $NAME)
  --network NET   --memory BYTES   --cpus N   --read-only | --no-read-only   --user USER
  --restart POLICY (default $RESTART); limits, user and read-only default to the release's settings
  --timeout SEC   seconds to wait for the health check (default $TIMEOUT), then roll back
  --key FILE      public key of a key-signed release (default $KEY)   --insecure  skip cosign verification
  --engine docker|podman   --dry-run  print what would be done
EOF
}
while [ $# -gt 0 ]; do
  case $1 in
    --bundle) BUNDLE=$2; shift ;; --name) NAME=$2; shift ;; --network) NETWORK=$2; shift ;;
    --memory) MEMORY=$2; shift ;; --cpus) CPUS=$2; shift ;; --restart) RESTART=$2; shift ;;
    --timeout) TIMEOUT=$2; shift ;; --key) KEY=$2; shift ;; --engine) ENGINE=$2; shift ;;
    --user) RUNAS=$2; shift ;; --no-read-only) READONLY=no ;;
    --pull) PULL=yes ;; --read-only) READONLY=yes ;; --insecure) INSECURE=yes ;; --dry-run) DRY=yes ;;
    -h|--help) usage; exit 0 ;; *) usage; die "unknown option $1" ;;
  esac
  shift
done

case $(uname -m) in
  x86_64|amd64) ARCH=linux/amd64 ;; aarch64|arm64) ARCH=linux/arm64 ;; armv7l|armv7) ARCH=linux/arm/v7 ;;
  armv6l) ARCH=linux/arm/v6 ;; i686|i386) ARCH=linux/386 ;; ppc64le) ARCH=linux/ppc64le ;;
  s390x) ARCH=linux/s390x ;; riscv64) ARCH=linux/riscv64 ;; *) die "unsupported architecture $(uname -m)" ;;
esac
ROW=$(printf '%s\n' "$PLATFORMS" | awk -v p="$ARCH" '$1 == p')
[ -n "$ROW" ] || die "$REPO $VERSION has no image for $ARCH (it has: $(printf '%s\n' "$PLATFORMS" | awk '{print $1}' | tr '\n' ' '))"
# shellcheck disable=SC2086 # fields of a row, split on purpose
set -- $ROW
DIGEST=$2 USER_=${'$'}{RUNAS:-$3} HEALTH=$4

if [ -z "$ENGINE" ]; then
  for e in docker podman; do
    if command -v "$e" >/dev/null 2>&1 && "$e" info >/dev/null 2>&1; then ENGINE=$e; break; fi
  done
fi
[ -n "$ENGINE" ] || die "no running container engine: start docker or podman first"
"$ENGINE" info >/dev/null 2>&1 || die "$ENGINE is not running"
image_id() { "$ENGINE" image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

if [ "$PULL" = yes ]; then
  run "$ENGINE" pull "$REPO@$DIGEST"
  IMAGE=$REPO@$DIGEST
else
  if [ -z "$BUNDLE" ]; then
    here=$(dirname "$0")
    BUNDLE=$(printf '%s\n' "$BUNDLES" | awk -v p="$ARCH" -v d="$here" '$2 == p && $3 == "full" {print d "/" $1; exit}')
  fi
  [ -f "$BUNDLE" ] || die "bundle $BUNDLE not found (give --bundle FILE)"
  B=$(printf '%s\n' "$BUNDLES" | awk -v f="${'$'}{BUNDLE##*/}" '$1 == f')
  [ -n "$B" ] || die "$BUNDLE is not a bundle of $REPO $VERSION"
  # shellcheck disable=SC2086 # fields of a row, split on purpose
  set -- $B
  [ "$2" = "$ARCH" ] || die "$BUNDLE is for $2; this device is $ARCH: refusing it"
  KIND=$3 HEAD_BYTES=$4 HEAD_SHA=${'$'}{5#sha256:} BASE_VERSION=$6 BASE_DIGEST=$7
  free=$(df -Pk "${'$'}{TMPDIR:-/tmp}" | awk 'NR == 2 {print $4}')
  need=$(( $(wc -c <"$BUNDLE") * 3 / 1024 ))
  [ "$free" -ge "$need" ] || die "not enough free disk: $need KiB needed in ${'$'}{TMPDIR:-/tmp}, $free KiB free"
  if [ "$KIND" = delta ]; then
    [ "$(image_id "$BASE_DIGEST")" = "$BASE_DIGEST" ] || [ -n "$(image_id "$REPO:$BASE_VERSION")" ] ||
      die "$BUNDLE is a delta from $BASE_VERSION, which this device does not have: install the full bundle"
  fi
  [ "$(head -c "$HEAD_BYTES" "$BUNDLE" | sha256sum | cut -d' ' -f1)" = "$HEAD_SHA" ] ||
    die "$BUNDLE does not match the sha256 the deployment manifest pins for it"
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  case $BUNDLE in *.zst) unpack="zstd -dc" ;; *) unpack="gzip -dc" ;; esac
  $unpack "$BUNDLE" | tar -xf - -C "$WORK" || die "cannot unpack $BUNDLE"
  if command -v cosign >/dev/null 2>&1 && [ "$SIGNED" = yes ]; then
    (cd "$WORK" &&
      verify_args verify-blob-attestation --offline --new-bundle-format --trusted-root "$ROOT" \
        --bundle "$MANIFEST_BUNDLE" --type "$MANIFEST_TYPE" "$MANIFEST" >/dev/null 2>&1 &&
      verify_args verify-blob-attestation --offline --new-bundle-format --trusted-root "$ROOT" \
        --bundle "$SUMS_BUNDLE" --type "$SUMS_TYPE" "$SUMS" >/dev/null 2>&1) ||
      die "the deployment manifest or SHA256SUMS in $BUNDLE does not verify: refusing it"
  elif [ "$INSECURE" = yes ]; then
    say "WARNING: installing without signature verification (--insecure)"
  else
    die "cannot verify $BUNDLE (cosign is not installed or the release is unsigned): install cosign or pass --insecure"
  fi
  (cd "$WORK" && sha256sum -c --quiet "$SUMS") || die "$BUNDLE is damaged: sha256sum -c failed"
  grep -q "digest: \"\{0,1\}$DIGEST" "$WORK/$MANIFEST" || die "the manifest does not pin $DIGEST"
  grep -q "\"digest\":\"$DIGEST\"" "$WORK/index.json" || die "$BUNDLE does not hold $DIGEST"
  run "$ENGINE" load -i "$BUNDLE"
  IMAGE=$REPO:$VERSION
  if [ "$DRY" = no ]; then
    id=$(image_id "$IMAGE")
    cfg=$(sed -n 's/.*"config":{[^}]*"digest":"\(sha256:[a-f0-9]*\)".*/\1/p' "$WORK/blobs/sha256/${'$'}{DIGEST#sha256:}")
    [ "$id" = "$DIGEST" ] || [ "$id" = "$cfg" ] || die "$IMAGE is $id after loading, expected $DIGEST"
  fi
fi

PREVIOUS=$("$ENGINE" inspect --format '{{.Image}}' "$NAME" 2>/dev/null || true)
if [ -n "$PREVIOUS" ]; then
  run "$ENGINE" rm -f "$NAME-previous" >/dev/null 2>&1 || true
  run "$ENGINE" stop "$NAME" >/dev/null
  run "$ENGINE" rename "$NAME" "$NAME-previous"
fi
set -- --name "$NAME" --restart "$RESTART"
[ "$USER_" = - ] || set -- "$@" --user "$USER_"
[ -z "$NETWORK" ] || set -- "$@" --network "$NETWORK"
[ -z "$MEMORY" ] || set -- "$@" --memory "$MEMORY"
[ -z "$CPUS" ] || set -- "$@" --cpus "$CPUS"
[ "$READONLY" = no ] || set -- "$@" --read-only
run "$ENGINE" run -d "$@" "$IMAGE" >/dev/null
[ "$DRY" = no ] || exit 0

status=starting waited=0
while [ "$waited" -lt "$TIMEOUT" ]; do
  if [ "$HEALTH" = yes ]; then
    status=$("$ENGINE" inspect --format '{{.State.Health.Status}}' "$NAME" 2>/dev/null || echo gone)
  else
    status=$("$ENGINE" inspect --format '{{.State.Status}}' "$NAME" 2>/dev/null || echo gone)
    [ "$status" != running ] || [ "$waited" -lt 5 ] || status=healthy
  fi
  case $status in healthy|unhealthy|exited|dead|gone) break ;; esac
  sleep 1
  waited=$((waited + 1))
done
if [ "$status" = healthy ]; then
  [ -z "$PREVIOUS" ] || "$ENGINE" rm -f "$NAME-previous" >/dev/null
  say "$NAME runs $REPO $VERSION ($DIGEST) and is healthy"
  exit 0
fi
say "$NAME did not become healthy within ${'$'}{TIMEOUT}s (status: $status)"
"$ENGINE" rm -f "$NAME" >/dev/null
[ -n "$PREVIOUS" ] || die "no previous container to roll back to"
"$ENGINE" rename "$NAME-previous" "$NAME"
"$ENGINE" start "$NAME" >/dev/null
die "rolled back: $NAME runs its previous image $PREVIOUS again"
`;
