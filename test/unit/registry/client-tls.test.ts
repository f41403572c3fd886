import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFailure, execProcess } from '../../../src/process/exec.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { RegistryError } from '../../../src/registry/errors.js';
import { OCI_IMAGE_MANIFEST } from '../../../src/registry/media-types.js';
import { FakeRegistry } from './fake-registry.js';

let dir: string;
let cert: string;
let registry: FakeRegistry;
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_IMAGE_MANIFEST, layers: [] }));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgeship-registry-tls-'));
  const result = await execProcess(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { timeoutMs: 15_000 },
  );
  if (result.exitCode !== 0) throw new Error(describeFailure('openssl', result));
  cert = await readFile(join(dir, 'cert.pem'), 'utf8');
  const key = await readFile(join(dir, 'key.pem'), 'utf8');
  registry = await new FakeRegistry({
    scheme: 'https',
    createServer: (listener) => createServer({ key, cert }, listener),
  }).start();
  registry.addManifest('acme/agent', 'v1', manifest, OCI_IMAGE_MANIFEST);
});

afterAll(async () => {
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('RegistryClient over HTTPS with a private CA', () => {
  it('trusts the registry when given its CA certificate', async () => {
    const client = new RegistryClient({
      registry: `https://${registry.host}`,
      ca: cert,
      sleep: async () => {},
    });
    try {
      const fetched = await client.getManifest('acme/agent', 'v1');
      expect(fetched.body.equals(manifest)).toBe(true);
      expect(client.requestCount).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('uses https for a loopback registry without a scheme when it speaks TLS', async () => {
    const client = new RegistryClient({
      registry: registry.host,
      ca: Buffer.from(cert),
      sleep: async () => {},
    });
    try {
      expect(await client.listTags('acme/agent')).toEqual(['v1']);
      expect(client.requestCount).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('fails clearly, without retrying, when the certificate is not trusted', async () => {
    const client = new RegistryClient({ registry: `https://${registry.host}`, sleep: async () => {} });
    try {
      const error = await client.getManifest('acme/agent', 'v1').then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(RegistryError);
      const registryError = error as RegistryError;
      expect(registryError.code).toBe('TLS_VERIFICATION_FAILED');
      expect(registryError.retryable).toBe(false);
      expect(registryError.message).toContain(`get manifest ${registry.host}/acme/agent:v1 failed`);
      expect(registryError.message).toMatch(/SELF_SIGNED|self-signed/i);
      expect(registryError.message).toContain('configure its CA certificate');
      expect(client.requestCount).toBe(1);
    } finally {
      await client.close();
    }
  });
});
