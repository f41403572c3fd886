import { describe, expect, it } from 'vitest';
import { TemplateError, renderTemplate, renderedFileName } from '../../../src/deployment/templates.js';
import { digest } from './fixtures.js';

const INDEX = digest('1');
const OLD = digest('0');
const REPO = 'ghcr.io/acme/agent';
const PINNED = `${REPO}@${INDEX}`;
const opts = { repository: REPO, indexDigest: INDEX, tags: ['1.2.0', '1.2', '1', 'latest'] };

describe('renderTemplate: Kubernetes', () => {
  it('pins a Deployment, keeps comments and formatting, leaves other images alone', () => {
    const template = `# Edge agent: runs on every gateway.
# was ghcr.io/acme/agent:1.0.0 before the migration
apiVersion: apps/v1
kind: Deployment
metadata:
  name: agent   # the agent
  labels: { app: agent }
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: agent
          image: ghcr.io/acme/agent:1.2.0 # pinned by Edgeship
          imagePullPolicy: IfNotPresent
          args: ["--peer-image=ghcr.io/acme/agent:latest", "--mode", 'edge']
        - name: sidecar
          image: ghcr.io/acme/agent-sidecar:1.2.0
        - name: sub
          image: ghcr.io/acme/agent/tools:1.2.0
        - name: other-org
          image: ghcr.io/other/agent:1.2.0
        - name: mirror
          image: mirror.example.com/ghcr.io/acme/agent:1.2.0
        - name: other-registry
          image: registry.example.com/acme/agent:1.2.0
        - name: busybox
          image: docker.io/library/busybox:1.36


`;
    const out = renderTemplate(template, opts);
    const expected = template
      .replace('image: ghcr.io/acme/agent:1.2.0 #', `image: ${PINNED} #`)
      .replace('--peer-image=ghcr.io/acme/agent:latest', `--peer-image=${PINNED}`);
    expect(out.text).toBe(expected);
    expect(out.replaced).toBe(2);
    expect(out.references).toEqual(['ghcr.io/acme/agent:1.2.0', 'ghcr.io/acme/agent:latest']);
    expect(out.warnings).toEqual([]);
    // The comment naming the old tag is untouched.
    expect(out.text).toContain('# was ghcr.io/acme/agent:1.0.0 before the migration');
  });

  it('pins a DaemonSet with initContainers, quoted and unquoted, bare and already pinned', () => {
    const template = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: { app: agent }
  template:
    metadata:
      labels: { app: agent }
    spec:
      initContainers:
        - name: migrate
          image: "ghcr.io/acme/agent:1.1.0@${OLD}"
          command: ["/agent", "migrate"]
        - name: wait
          image: 'ghcr.io/acme/agent'
      containers:
        - name: agent
          image: ghcr.io/acme/agent@${OLD}
        - {name: shell, image: ghcr.io/acme/agent:debug}
        - name: again
          image: ${PINNED}
`;
    const out = renderTemplate(template, opts);
    expect(out.text).toBe(`apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: { app: agent }
  template:
    metadata:
      labels: { app: agent }
    spec:
      initContainers:
        - name: migrate
          image: "${PINNED}"
          command: ["/agent", "migrate"]
        - name: wait
          image: '${PINNED}'
      containers:
        - name: agent
          image: ${PINNED}
        - {name: shell, image: ${PINNED}}
        - name: again
          image: ${PINNED}
`);
    expect(out.replaced).toBe(5);
    expect(out.references).toEqual([
      `ghcr.io/acme/agent:1.1.0@${OLD}`,
      'ghcr.io/acme/agent',
      `ghcr.io/acme/agent@${OLD}`,
      'ghcr.io/acme/agent:debug',
      PINNED,
    ]);
    expect(out.warnings).toEqual([
      'The template refers to tag "1.1.0", which this release does not carry; it is pinned to this release\'s index all the same',
      'The template refers to tag "debug", which this release does not carry; it is pinned to this release\'s index all the same',
    ]);
  });

  it('handles several documents, block scalars and CRLF line ends', () => {
    const template = [
      '---',
      'apiVersion: v1',
      'kind: Pod',
      'spec:',
      '  containers:',
      '    - image: ghcr.io/acme/agent:1.2.0',
      '      command:',
      '        - sh',
      '        - -c',
      '        - |',
      '          # pull ghcr.io/acme/agent:1.2.0 first',
      '          crictl pull ghcr.io/acme/agent:1.2.0 && exec agent',
      '---',
      'apiVersion: v1',
      'kind: ConfigMap',
      'data:',
      '  IMAGE: ghcr.io/acme/agent:latest',
      '',
    ].join('\r\n');
    const out = renderTemplate(template, opts);
    // Inside a block scalar everything is value text (a shell comment is not a YAML comment).
    expect(out.replaced).toBe(4);
    expect(out.text).toBe(template.replaceAll(/ghcr\.io\/acme\/agent:(1\.2\.0|latest)/g, PINNED));
    expect(out.text.split('\r\n')).toHaveLength(18);
  });
});

describe('renderTemplate: docker compose', () => {
  it('pins several services, with variables, keeps everything else', () => {
    const template = `# docker compose for the edge gateway
name: gateway
services:
  agent:
    image: ghcr.io/acme/agent:\${AGENT_TAG:-latest}   # overridable
    restart: unless-stopped
    environment:
      - UPDATER_IMAGE=ghcr.io/acme/agent:1.2
  updater:
    image: "ghcr.io/acme/agent@\${AGENT_DIGEST}"
  sidecar:
    image: ghcr.io/acme/agent-sidecar:1.2.0
  db:
    image: postgres:16
  cache:
    image: "redis:7-alpine"
  proxy:
    build: ./proxy
    image: localhost:5000/acme/agent:1.2.0
x-defaults: &defaults
  image: ghcr.io/acme/agent:1.2.0
worker:
  <<: *defaults
`;
    const out = renderTemplate(template, opts);
    expect(out.text).toBe(`# docker compose for the edge gateway
name: gateway
services:
  agent:
    image: ${PINNED}   # overridable
    restart: unless-stopped
    environment:
      - UPDATER_IMAGE=${PINNED}
  updater:
    image: "${PINNED}"
  sidecar:
    image: ghcr.io/acme/agent-sidecar:1.2.0
  db:
    image: postgres:16
  cache:
    image: "redis:7-alpine"
  proxy:
    build: ./proxy
    image: localhost:5000/acme/agent:1.2.0
x-defaults: &defaults
  image: ${PINNED}
worker:
  <<: *defaults
`);
    expect(out.replaced).toBe(4);
    expect(out.references).toEqual([
      'ghcr.io/acme/agent:${AGENT_TAG:-latest}',
      'ghcr.io/acme/agent:1.2',
      'ghcr.io/acme/agent@${AGENT_DIGEST}',
      'ghcr.io/acme/agent:1.2.0',
    ]);
    expect(out.warnings).toEqual([]);
  });

  it('a repository on a registry with a port', () => {
    const out = renderTemplate(
      'services:\n  a:\n    image: localhost:5000/acme/agent:1\n  b:\n    image: localhost:5001/acme/agent:1\n  c:\n    image: localhost/acme/agent:1\n',
      { repository: 'localhost:5000/acme/agent', indexDigest: INDEX },
    );
    expect(out.text).toBe(
      `services:\n  a:\n    image: localhost:5000/acme/agent@${INDEX}\n  b:\n    image: localhost:5001/acme/agent:1\n  c:\n    image: localhost/acme/agent:1\n`,
    );
  });
});

describe('renderTemplate: Docker Hub short names', () => {
  const hub = { repository: 'docker.io/library/agent', indexDigest: INDEX };

  it('pins `agent` only where it is the value of an image: key', () => {
    const template = `services:
  agent:
    image: agent:1.2.0
    container_name: agent
    command: [agent, --serve]
    hostname: agent
  b:
    image: "library/agent"
  c:
    image: docker.io/agent:latest
  d:
    image: index.docker.io/library/agent@${OLD}
  e:
    image: agent-sidecar
  f:
    image: myorg/agent:1
  g:
    image: ghcr.io/agent:1
  h:
    labels:
      pinned-from: docker.io/library/agent:1.2.0
`;
    const out = renderTemplate(template, hub);
    expect(out.text).toBe(`services:
  agent:
    image: agent@${INDEX}
    container_name: agent
    command: [agent, --serve]
    hostname: agent
  b:
    image: "library/agent@${INDEX}"
  c:
    image: docker.io/agent@${INDEX}
  d:
    image: index.docker.io/library/agent@${INDEX}
  e:
    image: agent-sidecar
  f:
    image: myorg/agent:1
  g:
    image: ghcr.io/agent:1
  h:
    labels:
      pinned-from: docker.io/library/agent@${INDEX}
`);
    expect(out.replaced).toBe(5);
  });

  it('the bare short name given as repository means docker.io/library', () => {
    const out = renderTemplate('image: agent\n', { repository: 'agent', indexDigest: INDEX });
    expect(out.text).toBe(`image: agent@${INDEX}\n`);
  });

  it('a user repository on Docker Hub: acme/agent', () => {
    const out = renderTemplate('a:\n  image: acme/agent:1\nb:\n  path: acme/agent\nc:\n  image: agent:1\n', {
      repository: 'docker.io/acme/agent',
      indexDigest: INDEX,
    });
    expect(out.text).toBe(`a:\n  image: acme/agent@${INDEX}\nb:\n  path: acme/agent\nc:\n  image: agent:1\n`);
  });
});

describe('renderTemplate: not YAML', () => {
  it('falls back to lines, outside comments, with a warning', () => {
    const template = `spec:
  containers:
    - name: agent
      image: {{ .Values.registry }}/agent:{{ .Values.tag }}
    - name: pinned
      image: "ghcr.io/acme/agent:1.2.0" # not ghcr.io/acme/agent:1.1.0
    # - image: ghcr.io/acme/agent:0.9
`;
    const out = renderTemplate(template, opts);
    expect(out.text).toBe(`spec:
  containers:
    - name: agent
      image: {{ .Values.registry }}/agent:{{ .Values.tag }}
    - name: pinned
      image: "${PINNED}" # not ghcr.io/acme/agent:1.1.0
    # - image: ghcr.io/acme/agent:0.9
`);
    expect(out.replaced).toBe(1);
    expect(out.warnings[0]).toMatch(/not valid YAML .*line by line, outside comments/);
  });

  it('short Docker Hub names only right after image:', () => {
    const template = 'a: {{ x }}\nimage: agent:1 # note\nname: agent\n- image: "agent"\n';
    const out = renderTemplate(template, { repository: 'agent', indexDigest: INDEX });
    expect(out.text).toBe(
      `a: {{ x }}\nimage: agent@${INDEX} # note\nname: agent\n- image: "agent@${INDEX}"\n`,
    );
  });
});

describe('renderTemplate: reporting and errors', () => {
  it('warns when the template has no reference', () => {
    const out = renderTemplate('image: nginx:1\n', opts);
    expect(out).toEqual({
      text: 'image: nginx:1\n',
      replaced: 0,
      references: [],
      warnings: ['The template has no reference to ghcr.io/acme/agent'],
    });
  });

  it('counts occurrences, lists distinct references', () => {
    const out = renderTemplate(
      'a:\n  image: ghcr.io/acme/agent:1\nb:\n  image: ghcr.io/acme/agent:1\n',
      opts,
    );
    expect(out.replaced).toBe(2);
    expect(out.references).toEqual(['ghcr.io/acme/agent:1']);
  });

  it('rejects a bad digest or repository', () => {
    expect(() => renderTemplate('', { repository: REPO, indexDigest: 'sha256:abc' })).toThrow(TemplateError);
    expect(() => renderTemplate('', { repository: 'ghcr.io/acme/agent:1', indexDigest: INDEX })).toThrow(
      /must not include a tag/,
    );
  });
});

describe('renderedFileName', () => {
  it.each([
    ['deployment.yaml', 'deployment.pinned.yaml'],
    ['k8s/daemonset.yml', 'k8s/daemonset.pinned.yml'],
    ['docker-compose.yml', 'docker-compose.pinned.yml'],
    ['compose.edge.yaml', 'compose.edge.pinned.yaml'],
    ['Kustomfile', 'Kustomfile.pinned'],
    ['.hidden', '.hidden.pinned'],
    ['./deploy/k3s.v2/agent', './deploy/k3s.v2/agent.pinned'],
  ])('%s → %s', (original, rendered) => {
    expect(renderedFileName(original)).toBe(rendered);
  });

  it('needs a file name', () => {
    expect(() => renderedFileName('deploy/')).toThrow(TemplateError);
  });
});
