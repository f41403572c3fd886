// What the bundle takes from undici, in place of its index.js (build.mjs resolves `undici` here). index.js is
// CommonJS and loads all of undici (WebSocket, EventSource, CacheStorage, cookies, the mock agents…), which esbuild
// cannot tree-shake; the bundle needs only request (the registry client), fetch (Octokit through @actions/github),
// Agent (a registry's own CA) and ProxyAgent (@actions/http-client behind a proxy). These are undici's own modules, set up
// as index.js sets them up, so they behave exactly as the package does. build.mjs fails the build when a bundled
// module asks undici for anything else.
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import api from 'undici/lib/api/index.js';
import Agent from 'undici/lib/dispatcher/agent.js';
import ProxyAgent from 'undici/lib/dispatcher/proxy-agent.js';
import { getGlobalDispatcher } from 'undici/lib/global.js';
import util from 'undici/lib/core/util.js';

// index.js gives every dispatcher request(), stream(), pipeline(), upgrade() and connect(); ProxyAgent relies on
// connect() to open its tunnel.
Object.assign(Dispatcher.prototype, api);

export { Agent, ProxyAgent };

// index.js's fetch: undici's, with the stack trace of the caller on errors. Its module (with the web streams,
// FormData and Headers it brings) is loaded on the first call: only Octokit fetches, and most runs make no call.
let fetchImpl;
export async function fetch(init, options = undefined) {
  // A CommonJS module imported this way has only its default export in the bundle: module.exports.
  fetchImpl ??= (await import('undici/lib/web/fetch/index.js')).default.fetch;
  try {
    return await fetchImpl(init, options);
  } catch (err) {
    if (err && typeof err === 'object') Error.captureStackTrace(err);
    throw err;
  }
}

// index.js's request(): undici's, on the dispatcher given or the global one, with the URL split as index.js splits it.
export function request(url, opts = {}) {
  const parsed = util.parseURL(url);
  const { dispatcher = getGlobalDispatcher(), ...rest } = opts;
  return api.request.call(dispatcher, {
    ...rest,
    origin: parsed.origin,
    path: parsed.search ? `${parsed.pathname}${parsed.search}` : parsed.pathname,
    method: rest.method || (rest.body ? 'PUT' : 'GET'),
  });
}
