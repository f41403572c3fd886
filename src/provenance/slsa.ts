/**
 * SLSA v1 build provenance (https://slsa.dev/provenance/v1) of an image built by a GitHub Actions workflow, in
 * GitHub's workflow build type (https://actions.github.io/buildtypes/workflow/v1): the workflow as builder,
 * the inputs that shape the build as external parameters (build-argument names only, never their values), the
 * source at its commit and every base image by digest as resolved dependencies, the run as invocation.
 *
 * Pure functions only: the run is read from the environment by `provenanceRun`, the rest is given.
 */

export const SLSA_PROVENANCE_V1_PREDICATE_TYPE = 'https://slsa.dev/provenance/v1';
/** GitHub's build type for a workflow run, as actions/attest-build-provenance writes it. */
export const GITHUB_WORKFLOW_BUILD_TYPE = 'https://actions.github.io/buildtypes/workflow/v1';

/** An SLSA resource descriptor: what was used, named by URI and digest. */
export interface ResourceDescriptor {
  uri: string;
  /** Absent only for a base image that could not be resolved (see resolveBaseImages). */
  digest?: Record<string, string>;
  name?: string;
}

export interface SlsaProvenance {
  buildDefinition: {
    buildType: string;
    externalParameters: {
      workflow: { ref: string; repository: string; path: string };
      build: BuildParameters;
    };
    internalParameters: {
      github: {
        event_name: string;
        repository_id: string;
        repository_owner_id: string;
        runner_environment: string;
      };
    };
    resolvedDependencies: ResourceDescriptor[];
  };
  runDetails: {
    builder: { id: string };
    metadata: { invocationId: string; startedOn: string; finishedOn: string };
  };
}

/** The inputs that shape the build (paths relative to the workspace). */
export interface BuildParameters {
  platforms: string[];
  file: string;
  context: string;
  target?: string;
  /** Names only: values can be secrets. */
  buildArgs: string[];
  builder: string;
}

/** The workflow run, from GITHUB_* variables. */
export interface ProvenanceRun {
  serverUrl: string;
  /** `owner/repo`. */
  repository: string;
  /** GITHUB_WORKFLOW_REF: `owner/repo/.github/workflows/release.yml@refs/tags/v1.0.0`. */
  workflowRef: string;
  ref: string;
  sha: string;
  eventName: string;
  repositoryId: string;
  repositoryOwnerId: string;
  runnerEnvironment: string;
  /** The run URL with its attempt: `…/actions/runs/<id>/attempts/<n>`. */
  invocationId: string;
}

/** The run as provenance names it; undefined outside a workflow (no GITHUB_WORKFLOW_REF). */
export function provenanceRun(env: Record<string, string | undefined>): ProvenanceRun | undefined {
  const workflowRef = env.GITHUB_WORKFLOW_REF;
  const repository = env.GITHUB_REPOSITORY;
  if (!workflowRef || !repository || !/^[^/]+\/[^/]+\/.+@.+$/.test(workflowRef)) return undefined;
  const serverUrl = (env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/+$/, '');
  const runs = `${serverUrl}/${repository}/actions/runs/${env.GITHUB_RUN_ID ?? '0'}`;
  return {
    serverUrl,
    repository,
    workflowRef,
    ref: env.GITHUB_REF ?? '',
    sha: env.GITHUB_SHA ?? '',
    eventName: env.GITHUB_EVENT_NAME ?? '',
    repositoryId: env.GITHUB_REPOSITORY_ID ?? '',
    repositoryOwnerId: env.GITHUB_REPOSITORY_OWNER_ID ?? '',
    runnerEnvironment: env.RUNNER_ENVIRONMENT ?? '',
    invocationId: `${runs}/attempts/${env.GITHUB_RUN_ATTEMPT ?? '1'}`,
  };
}

export interface ProvenanceInput {
  run: ProvenanceRun;
  build: BuildParameters;
  /** Base images (or, for the index, the platform images) by digest; the source is added first. */
  dependencies: readonly ResourceDescriptor[];
  startedOn: Date;
  finishedOn: Date;
}

/** The provenance predicate of one image or index built by this run. */
export function slsaProvenance(input: ProvenanceInput): SlsaProvenance {
  const { run } = input;
  const at = run.workflowRef.indexOf('@');
  const [owner, repo, ...path] = run.workflowRef.slice(0, at).split('/');
  return {
    buildDefinition: {
      buildType: GITHUB_WORKFLOW_BUILD_TYPE,
      externalParameters: {
        workflow: {
          ref: run.workflowRef.slice(at + 1),
          repository: `${run.serverUrl}/${owner}/${repo}`,
          path: path.join('/'),
        },
        build: input.build,
      },
      internalParameters: {
        github: {
          event_name: run.eventName,
          repository_id: run.repositoryId,
          repository_owner_id: run.repositoryOwnerId,
          runner_environment: run.runnerEnvironment,
        },
      },
      resolvedDependencies: [
        { uri: `git+${run.serverUrl}/${run.repository}@${run.ref}`, digest: { gitCommit: run.sha } },
        ...input.dependencies,
      ],
    },
    runDetails: {
      builder: { id: `${run.serverUrl}/${run.workflowRef}` },
      metadata: {
        invocationId: run.invocationId,
        startedOn: input.startedOn.toISOString(),
        finishedOn: input.finishedOn.toISOString(),
      },
    },
  };
}

/** One platform image's provenance, made by the job that built it. */
export interface PlatformProvenance {
  platform: string;
  digest: string;
  predicate: SlsaProvenance;
}

/**
 * The index's provenance, made by the job that publishes it: the platforms' build definition, the platform
 * images as its dependencies (after the source), this job as the invocation.
 */
export function indexProvenance(
  platforms: readonly PlatformProvenance[],
  run: { imageName: string; invocationId: string; finishedOn: Date },
): SlsaProvenance | undefined {
  const first = platforms[0]?.predicate;
  if (!first) return undefined;
  const started = platforms.map((p) => p.predicate.runDetails.metadata.startedOn).sort()[0]!;
  const source = first.buildDefinition.resolvedDependencies[0]!;
  return {
    buildDefinition: {
      ...first.buildDefinition,
      resolvedDependencies: [
        source,
        ...platforms.map((p) => {
          const [algorithm, hex] = p.digest.split(':') as [string, string];
          return {
            uri: `oci://${run.imageName}@${p.digest}`,
            name: p.platform,
            digest: { [algorithm]: hex },
          };
        }),
      ],
    },
    runDetails: {
      builder: first.runDetails.builder,
      metadata: {
        invocationId: run.invocationId,
        startedOn: started,
        finishedOn: run.finishedOn.toISOString(),
      },
    },
  };
}
