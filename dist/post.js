import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import {
  CLEANUP_STATE_KEY,
  dockerLogout,
  parseCleanupState,
  removeBuildahImages,
  removeBuildxBuilder
} from "./chunks/chunk-3IGN76WG.js";
import {
  coreLog
} from "./chunks/chunk-NEK2EYXI.js";
import {
  describeFailure,
  execProcess
} from "./chunks/chunk-3IAMKPZV.js";
import {
  getState,
  warning
} from "./chunks/chunk-LKZ75JD3.js";
import {
  __name
} from "./chunks/chunk-SNUNFU63.js";

// src/post.ts
import { rmSync } from "node:fs";

// src/stages/clean-up.ts
async function runPost(serializedState, deps) {
  const state = parseCleanupState(serializedState);
  const done = [];
  const attempt = /* @__PURE__ */ __name(async (what, file, run) => {
    const result = await run();
    if (result.exitCode === 0) done.push(what);
    else deps.log.warning(`cleanup: ${what} failed: ${describeFailure(file, result, 3)}`);
  }, "attempt");
  await deps.log.group("Clean up", async () => {
    const { buildxBuilder, dockerLogout: loggedIn, buildahImages } = state;
    if (buildxBuilder)
      await attempt(
        `removed buildx builder ${buildxBuilder}`,
        "docker",
        () => removeBuildxBuilder(deps.exec, buildxBuilder)
      );
    if (loggedIn)
      await attempt(`logged out of ${loggedIn}`, "docker", () => dockerLogout(deps.exec, loggedIn));
    if (buildahImages.length) {
      await attempt(
        `removed ${buildahImages.length} local buildah image(s)`,
        "buildah",
        () => removeBuildahImages(deps.exec, buildahImages)
      );
    }
    for (const p of state.paths) {
      try {
        deps.removePath(p);
        done.push(`removed ${p}`);
      } catch (error) {
        deps.log.warning(
          `cleanup: could not remove ${p}: ${error instanceof Error ? error.message : String(error)}`
        );
      }
    }
    for (const line of done) deps.log.info(line);
  });
  return done;
}
__name(runPost, "runPost");

// src/post.ts
runPost(getState(CLEANUP_STATE_KEY), {
  exec: execProcess,
  log: coreLog,
  removePath: /* @__PURE__ */ __name((p) => rmSync(p, { recursive: true, force: true }), "removePath")
}).catch((error) => {
  warning(error instanceof Error ? error.message : String(error));
});
