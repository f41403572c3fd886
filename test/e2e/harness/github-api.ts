/**
 * A stand-in for the GitHub REST API endpoints that publishing release assets uses, on two loopback
 * node:http servers like api.github.com and uploads.github.com:
 *
 * - api:     GET    /repos/{owner}/{repo}/releases/tags/{tag}        (published releases only)
 *            GET    /repos/{owner}/{repo}/releases                    (drafts included, newest first;
 *            GET    /repositories/{repo_id}/releases                   per_page ≤ 100, page, Link header)
 *            POST   /repos/{owner}/{repo}/releases                    (422 already_exists for a used tag;
 *                                                                      a draft conflicts only with a
 *                                                                      published release of its tag)
 *            GET    /repos/{owner}/{repo}/releases/{id}
 *            PATCH  /repos/{owner}/{repo}/releases/{id}               (`draft: false` publishes; 422 for a
 *                                                                      tag another published release has,
 *                                                                      or for moving the tag of, or turning
 *                                                                      into a draft, an immutable release)
 *            DELETE /repos/{owner}/{repo}/releases/{id}               (204, assets included)
 *            GET    /repos/{owner}/{repo}/releases/{id}/assets        (per_page ≤ 100, page; Link header
 *            GET    /repositories/{repo_id}/releases/{id}/assets       pointing at /repositories/… like GitHub)
 *            DELETE /repos/{owner}/{repo}/releases/assets/{asset_id}  (204)
 * - uploads: POST   /repos/{owner}/{repo}/releases/{id}/assets?name=…  (raw body; 422 for a used name
 *                                                                      or an empty body, like GitHub)
 * - artifact attestations (api server):
 *            POST   /repos/{owner}/{repo}/attestations                ({ bundle } → 201 { id })
 *            GET    /repos/{owner}/{repo}/attestations/{digest}       (what `gh attestation verify --repo` asks;
 *            GET    /orgs/{owner}/attestations/{digest}                `--owner`: the stored bundles whose in-toto
 *                                                                      subject has that digest, `predicate_type`
 *                                                                      filter, `{ attestations: [{ bundle,
 *                                                                      repository_id, bundle_url, initiator }] }`;
 *                                                                      another owner has none)
 *   The api server also answers as an HTTP proxy would (absolute request URLs, e.g.
 *   `GET http://api.github.localhost/orgs/…`), so gh with `GH_HOST=github.localhost` and `HTTP_PROXY=<apiUrl>`
 *   reaches it.
 * - pull requests and their comments (api server):
 *            GET    /repos/{owner}/{repo}/issues/{number}/comments    (per_page ≤ 100, page, Link header)
 *            POST   /repos/{owner}/{repo}/issues/{number}/comments    (201)
 *            PATCH  /repos/{owner}/{repo}/issues/comments/{id}        (200)
 *            GET    /repos/{owner}/{repo}/pulls?head=owner:branch&state=open
 *            POST   /repos/{owner}/{repo}/pulls                       (422 when the head has an open one)
 *            PATCH  /repos/{owner}/{repo}/pulls/{number}
 *   With `forbidPullRequests`, their writes answer 403 with `x-accepted-github-permissions: pull_requests=write`.
 *
 * Every request needs `Authorization: Bearer <token>` (or `token <token>`), else 401 "Bad credentials".
 * Other repositories answer 404. Release objects carry `upload_url` templates pointing at the uploads
 * server, `html_url` (`…/releases/tag/untagged-…` for drafts, like GitHub), `assets`; assets carry `browser_download_url`, `size`, `state`, `digest`.
 * With `immutableReleases`, releases become immutable when published (created published, or a draft
 * published by PATCH), as with GitHub's immutable releases setting: a draft takes assets, a published
 * release then no longer does.
 * Bodies follow GitHub's shapes: `{"message","documentation_url","status"}` and, for 422,
 * `{"message":"Validation Failed","errors":[{"resource","code","field"}]}`.
 */
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An injected failure: the next `times` requests matching `method` and `pathPattern` get `status`. */
export interface GitHubApiFailure {
  /** HTTP method, case-insensitive; `*` matches any. */
  method: string;
  /** Tested against the request's path and query as sent, e.g. `/repos/o/r/releases/tags/v1`. */
  pathPattern: RegExp;
  status: number;
  times: number;
  headers?: Record<string, string>;
  /** Response body: an object is sent as JSON, a string as is. Default: GitHub's error JSON. */
  body?: unknown;
  /**
   * For an upload: leave an empty asset of that name in state `starter`, as GitHub documents for a 502
   * during upload.
   */
  leavesStarterAsset?: boolean;
}

/** A release to exist when the stand-in starts. */
export interface SeedRelease {
  tag_name: string;
  name?: string;
  prerelease?: boolean;
  /** Drafts are not found by GET /releases/tags/{tag}, as on GitHub. */
  draft?: boolean;
  /** Immutable now (published) or, for a draft, once published. */
  immutable?: boolean;
  assets?: Array<{
    name: string;
    content: Buffer | string;
    content_type?: string;
    state?: 'uploaded' | 'starter';
  }>;
}

export interface StartGitHubApiStandInOptions {
  failures?: GitHubApiFailure[];
  /**
   * Releases become immutable when published (GitHub's immutable releases setting): a release created
   * published is immutable at once; a draft when it is published. Default false.
   */
  immutableReleases?: boolean;
  /**
   * Answer every write (create, publish or delete a release, delete or upload an asset) with 403 "Resource not accessible by
   * integration" and `x-accepted-github-permissions: contents=write`, as for a token with `contents: read`.
   */
  forbidUploads?: boolean;
  /** Answer writes to pull requests and their comments with 403, as for a token without pull-requests: write. */
  forbidPullRequests?: boolean;
  /** `owner/name` the stand-in serves; others answer 404. Default `edgeship-test/widget`. */
  repository?: string;
  /** The accepted token. Default: a random `ghs_…` token. */
  token?: string;
  releases?: SeedRelease[];
}

export interface StandInAsset {
  id: number;
  name: string;
  size: number;
  content: Buffer;
  content_type: string;
  state: 'uploaded' | 'starter';
}

export interface StandInRelease {
  id: number;
  /** Releases are listed newest (highest id) first. */
  tag_name: string;
  name: string;
  prerelease: boolean;
  draft: boolean;
  immutable: boolean;
  assets: StandInAsset[];
}

export interface StandInComment {
  id: number;
  issue_number: number;
  body: string;
}

export interface StandInPull {
  number: number;
  head: string;
  base: string;
  title: string;
  body: string;
  state: 'open' | 'closed';
}

export interface RecordedRequest {
  method: string;
  /** Path and query as sent. */
  path: string;
  server: 'api' | 'uploads';
  headers: IncomingHttpHeaders;
  bodyLength: number;
}

export interface GitHubApiStandIn {
  /** `http://127.0.0.1:PORT` — pass as GitHubApi.apiUrl. */
  apiUrl: string;
  /** `http://127.0.0.1:PORT2` — the uploads server (what release `upload_url` templates point at). */
  uploadUrl: string;
  token: string;
  repository: string;
  /** A snapshot of the releases, assets in upload order. */
  releases(): StandInRelease[];
  /** Every request received so far, in order. */
  requests(): RecordedRequest[];
  /** The bodies of `POST /repos/{owner}/{repo}/attestations` the stand-in stored (201), in order. */
  attestations(): Array<{ id: number; bundle: unknown }>;
  /** Pull request (issue) comments, oldest first. */
  comments(): StandInComment[];
  /** Pull requests, oldest first. */
  pulls(): StandInPull[];
  /** Bodies of the JSON requests received (method, path, parsed body), in order. */
  bodies(): Array<{ method: string; path: string; body: unknown }>;
  stop(): Promise<void>;
}

const REPOSITORY_ID = 700_001;
const DOCS = 'https://docs.github.com/rest/releases';

class HttpAnswer {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

function errorBody(status: number, message: string, documentation = DOCS) {
  return { message, documentation_url: documentation, status: String(status) };
}

function validationFailed(resource: string, code: string, field: string, message?: string) {
  return new HttpAnswer(422, {
    message: 'Validation Failed',
    errors: [{ resource, code, field, ...(message ? { message } : {}) }],
    documentation_url: DOCS,
    status: '422',
  });
}

const DEFAULT_MESSAGES: Record<number, string> = {
  401: 'Bad credentials',
  403: 'Resource not accessible by integration',
  404: 'Not Found',
  422: 'Validation Failed',
  429: 'API rate limit exceeded for installation.',
  500: 'Server Error',
  502: 'Server Error',
  503: 'Service Unavailable',
  504: 'We couldn’t respond to your request in time.',
};

/** Starts the stand-in on two loopback ports; stop() closes both. */
export async function startGitHubApiStandIn(
  options: StartGitHubApiStandInOptions = {},
): Promise<GitHubApiStandIn> {
  const token = options.token ?? `ghs_${randomBytes(18).toString('hex')}`;
  const repository = options.repository ?? 'edgeship-test/widget';
  const failures = (options.failures ?? []).map((failure) => ({ ...failure }));
  const releases: StandInRelease[] = [];
  /** Ids of drafts that become immutable when published. */
  const immutableOnPublish = new Set<number>();
  const recorded: RecordedRequest[] = [];
  const attestations: Array<{ id: number; bundle: unknown }> = [];
  const comments: StandInComment[] = [];
  const pulls: StandInPull[] = [];
  const bodies: Array<{ method: string; path: string; body: unknown }> = [];
  let nextId = 1;
  const newId = () => nextId++;
  const now = new Date('2026-01-02T03:04:05Z').toISOString();

  for (const seed of options.releases ?? []) {
    const id = newId();
    const draft = seed.draft ?? false;
    if (draft && seed.immutable === true) immutableOnPublish.add(id);
    releases.push({
      id,
      tag_name: seed.tag_name,
      name: seed.name ?? seed.tag_name,
      prerelease: seed.prerelease ?? false,
      draft,
      immutable: !draft && seed.immutable === true,
      assets: (seed.assets ?? []).map((asset) => {
        const content = Buffer.from(asset.content);
        return {
          id: newId(),
          name: asset.name,
          size: content.length,
          content,
          content_type: asset.content_type ?? 'application/octet-stream',
          state: asset.state ?? 'uploaded',
        };
      }),
    });
  }

  const apiServer = http.createServer((request, response) => void handle('api', request, response));
  const uploadServer = http.createServer((request, response) => void handle('uploads', request, response));
  const apiUrl = await listen(apiServer);
  const uploadUrl = await listen(uploadServer);
  const [owner = '', repo = ''] = repository.split('/');
  const repoPath = `/repos/${owner}/${repo}`;

  const releaseJson = (release: StandInRelease) => ({
    url: `${apiUrl}${repoPath}/releases/${release.id}`,
    assets_url: `${apiUrl}${repoPath}/releases/${release.id}/assets`,
    upload_url: `${uploadUrl}${repoPath}/releases/${release.id}/assets{?name,label}`,
    html_url: release.draft
      ? `${apiUrl}/${owner}/${repo}/releases/tag/untagged-${createHash('sha1').update(String(release.id)).digest('hex').slice(0, 20)}`
      : `${apiUrl}/${owner}/${repo}/releases/tag/${encodeURIComponent(release.tag_name)}`,
    id: release.id,
    node_id: `RE_${Buffer.from(String(release.id)).toString('base64')}`,
    tag_name: release.tag_name,
    target_commitish: 'main',
    name: release.name,
    draft: release.draft,
    immutable: release.immutable,
    prerelease: release.prerelease,
    created_at: now,
    published_at: release.draft ? null : now,
    author: { login: 'github-actions[bot]', id: 41898282, type: 'Bot' },
    tarball_url: `${apiUrl}${repoPath}/tarball/${encodeURIComponent(release.tag_name)}`,
    zipball_url: `${apiUrl}${repoPath}/zipball/${encodeURIComponent(release.tag_name)}`,
    body: null,
    assets: release.assets.map((asset) => assetJson(release, asset)),
  });

  const assetJson = (release: StandInRelease, asset: StandInAsset) => ({
    url: `${apiUrl}${repoPath}/releases/assets/${asset.id}`,
    browser_download_url: `${apiUrl}/${owner}/${repo}/releases/download/${encodeURIComponent(release.tag_name)}/${encodeURIComponent(asset.name)}`,
    id: asset.id,
    node_id: `RA_${Buffer.from(String(asset.id)).toString('base64')}`,
    name: asset.name,
    label: null,
    state: asset.state,
    content_type: asset.content_type,
    size: asset.size,
    digest:
      asset.state === 'uploaded'
        ? `sha256:${createHash('sha256').update(asset.content).digest('hex')}`
        : null,
    download_count: 0,
    created_at: now,
    updated_at: now,
    uploader: { login: 'github-actions[bot]', id: 41898282, type: 'Bot' },
  });

  async function handle(server: 'api' | 'uploads', request: IncomingMessage, response: ServerResponse) {
    const method = (request.method ?? 'GET').toUpperCase();
    const rawPath = request.url ?? '/';
    let body: Buffer;
    try {
      body = await readBody(request);
    } catch {
      response.destroy();
      return;
    }
    recorded.push({ method, path: rawPath, server, headers: request.headers, bodyLength: body.length });
    if (server === 'api' && method !== 'GET') bodies.push({ method, path: rawPath, body: parseObject(body) });
    let answer: HttpAnswer;
    try {
      answer = route(server, method, rawPath, request.headers, body);
    } catch (error) {
      answer = new HttpAnswer(500, errorBody(500, `stand-in error: ${String(error)}`));
    }
    const payload =
      answer.body === undefined
        ? Buffer.alloc(0)
        : Buffer.from(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    response.writeHead(answer.status, {
      ...(answer.body === undefined
        ? {}
        : {
            'content-type':
              typeof answer.body === 'string' ? 'text/plain' : 'application/json; charset=utf-8',
          }),
      'content-length': String(payload.length),
      'x-github-api-version-selected': '2022-11-28',
      ...answer.headers,
    });
    response.end(payload);
  }

  /** As GitHub: `{ bundle }` with a Sigstore bundle (mediaType, verificationMaterial, dsseEnvelope) → 201 `{ id }`. */
  function storeAttestation(body: Buffer): HttpAnswer {
    let parsed: { bundle?: { mediaType?: unknown; verificationMaterial?: unknown; dsseEnvelope?: unknown } };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      return new HttpAnswer(400, errorBody(400, 'Problems parsing JSON'));
    }
    const bundle = parsed.bundle;
    if (
      !bundle ||
      typeof bundle.mediaType !== 'string' ||
      !bundle.verificationMaterial ||
      !bundle.dsseEnvelope
    ) {
      return validationFailed('Attestation', 'invalid', 'bundle');
    }
    const id = newId();
    attestations.push({ id, bundle });
    return new HttpAnswer(201, { id });
  }

  /** The stored attestations of a subject digest (`sha256:<hex>`), as GitHub lists them (no pages here). */
  function listAttestations(ours: boolean, digest: string, url: URL): HttpAnswer {
    const [algorithm = '', hex = ''] = digest.split(':');
    const predicateType = url.searchParams.get('predicate_type');
    const matching = ours
      ? attestations.filter(({ bundle }) => {
          const statement = inTotoStatement(bundle);
          return (
            statement !== undefined &&
            (!predicateType || statement.predicateType === predicateType) &&
            (statement.subject ?? []).some((s) => s.digest?.[algorithm] === hex)
          );
        })
      : [];
    return new HttpAnswer(200, {
      attestations: matching.map(({ bundle }) => ({
        bundle,
        repository_id: REPOSITORY_ID,
        bundle_url: '',
        initiator: 'user',
      })),
    });
  }

  function route(
    server: 'api' | 'uploads',
    method: string,
    rawPath: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): HttpAnswer {
    const authorization = headers.authorization ?? '';
    const presented = /^(?:bearer|token)\s+(\S+)$/i.exec(authorization)?.[1];
    if (presented === undefined)
      return new HttpAnswer(401, errorBody(401, 'Requires authentication', 'https://docs.github.com/rest'));
    if (presented !== token)
      return new HttpAnswer(401, errorBody(401, 'Bad credentials', 'https://docs.github.com/rest'));
    const version = headers['x-github-api-version'];
    if (typeof version === 'string' && version !== '2022-11-28') {
      return new HttpAnswer(400, errorBody(400, `API version ${version} is not supported.`));
    }

    const failure = failures.find(
      (entry) =>
        entry.times > 0 &&
        (entry.method === '*' || entry.method.toUpperCase() === method) &&
        entry.pathPattern.test(rawPath),
    );
    const url = new URL(rawPath, 'http://stand-in');
    const segments = url.pathname.split('/').slice(1).map(decodeURIComponent);

    if (failure) {
      failure.times -= 1;
      if (failure.leavesStarterAsset && server === 'uploads' && method === 'POST') {
        const release = findReleaseForUpload(segments);
        const name = url.searchParams.get('name');
        if (release && name && !release.assets.some((asset) => asset.name === name)) {
          release.assets.push({
            id: newId(),
            name,
            size: 0,
            content: Buffer.alloc(0),
            content_type: String(headers['content-type'] ?? 'application/octet-stream'),
            state: 'starter',
          });
        }
      }
      return new HttpAnswer(
        failure.status,
        failure.body ?? errorBody(failure.status, DEFAULT_MESSAGES[failure.status] ?? 'Error'),
        failure.headers ?? {},
      );
    }

    const sameRepo = (o?: string, r?: string) =>
      o?.toLowerCase() === owner.toLowerCase() && r?.toLowerCase() === repo.toLowerCase();
    const notFound = () => new HttpAnswer(404, errorBody(404, 'Not Found'));
    const forbidden = () =>
      new HttpAnswer(403, errorBody(403, 'Resource not accessible by integration'), {
        'x-accepted-github-permissions': 'contents=write',
      });

    if (server === 'uploads') {
      // /repos/{o}/{r}/releases/{id}/assets
      if (
        method !== 'POST' ||
        segments.length !== 6 ||
        segments[0] !== 'repos' ||
        segments[3] !== 'releases' ||
        segments[5] !== 'assets'
      ) {
        return notFound();
      }
      if (!sameRepo(segments[1], segments[2])) return notFound();
      const release = findReleaseForUpload(segments);
      if (!release) return notFound();
      if (options.forbidUploads) return forbidden();
      const name = url.searchParams.get('name');
      if (!name) return validationFailed('ReleaseAsset', 'missing_field', 'name');
      const contentType = headers['content-type'];
      if (!contentType) return new HttpAnswer(400, errorBody(400, 'Content-Type header is required'));
      if (headers['content-length'] !== String(body.length)) {
        return new HttpAnswer(400, errorBody(400, `Bad Content-Length: ${headers['content-length'] ?? ''}`));
      }
      if (release.immutable) {
        return new HttpAnswer(422, errorBody(422, 'Cannot upload assets to an immutable release.'));
      }
      if (body.length === 0) {
        return validationFailed('ReleaseAsset', 'custom', 'size', 'size must be greater than or equal to 1');
      }
      if (release.assets.some((asset) => asset.name === name)) {
        return validationFailed('ReleaseAsset', 'already_exists', 'name');
      }
      const asset: StandInAsset = {
        id: newId(),
        name,
        size: body.length,
        content: Buffer.from(body),
        content_type: contentType,
        state: 'uploaded',
      };
      release.assets.push(asset);
      return new HttpAnswer(201, assetJson(release, asset));
    }

    // API server.
    if (
      method === 'GET' &&
      segments.length === 4 &&
      segments[0] === 'orgs' &&
      segments[2] === 'attestations'
    ) {
      return listAttestations(segments[1]?.toLowerCase() === owner.toLowerCase(), segments[3] ?? '', url);
    }
    if (segments[0] === 'repositories' && method === 'GET') {
      // /repositories/{repo_id}/releases (pagination links)
      if (segments.length === 3 && segments[1] === String(REPOSITORY_ID) && segments[2] === 'releases') {
        return listReleases(url);
      }
      // /repositories/{repo_id}/releases/{id}/assets (pagination links)
      if (
        segments.length !== 5 ||
        segments[1] !== String(REPOSITORY_ID) ||
        segments[2] !== 'releases' ||
        segments[4] !== 'assets'
      ) {
        return notFound();
      }
      return listAssets(segments[3], url);
    }
    if (segments[0] !== 'repos' || !sameRepo(segments[1], segments[2])) return notFound();
    const rest = segments.slice(3);
    if (method === 'POST' && rest.length === 1 && rest[0] === 'attestations') return storeAttestation(body);
    if (method === 'GET' && rest.length === 2 && rest[0] === 'attestations') {
      return listAttestations(true, rest[1] ?? '', url);
    }
    if (method === 'GET' && rest.length === 3 && rest[0] === 'releases' && rest[1] === 'tags') {
      const release = releases.find((entry) => entry.tag_name === rest[2] && !entry.draft);
      return release ? new HttpAnswer(200, releaseJson(release)) : notFound();
    }
    if (method === 'GET' && rest.length === 1 && rest[0] === 'releases') return listReleases(url);
    if (method === 'POST' && rest.length === 1 && rest[0] === 'releases') {
      if (options.forbidUploads) return forbidden();
      const input = parseObject(body);
      if (!input || typeof input.tag_name !== 'string' || input.tag_name === '') {
        return validationFailed('Release', 'missing_field', 'tag_name');
      }
      const draft = input.draft === true;
      if (releases.some((entry) => entry.tag_name === input.tag_name && (!draft || !entry.draft))) {
        return validationFailed('Release', 'already_exists', 'tag_name');
      }
      const release: StandInRelease = {
        id: newId(),
        tag_name: input.tag_name,
        name: typeof input.name === 'string' ? input.name : input.tag_name,
        prerelease: input.prerelease === true,
        draft,
        immutable: !draft && options.immutableReleases === true,
        assets: [],
      };
      releases.push(release);
      return new HttpAnswer(201, releaseJson(release), {
        location: `${apiUrl}${repoPath}/releases/${release.id}`,
      });
    }
    if (rest.length === 2 && rest[0] === 'releases' && /^\d+$/.test(rest[1] ?? '')) {
      const release = releases.find((entry) => String(entry.id) === rest[1]);
      if (!release) return notFound();
      if (method === 'GET') return new HttpAnswer(200, releaseJson(release));
      if (method === 'PATCH') {
        if (options.forbidUploads) return forbidden();
        return updateRelease(release, body);
      }
      if (method === 'DELETE') {
        if (options.forbidUploads) return forbidden();
        releases.splice(releases.indexOf(release), 1);
        immutableOnPublish.delete(release.id);
        return new HttpAnswer(204, undefined);
      }
      return notFound();
    }
    if (method === 'GET' && rest.length === 3 && rest[0] === 'releases' && rest[2] === 'assets') {
      return listAssets(rest[1], url);
    }
    if (rest[0] === 'issues' || rest[0] === 'pulls') return pullRequests(method, rest, url, body);
    if (method === 'DELETE' && rest.length === 3 && rest[0] === 'releases' && rest[1] === 'assets') {
      const release = releases.find((entry) => entry.assets.some((asset) => String(asset.id) === rest[2]));
      if (!release) return notFound();
      if (options.forbidUploads) return forbidden();
      if (release.immutable)
        return new HttpAnswer(422, errorBody(422, 'Cannot delete assets of an immutable release.'));
      release.assets = release.assets.filter((asset) => String(asset.id) !== rest[2]);
      return new HttpAnswer(204, undefined);
    }
    return notFound();
  }

  function pullRequests(method: string, rest: string[], url: URL, body: Buffer): HttpAnswer {
    const notFound = () => new HttpAnswer(404, errorBody(404, 'Not Found'));
    if (method !== 'GET' && options.forbidPullRequests) {
      return new HttpAnswer(403, errorBody(403, 'Resource not accessible by integration'), {
        'x-accepted-github-permissions': 'pull_requests=write',
      });
    }
    const input = method === 'GET' ? {} : parseObject(body);
    if (!input) return new HttpAnswer(400, errorBody(400, 'Problems parsing JSON'));
    const commentJson = (c: StandInComment) => ({
      id: c.id,
      body: c.body,
      html_url: `${apiUrl}/${owner}/${repo}/pull/${c.issue_number}#issuecomment-${c.id}`,
      user: { login: 'github-actions[bot]', type: 'Bot' },
    });
    const pullJson = (p: StandInPull) => ({
      number: p.number,
      state: p.state,
      title: p.title,
      body: p.body,
      head: { ref: p.head, label: `${owner}:${p.head}` },
      base: { ref: p.base },
      html_url: `${apiUrl}/${owner}/${repo}/pull/${p.number}`,
    });
    if (rest[0] === 'issues' && rest.length === 3 && rest[2] === 'comments' && /^\d+$/.test(rest[1] ?? '')) {
      const issue = Number(rest[1]);
      if (method === 'GET') {
        const all = comments.filter((c) => c.issue_number === issue);
        const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? '30') || 30));
        const page = Math.max(1, Number(url.searchParams.get('page') ?? '1') || 1);
        const lastPage = Math.max(1, Math.ceil(all.length / perPage));
        const link = (n: number) =>
          `${apiUrl}${repoPath}/issues/${issue}/comments?per_page=${perPage}&page=${n}`;
        return new HttpAnswer(
          200,
          all.slice((page - 1) * perPage, page * perPage).map(commentJson),
          page < lastPage ? { link: `<${link(page + 1)}>; rel="next", <${link(lastPage)}>; rel="last"` } : {},
        );
      }
      if (method !== 'POST') return notFound();
      if (typeof input.body !== 'string') return validationFailed('IssueComment', 'missing_field', 'body');
      const comment = { id: newId(), issue_number: issue, body: input.body };
      comments.push(comment);
      return new HttpAnswer(201, commentJson(comment));
    }
    if (rest[0] === 'issues' && rest.length === 3 && rest[1] === 'comments' && method === 'PATCH') {
      const comment = comments.find((c) => String(c.id) === rest[2]);
      if (!comment) return notFound();
      if (typeof input.body !== 'string') return validationFailed('IssueComment', 'missing_field', 'body');
      comment.body = input.body;
      return new HttpAnswer(200, commentJson(comment));
    }
    if (rest[0] === 'pulls' && rest.length === 1 && method === 'GET') {
      const head = url.searchParams.get('head');
      const state = url.searchParams.get('state') ?? 'open';
      const found = pulls.filter(
        (p) => (state === 'all' || p.state === state) && (!head || `${owner}:${p.head}` === head),
      );
      return new HttpAnswer(200, found.map(pullJson));
    }
    if (rest[0] === 'pulls' && rest.length === 1 && method === 'POST') {
      for (const field of ['title', 'head', 'base'])
        if (typeof input[field] !== 'string') return validationFailed('PullRequest', 'missing_field', field);
      if (pulls.some((p) => p.state === 'open' && p.head === input.head))
        return validationFailed(
          'PullRequest',
          'custom',
          'head',
          `A pull request already exists for ${owner}:${String(input.head)}.`,
        );
      const pull: StandInPull = {
        number: newId(),
        head: String(input.head),
        base: String(input.base),
        title: String(input.title),
        body: typeof input.body === 'string' ? input.body : '',
        state: 'open',
      };
      pulls.push(pull);
      return new HttpAnswer(201, pullJson(pull));
    }
    if (rest[0] === 'pulls' && rest.length === 2 && method === 'PATCH') {
      const pull = pulls.find((p) => String(p.number) === rest[1]);
      if (!pull) return notFound();
      if (typeof input.title === 'string') pull.title = input.title;
      if (typeof input.body === 'string') pull.body = input.body;
      if (input.state === 'open' || input.state === 'closed') pull.state = input.state;
      return new HttpAnswer(200, pullJson(pull));
    }
    return notFound();
  }

  function updateRelease(release: StandInRelease, body: Buffer): HttpAnswer {
    const input = parseObject(body);
    if (!input) return new HttpAnswer(400, errorBody(400, 'Problems parsing JSON'));
    const tagName = input.tag_name === undefined ? release.tag_name : input.tag_name;
    if (typeof tagName !== 'string' || tagName === '') {
      return validationFailed('Release', 'invalid', 'tag_name');
    }
    const draft = typeof input.draft === 'boolean' ? input.draft : release.draft;
    if (release.immutable && (draft || tagName !== release.tag_name)) {
      return new HttpAnswer(
        422,
        errorBody(422, 'Cannot change the tag or draft state of an immutable release.'),
      );
    }
    if (!draft && releases.some((entry) => entry !== release && !entry.draft && entry.tag_name === tagName)) {
      return validationFailed('Release', 'already_exists', 'tag_name');
    }
    const publishing = release.draft && !draft;
    release.tag_name = tagName;
    release.draft = draft;
    if (typeof input.name === 'string') release.name = input.name;
    if (typeof input.prerelease === 'boolean') release.prerelease = input.prerelease;
    if (publishing && (options.immutableReleases === true || immutableOnPublish.has(release.id))) {
      release.immutable = true;
    }
    return new HttpAnswer(200, releaseJson(release));
  }

  function listReleases(url: URL): HttpAnswer {
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? '30') || 30));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? '1') || 1);
    const newestFirst = [...releases].sort((a, b) => b.id - a.id);
    const lastPage = Math.max(1, Math.ceil(newestFirst.length / perPage));
    const slice = newestFirst.slice((page - 1) * perPage, page * perPage);
    const link = (target: number) =>
      `${apiUrl}/repositories/${REPOSITORY_ID}/releases?per_page=${perPage}&page=${target}`;
    const links: string[] = [];
    if (page > 1) links.push(`<${link(page - 1)}>; rel="prev"`, `<${link(1)}>; rel="first"`);
    if (page < lastPage) links.push(`<${link(page + 1)}>; rel="next"`, `<${link(lastPage)}>; rel="last"`);
    return new HttpAnswer(
      200,
      slice.map((release) => releaseJson(release)),
      links.length > 0 ? { link: links.join(', ') } : {},
    );
  }

  function findReleaseForUpload(segments: string[]): StandInRelease | undefined {
    return releases.find((entry) => String(entry.id) === segments[4]);
  }

  function listAssets(releaseId: string | undefined, url: URL): HttpAnswer {
    const release = releases.find((entry) => String(entry.id) === releaseId);
    if (!release) return new HttpAnswer(404, errorBody(404, 'Not Found'));
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? '30') || 30));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? '1') || 1);
    const lastPage = Math.max(1, Math.ceil(release.assets.length / perPage));
    const slice = release.assets.slice((page - 1) * perPage, page * perPage);
    const link = (target: number) =>
      `${apiUrl}/repositories/${REPOSITORY_ID}/releases/${release.id}/assets?per_page=${perPage}&page=${target}`;
    const links: string[] = [];
    if (page > 1) links.push(`<${link(page - 1)}>; rel="prev"`, `<${link(1)}>; rel="first"`);
    if (page < lastPage) links.push(`<${link(page + 1)}>; rel="next"`, `<${link(lastPage)}>; rel="last"`);
    return new HttpAnswer(
      200,
      slice.map((asset) => assetJson(release, asset)),
      links.length > 0 ? { link: links.join(', ') } : {},
    );
  }

  return {
    apiUrl,
    uploadUrl,
    token,
    repository,
    releases: () =>
      releases.map((release) => ({
        ...release,
        assets: release.assets.map((asset) => ({ ...asset, content: Buffer.from(asset.content) })),
      })),
    requests: () => recorded.map((entry) => ({ ...entry })),
    attestations: () => attestations.map((entry) => ({ ...entry })),
    comments: () => comments.map((c) => ({ ...c })),
    pulls: () => pulls.map((p) => ({ ...p })),
    bodies: () => bodies.map((b) => ({ ...b })),
    stop: async () => {
      await Promise.all([close(apiServer), close(uploadServer)]);
    },
  };
}

interface InTotoStatement {
  predicateType?: string;
  subject?: Array<{ digest?: Record<string, string> }>;
}

/** The in-toto statement a stored bundle's DSSE envelope carries. */
function inTotoStatement(bundle: unknown): InTotoStatement | undefined {
  const payload = (bundle as { dsseEnvelope?: { payload?: unknown } }).dsseEnvelope?.payload;
  if (typeof payload !== 'string') return undefined;
  try {
    return JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as InTotoStatement;
  } catch {
    return undefined;
  }
}

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
