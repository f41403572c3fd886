import { describe, expect, it } from 'vitest';
import { decideLineTags } from '../../../src/deployment/tag-lines.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const stable = (version: string) => ({ version, kind: 'release' as const, channel: 'production' as const });
const moves = (decisions: ReturnType<typeof decideLineTags>) =>
  Object.fromEntries(decisions.map((x) => [x.tag, x.moves]));

describe('maintenance lines (decideLineTags)', () => {
  it('1.7.5 after 1.8.2: 1.7.5 and 1.7 move, 1 stays with 1.8.2, latest and production stay', () => {
    const holders = [
      { tag: '1.7.5' },
      { tag: '1.7', previous: d('a'), previousVersion: '1.7.4' },
      { tag: '1', previous: d('b'), previousVersion: '1.8.2' },
      { tag: 'latest', previous: d('b'), previousVersion: '1.8.2' },
      { tag: 'production', previous: d('b'), previousVersion: '1.8.2' },
    ];
    const decisions = decideLineTags(stable('1.7.5'), d('n'), holders, false);
    expect(moves(decisions)).toEqual({
      '1.7.5': true,
      '1.7': true,
      '1': false,
      latest: false,
      production: false,
    });
    expect(decisions[2]).toMatchObject({
      previous: { index: d('b'), version: '1.8.2' },
      reason: expect.stringMatching(/stays on 1\.8\.2.*maintenance release of the 1\.7 line/),
    });
  });

  it('a major with no higher 1.x takes `1`; allow-downgrade rolls latest and the channel back, not the lines', () => {
    const holders = [
      { tag: '1', previous: d('a'), previousVersion: '1.6.0' },
      { tag: '1.7', previous: d('c'), previousVersion: '1.7.9' },
      { tag: 'latest', previous: d('b'), previousVersion: '2.0.0' },
      { tag: 'production', previous: d('b'), previousVersion: '2.0.0' },
    ];
    expect(moves(decideLineTags(stable('1.7.5'), d('n'), holders, true))).toEqual({
      '1': true,
      '1.7': false,
      latest: true,
      production: true,
    });
  });

  it('an rc annotation still orders: a promoted 1.8.2-rc.1 holds latest against 1.7.5; prereleases move all', () => {
    const holders = [{ tag: 'latest', previous: d('b'), previousVersion: '1.8.2-rc.1' }];
    expect(moves(decideLineTags(stable('1.7.5'), d('n'), holders, false))).toEqual({ latest: false });
    const rc = { version: '1.7.5-rc.1', kind: 'prerelease' as const, channel: 'staging' as const };
    const staging = [{ tag: 'staging', previous: d('b'), previousVersion: '1.8.2-rc.1' }];
    expect(moves(decideLineTags(rc, d('n'), staging, false))).toEqual({ staging: true });
  });

  it('unversioned holders, extra tags and tags already on the index move', () => {
    const holders = [
      { tag: 'latest', previous: d('b') },
      { tag: 'edge', previous: d('b'), previousVersion: '9.0.0' },
      { tag: 'production', previous: d('n'), previousVersion: '1.7.5' },
    ];
    const decisions = decideLineTags(stable('1.7.5'), d('n'), holders, false);
    expect(moves(decisions)).toEqual({ latest: true, edge: true, production: true });
    expect(decisions[0]?.reason).toMatch(/no semantic version/);
  });
});
