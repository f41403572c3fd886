/**
 * The examples are meant to be copied: the policy must load, the deploy templates must pin the image the example
 * workflows release, and the example deployment manifest must be one Edgeship accepts.
 */
import { describe, expect, it } from 'vitest';
import { parseDeploymentManifest } from '../../../src/deployment/manifest.js';
import { renderTemplate, renderedFileName } from '../../../src/deployment/templates.js';
import { loadPolicy } from '../../../src/policy/index.js';
import { EDGE_KEYS, RULE_KEYS } from '../../../src/policy/schema.js';
import { filesIn, isEdgeship, parseWorkflowText, readRepoFile } from './docs-support.js';

const INDEX_DIGEST = `sha256:${'4f'.repeat(32)}`;

/** The `image` input of the example release workflow: what the templates and the manifest refer to. */
async function exampleImage(): Promise<string> {
  const w = await parseWorkflowText('examples/release.yml', readRepoFile('examples/release.yml'));
  const image = w.uses.find((u) => isEdgeship(u.uses))?.withValues.image;
  if (!image) throw new Error('examples/release.yml has no Edgeship step with an image');
  return image;
}

describe('examples/policy.yml', () => {
  const text = readRepoFile('examples/policy.yml');
  const policy = loadPolicy({ policyFile: { path: 'examples/policy.yml', text } });

  it('loads with loadPolicy', () => {
    expect(policy.apiVersion).toBe('edgeship/v1');
    expect(policy.source).toContain(`waivers: ${policy.waivers.length} from examples/policy.yml`);
  });

  it('shows every rule key, every edge key, platform overrides and waivers', () => {
    for (const key of RULE_KEYS) expect(text, `top-level ${key}`).toMatch(new RegExp(`^${key}:`, 'm'));
    for (const key of EDGE_KEYS) expect(text, `edge.${key}`).toMatch(new RegExp(`^  ${key}:`, 'm'));
    expect(Object.keys(policy.platforms).length).toBeGreaterThan(0);
    expect(policy.waivers.length).toBeGreaterThan(0);
    for (const w of policy.waivers) {
      expect(w.reason.length).toBeGreaterThan(0);
      expect(w.expires).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    expect(policy.waivers.some((w) => w.package !== undefined && w.platforms !== undefined)).toBe(true);
  });

  it('resolves what the comments say', () => {
    expect(policy.failOn).toBe('high');
    expect(policy.edge.maxImageSize).toBe(120_000_000);
    expect(policy.platforms['linux/arm/v7']?.edge.maxImageSize).toBe(80 * 1024 ** 2);
    expect(policy.platforms['linux/arm/v7']?.failOn).toBe('high');
    expect(policy.platforms['linux/amd64']?.onlyFixed).toBe(true);
  });

  it('is overridden by an input, per-platform overrides included', () => {
    const overridden = loadPolicy({
      policyFile: { path: 'examples/policy.yml', text },
      maxImageSize: '200MB',
    });
    expect(overridden.edge.maxImageSize).toBe(200_000_000);
    expect(overridden.platforms['linux/arm/v7']?.edge.maxImageSize).toBe(200_000_000);
  });
});

describe('examples/deploy templates', () => {
  const templates = filesIn('examples/deploy', ['.yaml', '.yml']);

  it('are the K3s deployment and the compose file', () => {
    expect(templates).toEqual(['examples/deploy/compose.yaml', 'examples/deploy/k3s-deployment.yaml']);
  });

  it.each(templates)('%s renders with the image pinned to the index digest', async (file) => {
    const repository = await exampleImage();
    const rendered = renderTemplate(readRepoFile(file), {
      repository,
      indexDigest: INDEX_DIGEST,
      tags: ['1.8.2', '1.8', '1', 'latest', 'production'],
    });
    expect(rendered.warnings).toEqual([]);
    expect(rendered.replaced).toBeGreaterThanOrEqual(1);
    expect(rendered.text).toContain(`${repository}@${INDEX_DIGEST}`);
    // Every reference is pinned: no tag of the image is left.
    expect(rendered.text).not.toMatch(new RegExp(`${repository.replace(/[.]/g, '\\.')}:`));
    expect(renderedFileName(file)).toMatch(/\.pinned\.ya?ml$/);
  });

  it('are the files the example workflows publish', () => {
    const workflows = ['examples/release.yml', 'examples/matrix.yml'].map(readRepoFile).join('\n');
    for (const file of templates) expect(workflows).toContain(file.replace(/^examples\//, ''));
  });
});

describe('examples/edgeship-deployment-1.8.2.yaml', () => {
  const text = readRepoFile('examples/edgeship-deployment-1.8.2.yaml');

  it('is a valid deployment manifest of the example image', async () => {
    const manifest = parseDeploymentManifest(text, 'examples/edgeship-deployment-1.8.2.yaml');
    expect(manifest.image.repository).toBe(await exampleImage());
    expect(manifest.release.version).toBe('1.8.2');
    expect(manifest.platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm64']);
    for (const p of manifest.platforms) {
      expect(p.delta.baseline?.version).toBe(manifest.baseline?.version);
      expect(p.delta.bytes).toBeLessThan(p.size);
    }
  });

  it('keeps the verification header Edgeship writes', () => {
    expect(text).toMatch(/^# Edgeship deployment manifest: /);
    expect(text).toContain(
      'cosign verify-blob-attestation --new-bundle-format --bundle edgeship-deployment-1.8.2.yaml.sigstore.json',
    );
    expect(text).toContain('--type https://edgeship.dev/deployment-manifest/v1');
  });

  it('is what the README excerpt shows', () => {
    const readme = readRepoFile('README.md');
    const manifest = parseDeploymentManifest(text);
    expect(readme).toContain(manifest.image.index.digest);
    expect(readme).toContain(manifest.platforms[0]!.digest);
    expect(readme).toContain(`bytes: ${manifest.platforms[0]!.delta.bytes}`);
  });
});
