import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RegistryClient } from '../registry/client.js';
import { formatSeconds } from '../registry/errors.js';
import { chainResolvers, dockerConfigResolver, resolverFromInputs } from '../registry/credentials.js';
import type { ActionHost } from '../runner/host.js';
import type { Settings } from '../settings/inputs.js';

/** The registry client of the run: the inputs' credentials first, then the Docker config and its helpers. */
export function registryClientFor(
  settings: Settings,
  host: Pick<ActionHost, 'env' | 'exec'>,
): RegistryClient {
  const configDir = host.env.DOCKER_CONFIG || path.join(host.env.HOME || os.homedir(), '.docker');
  const credentials = chainResolvers(
    resolverFromInputs(settings.registry, settings.registryUsername, settings.registryPassword),
    dockerConfigResolver({ readFile: (f: string) => readFile(f, 'utf8'), exec: host.exec, configDir }),
  );
  return new RegistryClient({
    registry: settings.image.registry,
    credentials,
    ...(settings.registryCaFile ? { ca: readFileSync(settings.registryCaFile) } : {}),
    insecure: settings.insecureRegistries.includes(settings.image.registry),
    retryBudgetMs: settings.registryRetryBudgetMs,
    unreachableHint: unreachableHint(settings),
    userAgent: 'edgeship',
  });
}

/**
 * A client for each registry a base image comes from: the run's own for the image's registry, else one with the
 * Docker config's credentials (anonymous when it has none), made once per registry.
 */
export function baseImageClients(
  settings: Settings,
  host: Pick<ActionHost, 'env' | 'exec'>,
  own: RegistryClient,
): (registry: string) => RegistryClient {
  const clients = new Map<string, RegistryClient>([[settings.image.registry, own]]);
  const configDir = host.env.DOCKER_CONFIG || path.join(host.env.HOME || os.homedir(), '.docker');
  const credentials = dockerConfigResolver({
    readFile: (f) => readFile(f, 'utf8'),
    exec: host.exec,
    configDir,
  });
  return (registry) => {
    const client =
      clients.get(registry) ?? new RegistryClient({ registry, credentials, userAgent: 'edgeship' });
    clients.set(registry, client);
    return client;
  };
}

/** What to check when the registry cannot be reached: the input that names it, and how long was tried. */
function unreachableHint(settings: Settings): string {
  return (
    `Check the image input (${settings.imageName}): is the registry ${settings.image.registry} running and ` +
    `reachable from this runner at that host and port? Each registry operation is retried for up to ${formatSeconds(settings.registryRetryBudgetMs)} ` +
    '(registry-retry-budget)'
  );
}
