import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import {
  describeFailure
} from "./chunk-3IAMKPZV.js";
import {
  __name
} from "./chunk-SNUNFU63.js";

// src/runner/cleanup-state.ts
var CLEANUP_STATE_KEY = "edgeship-cleanup";
function emptyCleanupState() {
  return { buildahImages: [], paths: [] };
}
__name(emptyCleanupState, "emptyCleanupState");
function parseCleanupState(text) {
  if (!text) return emptyCleanupState();
  try {
    const doc = JSON.parse(text);
    return {
      ...typeof doc.buildxBuilder === "string" ? { buildxBuilder: doc.buildxBuilder } : {},
      ...typeof doc.dockerLogout === "string" ? { dockerLogout: doc.dockerLogout } : {},
      buildahImages: Array.isArray(doc.buildahImages) ? doc.buildahImages.filter((x) => typeof x === "string") : [],
      paths: Array.isArray(doc.paths) ? doc.paths.filter((x) => typeof x === "string") : []
    };
  } catch {
    return emptyCleanupState();
  }
}
__name(parseCleanupState, "parseCleanupState");
var CleanupRecorder = class {
  constructor(persist) {
    this.persist = persist;
  }
  persist;
  static {
    __name(this, "CleanupRecorder");
  }
  state = emptyCleanupState();
  record(change) {
    change(this.state);
    this.persist(JSON.stringify(this.state));
  }
};

// src/builders/builder.ts
function secretEnvName(index) {
  return `EDGESHIP_BUILD_SECRET_${index}`;
}
__name(secretEnvName, "secretEnvName");
function secretEnvironment(secrets = []) {
  return Object.fromEntries(secrets.map(([, value], i) => [secretEnvName(i), value]));
}
__name(secretEnvironment, "secretEnvironment");
var BuildError = class extends Error {
  static {
    __name(this, "BuildError");
  }
  name = "BuildError";
};
function failIfNonZero(what, file, result) {
  if (result.exitCode === 0 && !result.failure) return;
  const cause = builderErrorLine(result.stderr);
  throw new BuildError(`${what} failed: ${cause ? `${cause}
` : ""}${describeFailure(file, result)}`);
}
__name(failIfNonZero, "failIfNonZero");
function builderErrorLine(stderr) {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/^(Error|ERROR|error)(:| )/.test(lines[i])) return lines[i];
  }
  return void 0;
}
__name(builderErrorLine, "builderErrorLine");

// src/builders/buildah.ts
function registryAccessArgs(access) {
  const args = [];
  if (access.authFile) args.push("--authfile", access.authFile);
  if (access.certDir) args.push("--cert-dir", access.certDir);
  if (!access.tlsVerify) args.push("--tls-verify=false");
  return args;
}
__name(registryAccessArgs, "registryAccessArgs");
function buildahBuildArgs(req) {
  const args = [
    "build",
    "--platform",
    req.platform,
    "--format",
    "docker",
    "--file",
    req.file,
    "--tag",
    req.localName,
    ...registryAccessArgs(req.registryAccess),
    ...req.timestamp !== void 0 ? ["--timestamp", String(req.timestamp)] : []
  ];
  for (const [key, value] of req.buildArgs) args.push("--build-arg", `${key}=${value}`);
  for (const [key, value] of Object.entries(req.labels)) args.push("--label", `${key}=${value}`);
  if (req.cacheFrom.length || req.cacheTo.length) args.push("--layers");
  for (const from of req.cacheFrom) args.push("--cache-from", from);
  for (const to of req.cacheTo) args.push("--cache-to", to);
  if (req.target) args.push("--target", req.target);
  (req.secrets ?? []).forEach(
    ([id], i) => args.push("--secret", `id=${id},src=${secretEnvName(i)},type=env`)
  );
  for (const [id, file] of req.secretFiles ?? []) args.push("--secret", `id=${id},src=${file}`);
  for (const ssh of req.ssh ?? []) args.push("--ssh", ssh);
  for (const [name, value] of req.buildContexts ?? []) args.push("--build-context", `${name}=${value}`);
  if (req.noCache) args.push("--no-cache");
  if (req.pull) args.push("--pull=always");
  args.push(req.context);
  return args;
}
__name(buildahBuildArgs, "buildahBuildArgs");
function buildahPushToLayoutArgs(localName, layoutDir, layoutTag, digestFile) {
  return ["push", "--format", "v2s2", "--digestfile", digestFile, localName, `oci:${layoutDir}:${layoutTag}`];
}
__name(buildahPushToLayoutArgs, "buildahPushToLayoutArgs");
function buildahRemoveImagesArgs(localNames) {
  return ["rmi", "--force", ...localNames];
}
__name(buildahRemoveImagesArgs, "buildahRemoveImagesArgs");
function parseBuildahVersion(stdout) {
  return /version\s+(\d+\.\d+\.\d+)/i.exec(stdout)?.[1];
}
__name(parseBuildahVersion, "parseBuildahVersion");
function parseDigestFile(text) {
  const digest = text?.trim();
  return digest && /^sha256:[a-f0-9]{64}$/.test(digest) ? digest : void 0;
}
__name(parseDigestFile, "parseDigestFile");
async function buildahVersion(exec) {
  const version = await exec("buildah", ["--version"]);
  if (version.exitCode !== 0 || version.failure) {
    throw new BuildError(
      `builder "buildah" needs buildah on PATH (${describeFailure("buildah", version, 3)}). Install it (apt-get install buildah) or set builder: buildx.`
    );
  }
  return parseBuildahVersion(version.stdout) ?? version.stdout;
}
__name(buildahVersion, "buildahVersion");
async function buildahBuild(exec, req, log) {
  const args = buildahBuildArgs(req);
  log.debug(`buildah ${args.join(" ")}`);
  const built = await exec("buildah", args, {
    onLine: /* @__PURE__ */ __name((line) => log.info(line), "onLine"),
    env: secretEnvironment(req.secrets)
  });
  failIfNonZero(`building ${req.platform} with buildah`, "buildah", built);
}
__name(buildahBuild, "buildahBuild");
async function buildahPushToLayout(exec, req, readText) {
  const pushed = await exec(
    "buildah",
    buildahPushToLayoutArgs(req.localName, req.layoutDir, req.layoutTag, req.digestFile)
  );
  failIfNonZero(`exporting the ${req.platform} image`, "buildah", pushed);
  const digest = parseDigestFile(readText(req.digestFile));
  if (!digest) throw new BuildError(`buildah push wrote no manifest digest to ${req.digestFile}`);
  return digest;
}
__name(buildahPushToLayout, "buildahPushToLayout");
function removeBuildahImages(exec, localNames) {
  return exec("buildah", buildahRemoveImagesArgs(localNames));
}
__name(removeBuildahImages, "removeBuildahImages");

// src/builders/buildx.ts
function createBuilderArgs(name, buildkitdConfig, image) {
  return [
    "buildx",
    "create",
    "--name",
    name,
    "--driver",
    "docker-container",
    "--driver-opt",
    "network=host",
    ...image ? ["--driver-opt", `image=${image}`] : [],
    ...buildkitdConfig ? ["--buildkitd-config", buildkitdConfig] : [],
    "--bootstrap"
  ];
}
__name(createBuilderArgs, "createBuilderArgs");
function createRemoteBuilderArgs(name, endpoint) {
  return ["buildx", "create", "--name", name, "--driver", "remote", endpoint, "--bootstrap"];
}
__name(createRemoteBuilderArgs, "createRemoteBuilderArgs");
function inspectBuilderArgs(name) {
  return ["buildx", "inspect", name];
}
__name(inspectBuilderArgs, "inspectBuilderArgs");
function parseBuilderDriver(stdout) {
  return /^Driver:\s+(\S+)/m.exec(stdout)?.[1];
}
__name(parseBuilderDriver, "parseBuilderDriver");
function buildkitdConfigToml(insecure, caFiles = {}) {
  const hosts = [.../* @__PURE__ */ new Set([...insecure, ...Object.keys(caFiles)])];
  return hosts.map((host) => {
    const lines = [`[registry."${host}"]`];
    lines.push(...insecure.includes(host) ? ["  http = true", "  insecure = true"] : ["  http = false"]);
    if (caFiles[host]) lines.push(`  ca = [${JSON.stringify(caFiles[host])}]`);
    return `${lines.join("\n")}
`;
  }).join("\n");
}
__name(buildkitdConfigToml, "buildkitdConfigToml");
function removeBuilderArgs(name) {
  return ["buildx", "rm", name];
}
__name(removeBuilderArgs, "removeBuilderArgs");
function dockerLoginArgs(registry, username) {
  return ["login", "--username", username, "--password-stdin", registry];
}
__name(dockerLoginArgs, "dockerLoginArgs");
function dockerLogoutArgs(registry) {
  return ["logout", registry];
}
__name(dockerLogoutArgs, "dockerLogoutArgs");
function buildxBuildArgs(req) {
  const args = [
    "buildx",
    "build",
    "--builder",
    req.builder,
    "--platform",
    req.platform,
    "--file",
    req.file,
    "--metadata-file",
    req.metadataFile,
    "--provenance=false",
    "--sbom=false",
    "--output",
    (req.ociLayoutDir ? `type=oci,dest=${req.ociLayoutDir},tar=false` : `type=image,name=${req.imageName},push-by-digest=true,name-canonical=true,push=true`) + (req.sourceDateEpoch !== void 0 ? ",rewrite-timestamp=true" : "")
  ];
  (req.secrets ?? []).forEach(([id], i) => args.push("--secret", `id=${id},env=${secretEnvName(i)}`));
  for (const [id, file] of req.secretFiles ?? []) args.push("--secret", `id=${id},src=${file}`);
  for (const ssh of req.ssh ?? []) args.push("--ssh", ssh);
  for (const [name, value] of req.buildContexts ?? []) args.push("--build-context", `${name}=${value}`);
  if (req.noCache) args.push("--no-cache");
  if (req.pull) args.push("--pull");
  for (const [key, value] of req.buildArgs) args.push("--build-arg", `${key}=${value}`);
  if (req.sourceDateEpoch !== void 0) args.push("--build-arg", `SOURCE_DATE_EPOCH=${req.sourceDateEpoch}`);
  for (const [key, value] of Object.entries(req.labels)) args.push("--label", `${key}=${value}`);
  for (const [key, value] of Object.entries(req.annotations))
    args.push("--annotation", `manifest:${key}=${value}`);
  for (const from of req.cacheFrom) args.push("--cache-from", from);
  for (const to of req.cacheTo) args.push("--cache-to", to);
  if (req.target) args.push("--target", req.target);
  args.push(req.context);
  return args;
}
__name(buildxBuildArgs, "buildxBuildArgs");
function parseBuildxMetadata(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error("the buildx metadata file is not JSON; the build probably did not finish");
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
    throw new Error("the buildx metadata file is not a JSON object");
  }
  const record = doc;
  const digest = record["containerimage.digest"];
  if (typeof digest !== "string" || !/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw new Error(
      'the buildx metadata file has no "containerimage.digest": the image was not pushed (is the builder a docker-container builder?)'
    );
  }
  const result = { digest };
  const configDigest = record["containerimage.config.digest"];
  if (typeof configDigest === "string") result.configDigest = configDigest;
  const descriptor = record["containerimage.descriptor"];
  if (descriptor && typeof descriptor === "object") {
    const d = descriptor;
    if (typeof d.mediaType === "string") result.mediaType = d.mediaType;
    if (typeof d.size === "number") result.size = d.size;
  }
  return result;
}
__name(parseBuildxMetadata, "parseBuildxMetadata");
async function checkBuildx(exec) {
  const version = await exec("docker", ["buildx", "version"]);
  if (version.exitCode !== 0) {
    throw new BuildError(
      `builder "buildx" needs Docker with the buildx plugin (docker buildx version: ${describeFailure("docker", version, 3)}). Use a GitHub-hosted runner, install buildx, or set builder: buildah.`
    );
  }
}
__name(checkBuildx, "checkBuildx");
async function dockerLogin(exec, registry, username, password) {
  const login = await exec("docker", dockerLoginArgs(registry, username), { input: password });
  if (login.exitCode !== 0) {
    throw new BuildError(
      `docker login to ${registry} as ${username} failed: ${describeFailure("docker", login, 3)}. ` + (/x509|certificate/i.test(login.stderr) ? `The Docker daemon does not trust the certificate of ${registry}: put its CA at /etc/docker/certs.d/${registry}/ca.crt on the runner, or use builder: buildah (it uses registry-ca-file).` : "Check registry-username and registry-password.")
    );
  }
}
__name(dockerLogin, "dockerLogin");
async function prepareBuildxBuilder(exec, plan, log) {
  if (plan.kind !== "existing") {
    const args = plan.kind === "remote" ? createRemoteBuilderArgs(plan.name, plan.endpoint) : createBuilderArgs(plan.name, plan.buildkitdConfig, plan.image);
    const created = await exec("docker", args, { onLine: /* @__PURE__ */ __name((line) => log.info(line), "onLine") });
    failIfNonZero(`creating the buildx builder ${plan.name}`, "docker", created);
    return plan.kind === "remote" ? "remote" : "docker-container";
  }
  const inspected = await exec("docker", inspectBuilderArgs(plan.name));
  const driver = inspected.exitCode === 0 ? parseBuilderDriver(inspected.stdout) : void 0;
  if (!driver) {
    throw new BuildError(
      `buildx-builder "${plan.name}" is not a builder here (docker buildx inspect: ${describeFailure("docker", inspected, 3)}). List the builders with docker buildx ls, or leave buildx-builder empty to let Edgeship create one.`
    );
  }
  return driver;
}
__name(prepareBuildxBuilder, "prepareBuildxBuilder");
async function runBuildxBuild(exec, req, log) {
  const args = buildxBuildArgs(req);
  log.debug(`docker ${args.join(" ")}`);
  const result = await exec("docker", args, {
    onLine: /* @__PURE__ */ __name((line) => log.info(line), "onLine"),
    env: secretEnvironment(req.secrets)
  });
  failIfNonZero(`building ${req.platform} with buildx`, "docker", result);
}
__name(runBuildxBuild, "runBuildxBuild");
async function buildxBuild(exec, req, io) {
  await runBuildxBuild(exec, req, io.log);
  const text = io.readText(req.metadataFile);
  if (text === void 0) throw new BuildError(`buildx wrote no metadata file for ${req.platform}`);
  return parseBuildxMetadata(text);
}
__name(buildxBuild, "buildxBuild");
async function buildxExport(exec, req, log) {
  await runBuildxBuild(exec, req, log);
}
__name(buildxExport, "buildxExport");
function removeBuildxBuilder(exec, name) {
  return exec("docker", removeBuilderArgs(name));
}
__name(removeBuildxBuilder, "removeBuildxBuilder");
function dockerLogout(exec, registry) {
  return exec("docker", dockerLogoutArgs(registry));
}
__name(dockerLogout, "dockerLogout");

export {
  buildahVersion,
  buildahBuild,
  buildahPushToLayout,
  removeBuildahImages,
  buildkitdConfigToml,
  checkBuildx,
  dockerLogin,
  prepareBuildxBuilder,
  buildxBuild,
  buildxExport,
  removeBuildxBuilder,
  dockerLogout,
  CLEANUP_STATE_KEY,
  parseCleanupState,
  CleanupRecorder
};
