/**
 * The `device-run` input: how a device runs the released container (issue 12's installer). YAML or JSON, a
 * mapping with any of `restart`, `memory`, `cpus`, `readOnly`, `user`, `healthTimeout`; it goes into the signed
 * deployment manifest (`run`), whose installer starts the container with it. Every error names the field.
 */
import { parse } from 'yaml';
import {
  RUN_MAX_CPUS as DEVICE_RUN_MAX_CPUS,
  RUN_MAX_HEALTH_TIMEOUT as DEVICE_RUN_MAX_HEALTH_TIMEOUT,
  RUN_SETTING_FIELDS as FIELDS,
  RUN_SETTING_PATTERNS as DEVICE_RUN_PATTERNS,
  type RunSettings,
} from '../image/run-settings.js';
import { InputError } from './errors.js';

export type DeviceRunSettings = RunSettings;

const INPUT = 'device-run';

const fail = (field: string, value: unknown, expected: string): never => {
  throw new InputError(INPUT, `${field}: ${String(value)}`, `${field} as ${expected}`);
};

function text(field: string, value: unknown, pattern: string, expected: string): string {
  const s = typeof value === 'number' ? String(value) : value;
  if (typeof s !== 'string' || !new RegExp(pattern).test(s)) return fail(field, value, expected);
  return s;
}

/** Parses `device-run`; an empty value means no run settings. */
export function parseDeviceRun(raw: string): DeviceRunSettings | undefined {
  if (raw.trim() === '') return undefined;
  let doc: unknown;
  try {
    doc = parse(raw);
  } catch (error) {
    throw new InputError(INPUT, raw, `YAML or JSON (${(error as Error).message.split('\n')[0]})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new InputError(INPUT, raw, `a mapping with any of ${FIELDS.join(', ')}`);
  }
  const out: DeviceRunSettings = {};
  for (const [field, value] of Object.entries(doc)) {
    switch (field) {
      case 'restart':
        out.restart = text(
          field,
          value,
          DEVICE_RUN_PATTERNS.restart,
          'no, always, unless-stopped, on-failure or on-failure:N',
        );
        break;
      case 'memory':
        out.memory = text(
          field,
          value,
          DEVICE_RUN_PATTERNS.memory,
          'bytes with an optional b, k, m or g suffix (e.g. 256m)',
        );
        break;
      case 'cpus':
        if (typeof value !== 'number' || !(value > 0) || value > DEVICE_RUN_MAX_CPUS)
          fail(field, value, `a number of CPUs above 0, at most ${DEVICE_RUN_MAX_CPUS} (e.g. 1.5)`);
        out.cpus = value as number;
        break;
      case 'readOnly':
        if (typeof value !== 'boolean') fail(field, value, 'true or false');
        out.readOnly = value as boolean;
        break;
      case 'user':
        out.user = text(
          field,
          value,
          DEVICE_RUN_PATTERNS.user,
          'a user name or uid, optionally :group or :gid',
        );
        break;
      case 'healthTimeout':
        if (
          !Number.isInteger(value) ||
          (value as number) < 1 ||
          (value as number) > DEVICE_RUN_MAX_HEALTH_TIMEOUT
        )
          fail(field, value, `whole seconds from 1 to ${DEVICE_RUN_MAX_HEALTH_TIMEOUT}`);
        out.healthTimeout = value as number;
        break;
      default:
        throw new InputError(
          INPUT,
          `${field}: ${JSON.stringify(value)}`,
          `only ${FIELDS.join(', ')} (${field} is unknown)`,
        );
    }
  }
  return out;
}
