import { describe, expect, it } from 'vitest';
import {
  CHANNEL_BASELINE_TAGS,
  baselineReference,
  channelTag,
  checkDowngrade,
  previousVersionFromIndexAnnotations,
  type VersionRelation,
} from '../../../src/deployment/baseline.js';
import type { Channel } from '../../../src/release/metadata.js';

describe('channel baseline tags', () => {
  it('production and staging have one, dev has none', () => {
    expect(channelTag('production')).toBe('production');
    expect(channelTag('staging')).toBe('staging');
    expect(channelTag('dev')).toBeUndefined();
    expect(CHANNEL_BASELINE_TAGS).toEqual({ production: 'production', staging: 'staging', dev: null });
  });

  it('baselineReference', () => {
    expect(baselineReference('ghcr.io/acme/agent', 'production')).toBe('ghcr.io/acme/agent:production');
    expect(baselineReference('ghcr.io/acme/agent', 'dev')).toBeUndefined();
  });
});

describe('checkDowngrade', () => {
  const table: Array<{
    next: string;
    previous: string | undefined;
    channel?: Channel;
    allow?: boolean;
    ok: boolean;
    relation: VersionRelation;
    warns?: boolean;
  }> = [
    { next: '1.1.9', previous: '1.2.0', ok: false, relation: 'downgrade' },
    { next: '1.1.9', previous: '1.2.0', allow: true, ok: true, relation: 'downgrade', warns: true },
    { next: '1.2.0', previous: '1.2.0', ok: true, relation: 're-release' },
    { next: '1.2.0', previous: '1.2.0+build.1', ok: true, relation: 're-release' },
    { next: '1.2.1', previous: '1.2.0', ok: true, relation: 'upgrade' },
    { next: '1.10.0', previous: '1.9.0', ok: true, relation: 'upgrade' },
    { next: '2.0.0', previous: 'v1.9.9', ok: true, relation: 'upgrade' },
    { next: '1.2.0', previous: 'v1.3.0', ok: false, relation: 'downgrade' },
    // Pre-releases sort below their release, identifiers compare numerically then lexically.
    { next: '1.2.0', previous: '1.2.0-rc.2', ok: true, relation: 'upgrade' },
    { next: '1.2.0-rc.1', previous: '1.2.0', channel: 'staging', ok: false, relation: 'downgrade' },
    { next: '1.2.0-rc.10', previous: '1.2.0-rc.9', channel: 'staging', ok: true, relation: 'upgrade' },
    { next: '1.2.0-alpha', previous: '1.2.0-beta', channel: 'staging', ok: false, relation: 'downgrade' },
    { next: '1.3.0-rc.1', previous: '1.2.5', channel: 'staging', ok: true, relation: 'upgrade' },
    { next: '1.2.0-rc.1', previous: '1.2.0-rc.1', channel: 'staging', ok: true, relation: 're-release' },
    // Nothing to compare with.
    { next: '1.2.0', previous: undefined, ok: true, relation: 'first' },
    { next: '1.2.0', previous: 'nightly-2024', ok: true, relation: 'unknown', warns: true },
    { next: '1.2.0', previous: '', ok: true, relation: 'unknown', warns: true },
    { next: 'main', previous: '1.2.0', channel: 'dev', ok: true, relation: 'first' },
    { next: '0.0.1', previous: '9.9.9', channel: 'dev', ok: true, relation: 'first' },
  ];

  it.each(table)(
    '$previous → $next on $channel (allow $allow): ok=$ok $relation',
    ({ next, previous, channel = 'production', allow = false, ok, relation, warns = false }) => {
      const check = checkDowngrade(next, previous, channel, allow);
      expect(check.ok).toBe(ok);
      expect(check.relation).toBe(relation);
      expect(check.warning !== undefined).toBe(warns);
      expect(check.message).not.toBe('');
    },
  );

  it('says why a downgrade is refused and how to force it', () => {
    const check = checkDowngrade('1.1.9', '1.2.0', 'production', false);
    expect(check.message).toContain('1.1.9');
    expect(check.message).toContain('1.2.0');
    expect(check.message).toContain('production');
    expect(check.message).toContain('allow-downgrade: true');
  });

  it('warns which version is not semver', () => {
    expect(checkDowngrade('1.2.0', 'nightly', 'production', false).warning).toMatch(
      /current release "nightly" is not a semantic version/,
    );
  });
});

describe('previousVersionFromIndexAnnotations', () => {
  it('reads org.opencontainers.image.version', () => {
    expect(
      previousVersionFromIndexAnnotations({
        'org.opencontainers.image.version': '1.2.0',
        'org.opencontainers.image.revision': 'abc',
      }),
    ).toBe('1.2.0');
    expect(previousVersionFromIndexAnnotations({ 'org.opencontainers.image.version': ' 1.2.0 \n' })).toBe(
      '1.2.0',
    );
  });

  it('is undefined when missing, blank or not a string', () => {
    expect(previousVersionFromIndexAnnotations({})).toBeUndefined();
    expect(previousVersionFromIndexAnnotations(undefined)).toBeUndefined();
    expect(previousVersionFromIndexAnnotations(null)).toBeUndefined();
    expect(previousVersionFromIndexAnnotations(['1.2.0'])).toBeUndefined();
    expect(previousVersionFromIndexAnnotations({ 'org.opencontainers.image.version': '  ' })).toBeUndefined();
    expect(previousVersionFromIndexAnnotations({ 'org.opencontainers.image.version': 12 })).toBeUndefined();
  });
});
