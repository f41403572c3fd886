/**
 * Every workflow this repository ships (its own CI and e2e, the examples, the README's snippets) must parse with
 * GitHub's workflow parser, give Edgeship only inputs action.yml declares (and the required ones), and pin every
 * third-party action to a full commit sha.
 */
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  codeBlocks,
  filesIn,
  isEdgeship,
  isPinned,
  loadAction,
  looksLikeWorkflow,
  parseWorkflowText,
  readRepoFile,
  type ParsedWorkflow,
} from './docs-support.js';

const action = loadAction();
const inputNames = new Set(action.inputs.map((i) => i.name));
const requiredInputs = action.inputs.filter((i) => i.required).map((i) => i.name);

interface Source {
  name: string;
  content: string;
}

/** Files under examples/ that are not workflows: checked by examples.test.ts. */
function isPolicy(content: string): boolean {
  const doc = parse(content) as { apiVersion?: unknown; kind?: unknown } | null;
  return doc?.apiVersion === 'edgeship/v1' && doc.kind === 'Policy';
}

const sources: Source[] = [
  ...filesIn('.github/workflows', ['.yml', '.yaml']),
  ...filesIn('examples', ['.yml']).filter((f) => !isPolicy(readRepoFile(f))),
].map((name) => ({ name, content: readRepoFile(name) }));

const readme = readRepoFile('README.md');
const readmeWorkflows: Source[] = codeBlocks(readme)
  .filter((b) => b.lang === 'yaml' && looksLikeWorkflow(b.code))
  .map((b) => ({ name: `README.md (code block at line ${b.line})`, content: b.code }));

const all = [...sources, ...readmeWorkflows];
const parsed = new Map<string, ParsedWorkflow>();
async function workflow(source: Source): Promise<ParsedWorkflow> {
  let result = parsed.get(source.name);
  if (!result) {
    result = await parseWorkflowText(source.name, source.content);
    parsed.set(source.name, result);
  }
  return result;
}

function at(w: ParsedWorkflow, site: { job: string; where: string; line: number | undefined }): string {
  return `${w.name}: jobs.${site.job}.${site.where}${site.line ? ` (line ${site.line})` : ''}`;
}

describe('shipped workflows', () => {
  it('are all found: the CI workflow, the real e2e workflow and the examples', () => {
    const names = sources.map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([
        '.github/workflows/ci.yml',
        '.github/workflows/e2e-real.yml',
        'examples/release.yml',
        'examples/matrix.yml',
        'examples/self-hosted-buildah.yml',
        'examples/rescan.yml',
        'examples/pull-request.yml',
      ]),
    );
    expect(readmeWorkflows.length, 'the README shows workflows').toBeGreaterThanOrEqual(2);
  });

  it('the only non-workflow YAML in examples/ is the policy', () => {
    const others = filesIn('examples', ['.yml'])
      .map((name) => ({ name, content: readRepoFile(name) }))
      .filter((f) => !looksLikeWorkflow(f.content))
      .map((f) => f.name);
    expect(others).toEqual(['examples/policy.yml']);
  });

  it.each(all.map((s) => [s.name, s] as const))(
    '%s parses with @actions/workflow-parser',
    async (_, source) => {
      const w = await workflow(source);
      expect(w.errors, w.errors.join('\n')).toEqual([]);
    },
  );

  it.each(all.map((s) => [s.name, s] as const))(
    '%s gives Edgeship only the inputs action.yml declares',
    async (_, source) => {
      const w = await workflow(source);
      const problems: string[] = [];
      for (const site of w.uses.filter((u) => isEdgeship(u.uses))) {
        for (const key of site.withKeys) {
          if (!inputNames.has(key))
            problems.push(`${at(w, site)}: with.${key} is not an input of action.yml`);
        }
        for (const name of requiredInputs) {
          if (!site.withKeys.includes(name))
            problems.push(`${at(w, site)}: the required input ${name} is not set`);
        }
      }
      expect(problems, problems.join('\n')).toEqual([]);
    },
  );

  it.each(all.map((s) => [s.name, s] as const))(
    '%s pins every third-party action to a full commit sha',
    async (_, source) => {
      const w = await workflow(source);
      const loose = w.uses
        .filter((u) => !isEdgeship(u.uses) && !isPinned(u.uses))
        .map((u) => `${at(w, u)}: ${u.uses} is not pinned to a 40-hex commit sha`);
      expect(loose, loose.join('\n')).toEqual([]);
    },
  );

  it('every pinned action carries a version comment next to its sha', () => {
    const missing: string[] = [];
    for (const source of all) {
      source.content.split('\n').forEach((line, i) => {
        const m = /uses:\s*([^\s#]+@[0-9a-f]{40})\s*(#.*)?$/.exec(line);
        if (m && !/#\s*v\d+(\.\d+){0,2}\b/.test(m[2] ?? ''))
          missing.push(`${source.name}:${i + 1}: ${m[1]} has no "# vX.Y.Z" comment`);
      });
    }
    expect(missing, missing.join('\n')).toEqual([]);
  });

  it('the same action is pinned to the same sha everywhere', () => {
    const shas = new Map<string, Set<string>>();
    for (const source of all) {
      for (const m of source.content.matchAll(/uses:\s*([^\s@#]+)@([0-9a-f]{40})/g)) {
        shas.set(m[1]!, new Set([...(shas.get(m[1]!) ?? []), m[2]!]));
      }
    }
    const drift = [...shas].filter(([, s]) => s.size > 1).map(([a, s]) => `${a}: ${[...s].join(', ')}`);
    expect(drift, drift.join('\n')).toEqual([]);
  });
});

describe('the CI workflow', () => {
  it('runs .ci/run, the same command as CI', () => {
    expect(readRepoFile('.github/workflows/ci.yml')).toMatch(/bash \.ci\/run/);
  });
});

describe('examples/matrix.yml', () => {
  it('builds each platform on its native runner with mode: build, then publishes them all in a job that needs the builds', async () => {
    const source = sources.find((s) => s.name === 'examples/matrix.yml')!;
    const w = await workflow(source);
    const edgeship = w.uses.filter((u) => isEdgeship(u.uses));
    const build = edgeship.filter((u) => u.withValues.mode === 'build');
    const publish = edgeship.filter((u) => u.withValues.mode === 'publish');
    expect(build).toHaveLength(1);
    expect(publish).toHaveLength(1);
    expect(w.needs[publish[0]!.job]).toContain(build[0]!.job);
    expect(publish[0]!.withValues.platforms).toBe('linux/amd64,linux/arm64');
    const doc = parse(source.content) as {
      jobs: Record<string, { strategy?: { matrix?: { include?: Array<Record<string, string>> } } }>;
    };
    expect(doc.jobs[build[0]!.job]?.strategy?.matrix?.include).toEqual([
      { runner: 'ubuntu-24.04', platform: 'linux/amd64' },
      { runner: 'ubuntu-24.04-arm', platform: 'linux/arm64' },
    ]);
  });
});

describe('.github/workflows/e2e-real.yml', () => {
  const source = sources.find((s) => s.name === '.github/workflows/e2e-real.yml')!;
  const doc = parse(source.content) as {
    on: Record<string, unknown>;
    permissions?: unknown;
    jobs: Record<string, { permissions?: Record<string, string>; steps?: Array<Record<string, unknown>> }>;
  };

  it('runs on workflow_dispatch and on pushes to main', () => {
    expect(Object.keys(doc.on).sort()).toEqual(['push', 'workflow_dispatch']);
    expect(doc.on.push).toEqual({ branches: ['main'] });
  });

  it('grants nothing by default and each job only what it uses', () => {
    expect(doc.permissions).toEqual({});
    for (const [id, job] of Object.entries(doc.jobs)) {
      expect(job.permissions, id).toBeDefined();
      const signs = JSON.stringify(job.steps ?? []).includes('cosign-installer');
      if (!signs) expect(job.permissions?.['id-token'], `${id} does not sign`).toBeUndefined();
    }
  });

  it('has a job that must fail at the gate and checks that it did', async () => {
    const w = await workflow(source);
    const gated = w.uses.find((u) => isEdgeship(u.uses) && u.withValues['max-image-size'] === '1kB');
    expect(gated, 'a step with max-image-size: 1kB').toBeDefined();
    const steps = doc.jobs[gated!.job]!.steps!;
    const step = steps.find((s) => s.uses === './' && s['continue-on-error'] === true);
    expect(step, 'the Edgeship step has continue-on-error: true').toBeDefined();
    const id = String(step!.id);
    expect(JSON.stringify(steps)).toContain(`steps.${id}.outcome`);
    expect(JSON.stringify(steps)).toContain('skopeo list-tags');
  });
});
