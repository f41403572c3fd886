import { describe, expect, it } from 'vitest';
import { diffFindings } from '../../../src/scan/findings-diff.js';
import type { VulnerabilityMatch } from '../../../src/scan/grype-report.js';

const match = (id: string, severity: VulnerabilityMatch['severity'], pkg = 'openssl', version = '3.0.1') =>
  ({
    id,
    severity,
    packageName: pkg,
    packageVersion: version,
    relatedIds: [],
    packageType: 'deb',
    fixState: 'fixed',
    fixedIn: ['3.0.2'],
    knownExploited: false,
  }) as VulnerabilityMatch;

describe('diffFindings', () => {
  it('reports new and fixed findings, most severe first, each once', () => {
    const before = [match('CVE-1', 'High'), match('CVE-2', 'Low'), match('CVE-2', 'Low')];
    const after = [
      match('CVE-2', 'Low'),
      match('CVE-3', 'Medium'),
      match('CVE-4', 'Critical', 'zlib'),
      match('CVE-4', 'Critical', 'zlib'),
    ];
    const diff = diffFindings(before, after);
    expect(diff.added.map((m) => m.id)).toEqual(['CVE-4', 'CVE-3']);
    expect(diff.fixed.map((m) => m.id)).toEqual(['CVE-1']);
  });

  it('a package bumped to a version still affected is not a new finding', () => {
    expect(
      diffFindings(
        [match('CVE-1', 'High', 'openssl', '3.0.1')],
        [match('CVE-1', 'High', 'openssl', '3.0.5')],
      ),
    ).toEqual({ added: [], fixed: [] });
  });
});
