import { describe, expect, it } from 'vitest';
import { dockerfileBaseImages, substitute } from '../../../src/provenance/dockerfile-from.js';

const amd64 = { buildArgs: [] as Array<[string, string]>, platform: 'linux/amd64' };

describe('the base images of a Dockerfile', () => {
  it('lists every FROM once, in order, skipping stage names and scratch', () => {
    const text = [
      '# syntax=docker/dockerfile:1',
      'FROM golang:1.23 AS build',
      'RUN go build ./...',
      'FROM build AS test',
      'FROM --platform=$BUILDPLATFORM alpine:3.20 AS tools',
      'FROM scratch',
      'COPY --from=build /out /app',
      'COPY --from=ghcr.io/acme/certs:1 /etc/ssl /etc/ssl',
      'COPY --from=0 /x /y',
      'FROM golang:1.23',
    ].join('\n');
    expect(dockerfileBaseImages(text, amd64)).toEqual(['golang:1.23', 'alpine:3.20', 'ghcr.io/acme/certs:1']);
  });

  it('substitutes global ARGs: defaults, build-args for declared ARGs only, platform ARGs', () => {
    const text = [
      'ARG REGISTRY=docker.io',
      'ARG BASE',
      'ARG VERSION="3.20"',
      'FROM ${REGISTRY}/library/alpine:${VERSION} AS a',
      'FROM $BASE AS b',
      'FROM debian:${SUITE:-trixie}-slim AS c',
      'FROM ghcr.io/acme/runtime-${TARGETARCH}:1',
      'ARG LATE=nope',
      'FROM ${LATE:-late}:1',
    ].join('\n');
    const images = dockerfileBaseImages(text, {
      buildArgs: [
        ['BASE', 'localhost:5000/base/busybox:1'],
        ['UNDECLARED', 'x'],
      ],
      platform: 'linux/arm64',
    });
    expect(images).toEqual([
      'docker.io/library/alpine:3.20',
      'localhost:5000/base/busybox:1',
      'debian:trixie-slim',
      'ghcr.io/acme/runtime-arm64:1',
      'late:1',
    ]);
  });

  it('joins continuation lines (and the escape directive), ignores comments, and stops after the target stage', () => {
    const text = [
      '# escape=`',
      'FROM `',
      '  alpine:3.20 `',
      '  AS base',
      '# FROM not:this',
      'FROM base AS final',
      'FROM node:22 AS unused',
    ].join('\n');
    expect(dockerfileBaseImages(text, { ...amd64, target: 'final' })).toEqual(['alpine:3.20']);
    expect(dockerfileBaseImages('FROM a:1 \\\n  AS one\nFROM b:2', { ...amd64, target: 'one' })).toEqual([
      'a:1',
    ]);
  });

  it('expands ${X:+word} and leaves unknown names empty, as Docker does', () => {
    const args = new Map([['SET', 'yes']]);
    expect(substitute('a${SET:+-on}${UNSET:+-off}$UNSET${SET}', args)).toBe('a-onyes');
  });
});
