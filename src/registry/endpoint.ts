import { apiHost, isLoopbackHost, isValidRegistryHost, normaliseRegistry, stripPort } from './reference.js';

/**
 * How to reach a registry: `https`, `http`, or `https-then-http` (try TLS first and fall back to plain
 * http when the server answers a TLS handshake in plain http, as Docker does for insecure registries).
 */
export type RegistryScheme = 'https' | 'http' | 'https-then-http';

export interface RegistryEndpoint {
  /** host[:port] without scheme, Docker Hub normalised to `docker.io`: the name credentials are looked up by. */
  registry: string;
  /** The host[:port] that serves the API (`registry-1.docker.io` for Docker Hub). */
  host: string;
  scheme: RegistryScheme;
}

/**
 * Reads the registry a client talks to: `host[:port]`, optionally prefixed by `https://` or `http://`.
 * Plain http is allowed only for loopback hosts or when `insecure` is set; without a scheme those use
 * `https-then-http`, everything else uses https.
 */
export function parseRegistryEndpoint(input: string, insecure: boolean): RegistryEndpoint {
  const trimmed = input.trim().replace(/\/+$/, '');
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(trimmed);
  const scheme = schemeMatch?.[1]?.toLowerCase();
  const host = schemeMatch ? trimmed.slice(schemeMatch[0].length) : trimmed;
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') {
    throw new Error(
      `registry "${input}" has unsupported scheme ${scheme}://; use host[:port] or https://host[:port]`,
    );
  }
  if (!isValidRegistryHost(host)) {
    throw new Error(`registry "${input}" is not a valid host[:port] (for example ghcr.io or localhost:5000)`);
  }
  const plainHttpAllowed = insecure || isLoopbackHost(host);
  if (scheme === 'http' && !plainHttpAllowed) {
    throw new Error(
      `registry "${input}" uses plain http, which is only allowed for loopback registries (localhost, 127.0.0.1, ::1) or registries marked insecure; use https`,
    );
  }
  const registry = normaliseRegistry(host);
  return {
    registry,
    host: apiHost(registry),
    scheme:
      scheme === 'http' ? 'http' : scheme === 'https' || !plainHttpAllowed ? 'https' : 'https-then-http',
  };
}

/** Whether two host[:port] values name the same machine (ports and IPv6 brackets ignored, case-insensitive). */
export function sameHostname(a: string, b: string): boolean {
  return stripPort(a.toLowerCase()) === stripPort(b.toLowerCase());
}
