import { describe, expect, it } from 'vitest';
import { InvalidReferenceError } from '../../../src/registry/errors.js';
import {
  apiHost,
  assertTagOrDigest,
  formatRepository,
  isDigest,
  isLoopbackHost,
  isValidTag,
  parseDigest,
  parseRepository,
} from '../../../src/registry/reference.js';

const SHA256 = `sha256:${'a'.repeat(64)}`;
const SHA512 = `sha512:${'0123456789abcdef'.repeat(8)}`;

describe('parseRepository', () => {
  it.each([
    ['ghcr.io/acme/agent', 'ghcr.io', 'acme/agent'],
    ['ghcr.io/acme/team/agent', 'ghcr.io', 'acme/team/agent'],
    ['localhost:5000/agent', 'localhost:5000', 'agent'],
    ['localhost/agent', 'localhost', 'agent'],
    ['127.0.0.1:5000/acme/agent', '127.0.0.1:5000', 'acme/agent'],
    ['[::1]:5000/acme/agent', '[::1]:5000', 'acme/agent'],
    ['registry.example.com:443/a/b', 'registry.example.com:443', 'a/b'],
    ['Registry.Example.com/acme/agent', 'Registry.Example.com', 'acme/agent'],
    ['alpine', 'docker.io', 'library/alpine'],
    ['acme/agent', 'docker.io', 'acme/agent'],
    ['docker.io/alpine', 'docker.io', 'library/alpine'],
    ['index.docker.io/acme/agent', 'docker.io', 'acme/agent'],
    ['ghcr.io/acme/my_agent.v2', 'ghcr.io', 'acme/my_agent.v2'],
    ['ghcr.io/acme/my__agent', 'ghcr.io', 'acme/my__agent'],
    ['ghcr.io/acme/my---agent', 'ghcr.io', 'acme/my---agent'],
    ['  ghcr.io/acme/agent  ', 'ghcr.io', 'acme/agent'],
  ])('parses %s', (input, registry, path) => {
    expect(parseRepository(input)).toEqual({ registry, path });
  });

  it.each([
    ['', /it is empty/],
    ['ghcr.io/acme/agent:v1', /must not include a tag/],
    [`ghcr.io/acme/agent@${SHA256}`, /must not include a digest/],
    ['https://ghcr.io/acme/agent', /must not include a URL scheme/],
    ['ghcr.io/Acme/agent', /must be lowercase/],
    ['Acme/agent', /must be lowercase/],
    ['ghcr.io/acme//agent', /path component/],
    ['ghcr.io/acme/agent/', /path component/],
    ['ghcr.io/acme/-agent', /path component/],
    ['ghcr.io/acme/agent_', /path component/],
    ['ghcr.io/acme/a___b', /path component/],
    ['ghcr.io/acme/a gent', /path component/],
    ['-bad.io/acme/agent', /not a valid registry host/],
    ['bad_host.io/acme/agent', /not a valid registry host/],
    [`ghcr.io/${'a'.repeat(250)}`, /longer than 255/],
  ])('rejects %j', (input, reason) => {
    expect(() => parseRepository(input)).toThrow(InvalidReferenceError);
    expect(() => parseRepository(input)).toThrow(reason);
  });

  it('names the value and the expected form in the error', () => {
    expect(() => parseRepository('ghcr.io/acme/agent:v1')).toThrow(
      'invalid image repository "ghcr.io/acme/agent:v1": it must not include a tag (:tag); give the repository only; expected a repository such as ghcr.io/acme/agent',
    );
  });

  it('formats a repository back', () => {
    expect(formatRepository(parseRepository('alpine'))).toBe('docker.io/library/alpine');
    expect(formatRepository(parseRepository('localhost:5000/a/b'))).toBe('localhost:5000/a/b');
  });
});

describe('digests and tags', () => {
  it('recognises sha256 and sha512 digests only in canonical form', () => {
    expect(isDigest(SHA256)).toBe(true);
    expect(isDigest(SHA512)).toBe(true);
    expect(isDigest(`sha256:${'A'.repeat(64)}`)).toBe(false);
    expect(isDigest(`sha256:${'a'.repeat(63)}`)).toBe(false);
    expect(isDigest(`sha512:${'a'.repeat(64)}`)).toBe(false);
    expect(isDigest(`md5:${'a'.repeat(32)}`)).toBe(false);
    expect(parseDigest(SHA512)).toEqual({ algorithm: 'sha512', hex: SHA512.slice(7) });
    expect(() => parseDigest('sha256:abc')).toThrow(
      /invalid digest "sha256:abc".*expected sha256:<64 lowercase hex>/,
    );
  });

  it.each([
    ['latest', true],
    ['v1.2.3', true],
    ['_private', true],
    ['1.0-rc.1_build', true],
    ['a'.repeat(128), true],
    ['a'.repeat(129), false],
    ['.hidden', false],
    ['-dash', false],
    ['with space', false],
    ['with/slash', false],
    ['', false],
  ])('tag %j valid: %s', (tag, valid) => {
    expect(isValidTag(tag)).toBe(valid);
  });

  it('tells tags from digests and rejects neither', () => {
    expect(assertTagOrDigest('v1')).toBe('tag');
    expect(assertTagOrDigest(SHA256)).toBe('digest');
    expect(() => assertTagOrDigest('sha256:short')).toThrow(InvalidReferenceError);
  });
});

describe('hosts', () => {
  it.each([
    ['localhost', true],
    ['LOCALHOST:5000', true],
    ['127.0.0.1', true],
    ['127.8.9.10:443', true],
    ['::1', true],
    ['[::1]', true],
    ['[::1]:5000', true],
    ['128.0.0.1', false],
    ['127.0.0.1.example.com', false],
    ['localhost.example.com', false],
    ['ghcr.io', false],
    ['[::2]:5000', false],
  ])('isLoopbackHost(%j) is %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  it('maps Docker Hub to its API host and leaves others alone', () => {
    expect(apiHost('docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('index.docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('ghcr.io')).toBe('ghcr.io');
    expect(apiHost('localhost:5000')).toBe('localhost:5000');
  });
});
