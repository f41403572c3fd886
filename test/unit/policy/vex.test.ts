import { describe, expect, it } from 'vitest';
import { evaluatePlatform } from '../../../src/policy/evaluate.js';
import { loadPolicy, type Policy } from '../../../src/policy/index.js';
import { openVexDocument, imagePurl } from '../../../src/policy/vex-document.js';
import { OPENVEX_CONTEXT, parseOpenVex, VexError } from '../../../src/policy/vex.js';
import type { GrypeReport, VulnerabilityMatch } from '../../../src/scan/grype-report.js';

const IMAGE = 'registry.example/acme/agent';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;
const NOW = new Date('2026-06-15T12:00:00Z');

function doc(statements: unknown[]): string {
  return JSON.stringify({
    '@context': OPENVEX_CONTEXT,
    '@id': 'https://example.com/vex/1',
    author: 'Acme security',
    timestamp: '2026-06-01T00:00:00Z',
    version: 1,
    statements,
  });
}

function match(id: string, overrides: Partial<VulnerabilityMatch> = {}): VulnerabilityMatch {
  return {
    id,
    relatedIds: [],
    severity: 'High',
    packageName: 'openssl',
    packageVersion: '3.0.1',
    packageType: 'deb',
    fixState: 'not-fixed',
    fixedIn: [],
    knownExploited: false,
    ...overrides,
  };
}

const report = (...matches: VulnerabilityMatch[]): GrypeReport => ({
  matches,
  ignoredByGrype: [],
  ignoredMatches: 0,
});

function policyWith(statements: unknown[], yaml = ''): Policy {
  const base = loadPolicy({
    policyFile: { path: 'policy.yml', text: `apiVersion: edgeship/v1\nkind: Policy\nfailOn: high\n${yaml}` },
  });
  return { ...base, vex: { imageName: IMAGE, statements: parseOpenVex(doc(statements), 'vex/agent.json') } };
}

const product = (id = `pkg:oci/agent?repository_url=${IMAGE}`) => [{ '@id': id }];

describe('OpenVEX input', () => {
  it('reads the statements of a valid document', () => {
    const [s] = parseOpenVex(
      doc([
        {
          vulnerability: { name: 'CVE-2026-1', aliases: ['GHSA-xxxx'] },
          products: [{ '@id': IMAGE, subcomponents: [{ '@id': 'pkg:deb/debian/openssl@3.0.1' }] }],
          status: 'not_affected',
          justification: 'vulnerable_code_not_in_execute_path',
          impact_statement: 'the TLS server is never started',
        },
      ]),
      'vex.json',
    );
    expect(s).toEqual({
      file: 'vex.json',
      index: 0,
      vulnerability: { name: 'CVE-2026-1', aliases: ['GHSA-xxxx'] },
      products: [{ ids: [IMAGE], subcomponents: [['pkg:deb/debian/openssl@3.0.1']] }],
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
      impactStatement: 'the TLS server is never started',
    });
  });

  it('schema errors name the file and each field path', () => {
    const bad = () =>
      parseOpenVex(
        doc([
          { vulnerability: { name: 'CVE-1' }, products: product(), status: 'not_affected' },
          { vulnerability: { name: 'CVE-2' }, status: 'maybe' },
          { vulnerability: {}, status: 'affected' },
        ]),
        'vex/agent.json',
      );
    expect(bad).toThrow(VexError);
    expect(bad).toThrow(/^vex\/agent\.json is not a valid OpenVEX document/);
    expect(bad).toThrow(/statements\[0\]\.justification: is missing \(status not_affected\)/);
    expect(bad).toThrow(
      /statements\[1\]\.status: is "maybe", expected one of not_affected, affected, fixed, under_investigation/,
    );
    expect(bad).toThrow(/statements\[2\]\.vulnerability\.name: is missing/);
    expect(bad).toThrow(/statements\[2\]\.action_statement: is missing \(status affected\)/);
    expect(() => parseOpenVex('{', 'x.json')).toThrow(/x\.json is not JSON/);
    expect(() => parseOpenVex('{"statements":[]}', 'x.json')).toThrow(/\(top level\)\.@context|@context/);
  });
});

describe('the gate honours OpenVEX', () => {
  it('not_affected (with its justification) waives the match; affected and under_investigation never do', () => {
    const p = policyWith([
      {
        vulnerability: { name: 'CVE-NA' },
        products: product(),
        status: 'not_affected',
        justification: 'component_not_present',
      },
      {
        vulnerability: { name: 'CVE-AF' },
        products: product(),
        status: 'affected',
        action_statement: 'upgrade next sprint',
      },
      { vulnerability: { name: 'CVE-UI' }, products: product(), status: 'under_investigation' },
    ]);
    const v = evaluatePlatform(
      p,
      'linux/amd64',
      report(match('CVE-NA'), match('CVE-AF'), match('CVE-UI')),
      {
        size: 1,
        user: '1000',
        healthcheck: true,
        digest: DIGEST,
      },
      NOW,
    );
    expect(v.blocking.map((f) => f.id)).toEqual(['CVE-AF', 'CVE-UI']);
    expect(v.pass).toBe(false);
    expect(v.vex?.map((u) => [u.matchId, u.statement.status, u.waives])).toEqual([
      ['CVE-NA', 'not_affected', true],
      ['CVE-AF', 'affected', false],
      ['CVE-UI', 'under_investigation', false],
    ]);
  });

  it('matches aliases, the image by repository or pinned digest, and subcomponents by package', () => {
    const facts = (digest: string) => ({ size: 1, user: '1000', healthcheck: true, digest });
    const na = { status: 'not_affected', justification: 'vulnerable_code_not_present' };
    const p = policyWith([
      {
        vulnerability: { name: 'GHSA-1', aliases: ['CVE-A'] },
        products: product(`pkg:oci/agent@${encodeURIComponent(DIGEST)}`),
        ...na,
      },
      {
        vulnerability: { name: 'CVE-B' },
        products: [{ '@id': `${IMAGE}:1.2.3`, subcomponents: [{ '@id': 'pkg:deb/debian/zlib@1.3' }] }],
        ...na,
      },
      { vulnerability: { name: 'CVE-C' }, products: product('ghcr.io/other/image'), ...na },
      { vulnerability: { name: 'CVE-D' }, ...na },
    ]);
    const r = report(
      match('CVE-A'),
      match('CVE-B'),
      match('CVE-B', { packageName: 'zlib', packageVersion: '1.3' }),
      match('CVE-C'),
      match('CVE-D'),
    );
    const onA = evaluatePlatform(p, 'linux/amd64', r, facts(DIGEST), NOW);
    expect(onA.blocking.map((f) => `${f.id} ${f.packageName}`)).toEqual(['CVE-B openssl', 'CVE-C openssl']);
    const onB = evaluatePlatform(p, 'linux/arm64', r, facts(OTHER), NOW);
    expect(onB.blocking.map((f) => `${f.id} ${f.packageName}`)).toEqual([
      'CVE-A openssl',
      'CVE-B openssl',
      'CVE-C openssl',
    ]);
  });

  it('without a vex input the verdict has no vex entry (unchanged)', () => {
    const base = loadPolicy({});
    const v = evaluatePlatform(
      base,
      'linux/amd64',
      report(match('CVE-1')),
      { size: 1, user: '1', healthcheck: true },
      NOW,
    );
    expect('vex' in v).toBe(false);
  });
});

describe('the OpenVEX document a release ships', () => {
  it('states every waived finding as affected (reason and expiry) and carries the vex statements', () => {
    const p = policyWith(
      [
        {
          vulnerability: { name: 'CVE-NA' },
          products: product(),
          status: 'not_affected',
          justification: 'component_not_present',
        },
      ],
      'waivers:\n  - id: CVE-W\n    reason: no network exposure on the device\n    expires: 2026-12-31\n',
    );
    const verdict = evaluatePlatform(
      p,
      'linux/amd64',
      report(match('CVE-NA'), match('CVE-W'), match('CVE-LOW', { severity: 'Low' })),
      {
        size: 1,
        user: '1',
        healthcheck: true,
        digest: DIGEST,
      },
      NOW,
    );
    expect(verdict.pass).toBe(true);
    const document = openVexDocument({
      verdict,
      imageName: IMAGE,
      digest: DIGEST,
      workflowRun: 'https://github.com/acme/agent/actions/runs/1/attempts/1',
      now: NOW,
    })!;
    const purl = imagePurl(IMAGE, DIGEST);
    expect(purl).toBe(`pkg:oci/agent@sha256%3A${'a'.repeat(64)}?repository_url=${IMAGE}`);
    expect(document).toMatchObject({
      '@context': 'https://openvex.dev/ns/v0.2.0',
      author: 'Edgeship release gate',
      version: 1,
      timestamp: NOW.toISOString(),
    });
    expect(document.statements).toEqual([
      {
        vulnerability: { name: 'CVE-W' },
        products: [{ '@id': purl, identifiers: { purl } }],
        status: 'affected',
        action_statement:
          'Accepted by the release policy until 2026-12-31 (waivers[0]): no network exposure on the device',
        action_statement_timestamp: NOW.toISOString(),
      },
      {
        vulnerability: { name: 'CVE-NA' },
        products: [{ '@id': purl, identifiers: { purl } }],
        status: 'not_affected',
        justification: 'component_not_present',
        status_notes: 'from the vex input vex/agent.json (statements[0]), for openssl 3.0.1',
      },
    ]);
    // What it states is itself a valid OpenVEX document.
    expect(parseOpenVex(JSON.stringify(document), 'out.json')).toHaveLength(2);
  });

  it('is not made when the gate took no decision', () => {
    const verdict = evaluatePlatform(
      loadPolicy({}),
      'linux/amd64',
      report(match('CVE-LOW', { severity: 'Low' })),
      { size: 1, user: '1', healthcheck: true },
      NOW,
    );
    expect(
      openVexDocument({ verdict, imageName: IMAGE, digest: DIGEST, workflowRun: 'x', now: NOW }),
    ).toBeUndefined();
  });
});
