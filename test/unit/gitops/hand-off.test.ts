import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  fleetApiRepository,
  fleetRemote,
  gitArgs,
  gitClient,
  gitEnvironment,
} from '../../../src/gitops/git.js';
import { handOff, HandOffError } from '../../../src/gitops/hand-off.js';
import { fakeExec, memoryLog } from '../helpers/memory-host.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const TOKEN = 'ghs_fleetsecret';

describe('git', () => {
  it('passes the token as an http.extraHeader in GIT_CONFIG_* variables, never in argv', async () => {
    const exec = fakeExec(() => ({}));
    const git = gitClient(exec, 'https://github.com/acme/fleet.git', TOKEN);
    await git.run(gitArgs.fetch('/w', 'https://github.com/acme/fleet.git', 'main'), 'fetch');
    await git.run(gitArgs.push('/w', 'https://github.com/acme/fleet.git', 'edgeship/x'), 'push');
    for (const call of exec.calls) {
      expect(call.line).not.toContain(TOKEN);
      expect(call.line).not.toContain(Buffer.from(`x-access-token:${TOKEN}`).toString('base64'));
      expect(call.options.env).toMatchObject({
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: 'http.extraHeader',
        GIT_CONFIG_VALUE_0: `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`,
        GIT_TERMINAL_PROMPT: '0',
      });
    }
    expect(exec.calls[1]!.args).toEqual([
      '-C',
      '/w',
      'push',
      '-q',
      '--force',
      '--',
      'https://github.com/acme/fleet.git',
      'HEAD:refs/heads/edgeship/x',
    ]);
  });

  it('sends no header to a file:// remote', () => {
    expect(gitEnvironment('file:///srv/fleet.git', TOKEN)).not.toHaveProperty('GIT_CONFIG_VALUE_0');
  });

  it('a failing git step names what it was doing and git’s message', async () => {
    const exec = fakeExec(() => ({
      exitCode: 128,
      stderr: "fatal: couldn't find remote ref refs/heads/nope",
    }));
    await expect(gitClient(exec, 'file:///x', undefined).run(['fetch'], 'fetch branch nope')).rejects.toThrow(
      /git could not fetch branch nope: git exited with code 128:\nfatal: couldn't find remote ref/,
    );
  });

  it('the fleet remote and API repository from owner/name or a URL', () => {
    expect(fleetRemote('acme/fleet', 'https://github.com/')).toBe('https://github.com/acme/fleet.git');
    expect(fleetRemote('http://127.0.0.1:9/git/acme/fleet.git', 'x')).toBe(
      'http://127.0.0.1:9/git/acme/fleet.git',
    );
    expect(fleetApiRepository('acme/fleet')).toBe('acme/fleet');
    expect(fleetApiRepository('http://127.0.0.1:9/git/acme/fleet.git')).toBe('acme/fleet');
    expect(fleetApiRepository('file:///srv/repos/acme/fleet/')).toBe('acme/fleet');
  });
});

describe('handOff', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'edgeship-handoff-'));
    mkdirSync(path.join(dir, 'clusters', 'production'), { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function setUp(changed: boolean) {
    const exec = fakeExec((call) => (call.args.includes('diff') ? { exitCode: changed ? 1 : 0 } : {}));
    const pulls: unknown[] = [];
    const log = memoryLog();
    const deps = {
      git: gitClient(exec, 'file:///fleet.git', undefined),
      pulls: {
        repository: 'acme/fleet',
        client: {
          call: async <T>(_what: string, call: (o: never) => Promise<T>) =>
            call({
              rest: {
                pulls: {
                  list: async () => ({ data: [] }),
                  create: async (p: unknown) => {
                    pulls.push(p);
                    return { data: { number: 5, html_url: 'https://github.com/acme/fleet/pull/5' } };
                  },
                },
              },
            } as never),
        },
      },
      log,
      workDir: dir,
      readText: (f: string) => readFile(f, 'utf8').catch(() => undefined),
      writeText: (f: string, t: string) => writeFile(f, t),
    };
    const request = {
      remote: 'file:///fleet.git',
      base: 'main',
      head: 'edgeship/acme/agent/production',
      paths: ['clusters/production/agent.yaml'],
      imageName: 'ghcr.io/acme/agent',
      indexDigest: DIGEST,
      tags: ['1.8.2', 'production'],
      title: 'Deploy ghcr.io/acme/agent 1.8.2 to production',
      body: 'body',
    };
    return { exec, pulls, log, deps, request };
  }

  it('pins the files on a fresh branch from the base, pushes it and opens the pull request', async () => {
    const file = path.join(dir, 'clusters', 'production', 'agent.yaml');
    writeFileSync(file, '# fleet\nimage: ghcr.io/acme/agent:1.8.1 # pinned by CI\n');
    const { exec, pulls, deps, request } = setUp(true);
    const result = await handOff(request, deps);
    expect(readFileSync(file, 'utf8')).toBe(`# fleet\nimage: ghcr.io/acme/agent@${DIGEST} # pinned by CI\n`);
    expect(exec.calls.map((c) => c.args.filter((a) => a !== '-C' && a !== dir && a !== '-q')[0])).toEqual([
      'init',
      'fetch',
      'checkout',
      'add',
      'diff',
      'commit',
      'push',
    ]);
    expect(exec.calls[2]!.args).toEqual(['-C', dir, 'checkout', '-q', '-B', request.head, 'FETCH_HEAD']);
    expect(pulls).toEqual([
      expect.objectContaining({ head: request.head, base: 'main', title: request.title, body: 'body' }),
    ]);
    expect(result).toMatchObject({ status: 'pull-request', action: 'created', number: 5 });
  });

  it('opens nothing when the base already runs this digest', async () => {
    writeFileSync(
      path.join(dir, 'clusters', 'production', 'agent.yaml'),
      `image: ghcr.io/acme/agent@${DIGEST}\n`,
    );
    const { exec, pulls, deps, request } = setUp(false);
    expect(await handOff(request, deps)).toEqual({ status: 'unchanged' });
    expect(exec.calls.some((c) => c.args.includes('push'))).toBe(false);
    expect(pulls).toEqual([]);
  });

  it('refuses a path missing from the base branch or outside the repository', async () => {
    const { deps, request } = setUp(true);
    await expect(handOff(request, deps)).rejects.toThrow(HandOffError);
    await expect(handOff(request, deps)).rejects.toThrow(
      /clusters\/production\/agent.yaml does not exist on branch main/,
    );
    await expect(handOff({ ...request, paths: ['../etc/passwd'] }, deps)).rejects.toThrow(
      /outside the fleet repository/,
    );
  });
});
