/**
 * How a device runs a released image (the `device-run` input, the deployment manifest's `run` block, the
 * installer's defaults): shared by settings, which parses it, and the deployment manifest, whose schema checks
 * it with the same patterns and bounds.
 */

/** Run settings for devices; every field optional (the installer's defaults apply to what is absent). */
export interface RunSettings {
  /** Docker/Podman restart policy: no, always, unless-stopped, on-failure or on-failure:N. */
  restart?: string;
  /** Memory limit as docker takes it: bytes with an optional b/k/m/g suffix (256m). */
  memory?: string;
  /** CPU limit (1.5). */
  cpus?: number;
  /** Run with a read-only root filesystem. */
  readOnly?: boolean;
  /** The user to run as (uid, name, uid:gid), instead of the image's USER. */
  user?: string;
  /** Seconds to wait for the container to become healthy before rolling back. */
  healthTimeout?: number;
}

export const RUN_SETTING_FIELDS = ['restart', 'memory', 'cpus', 'readOnly', 'user', 'healthTimeout'] as const;

/** Patterns of the text fields (also safe to put in a shell script unquoted: no spaces or metacharacters). */
export const RUN_SETTING_PATTERNS = {
  restart: '^(no|always|unless-stopped|on-failure(:[1-9][0-9]{0,3})?)$',
  memory: '^[1-9][0-9]{0,15}[bkmgBKMG]?$',
  user: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?$',
} as const;
export const RUN_MAX_CPUS = 1024;
export const RUN_MAX_HEALTH_TIMEOUT = 3600;
