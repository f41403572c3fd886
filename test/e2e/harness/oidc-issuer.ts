import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the runner's OIDC token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL): answers
 * `{"value": <token>}` to a GET with the right bearer token, on loopback.
 */
export async function startOidcTokenEndpoint(
  token: () => string,
): Promise<{ env: Record<string, string>; requests(): number; stop(): Promise<void> }> {
  const requestToken = 'runner-request-token';
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests += 1;
    if (req.headers.authorization !== `Bearer ${requestToken}`) {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: token() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    env: {
      ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${port}/token?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken,
    },
    requests: () => requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
