/** The run's registry client (src/stages/registry.ts): the retry budget input and what an unreachable registry says. */
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../../src/registry/errors.js';
import { parseRepository } from '../../../src/registry/reference.js';
import type { Settings } from '../../../src/settings/inputs.js';
import { registryClientFor } from '../../../src/stages/registry.js';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('registryClientFor', () => {
  it('gives up on a registry that is not listening after registry-retry-budget, naming the image input', async () => {
    const port = await closedPort();
    const image = parseRepository(`127.0.0.1:${port}/acme/agent`);
    const settings = {
      image,
      imageName: `127.0.0.1:${port}/acme/agent`,
      registry: image.registry,
      insecureRegistries: [],
      registryRetryBudgetMs: 300,
    } as unknown as Settings;
    const home = mkdtempSync(path.join(os.tmpdir(), 'edgeship-home-'));
    const client = registryClientFor(settings, {
      env: { HOME: home },
      exec: async () => {
        throw new Error('no credential helpers here');
      },
    } as unknown as Parameters<typeof registryClientFor>[1]);

    const error = await client.listTags('acme/agent').then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    expect(error).toBeInstanceOf(RegistryError);
    const message = (error as Error).message;
    expect(message).toContain(`GET https://127.0.0.1:${port}/v2/acme/agent/tags/list: connection refused`);
    expect(message).toMatch(/gave up after \d+ attempts over 0\.\d s/);
    expect(message).toContain(
      `Check the image input (127.0.0.1:${port}/acme/agent): is the registry 127.0.0.1:${port} running and reachable from this runner`,
    );
    expect(message).toContain('retried for up to 0.3 s (registry-retry-budget)');
  });
});
