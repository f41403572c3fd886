import path from 'node:path';
import { fixturePath } from '../../shared-fixtures.js';
import { PROJECT_ROOT } from './action-runner.js';

/** Directory of the TEST DOUBLES of docker, syft and grype (the real ones cannot be installed here). */
export const DOUBLES_DIR = path.join(PROJECT_ROOT, 'test', 'doubles');

/** Real outputs of the real tools, from ../shared/fixtures, that the doubles hand back. */
export const FIXTURES = {
  sbomAmd64: fixturePath('syft/spdx-json/kubectl_linux-amd64_syft-0.58.0_spdx-2.2.json'),
  sbomArm64: fixturePath('syft/spdx-json/kubectl_linux-arm64_syft-0.58.0_spdx-2.2.json'),
  reportClean: fixturePath('grype/json/klass-web_wolfi_arm64_grype-0.114.0_zero-matches.json'),
  /** 5 Critical, 27 High, ... (modern v6 DB output, all severities). */
  reportCriticals: fixturePath('grype/json/debian12-python-app_amd64_grype-0.97.1.json'),
  /** The same Critical CVE matched at two paths of one package: one finding. */
  reportOneCritical: fixturePath('grype/json/defectdojo_debian10_grype-0.36.0_same-cve-different-paths.json'),
  sarifEmpty: fixturePath('grype/sarif/empty-results_grype-0.89.0.sarif'),
  sarifResults: fixturePath('grype/sarif/klass-web_wolfi_arm64_grype-0.114.0.sarif'),
};

export interface ScannerDoubleOptions {
  /** Grype JSON fixture per platform key such as linux_amd64. */
  reports: Record<string, string>;
  sarif?: string;
  log?: string;
  delaySeconds?: number;
  dbBuilt?: string;
  extra?: Record<string, string>;
}

/** Environment that puts the doubles first on PATH and tells them which real outputs to return. */
export function scannerDoubleEnv(options: ScannerDoubleOptions): Record<string, string> {
  const env: Record<string, string> = {
    PATH: `${DOUBLES_DIR}:${process.env.PATH}`,
    DOUBLE_SYFT_SBOM_linux_amd64: FIXTURES.sbomAmd64,
    DOUBLE_SYFT_SBOM_linux_arm64: FIXTURES.sbomArm64,
    DOUBLE_GRYPE_SARIF: options.sarif ?? FIXTURES.sarifEmpty,
    SCANNER_DOUBLE_LOG: options.log ?? '/dev/null',
    SCANNER_DOUBLE_DELAY: String(options.delaySeconds ?? 0),
    ...options.extra,
  };
  if (options.dbBuilt) env.DOUBLE_GRYPE_DB_BUILT = options.dbBuilt;
  for (const [platform, report] of Object.entries(options.reports))
    env[`DOUBLE_GRYPE_REPORT_${platform}`] = report;
  return env;
}

/** Inputs that make the action use the scanners on PATH (the doubles) instead of downloading them. */
export const SCANNERS_FROM_PATH = { 'syft-version': 'path', 'grype-version': 'path' } as const;
