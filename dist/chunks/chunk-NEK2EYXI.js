import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import {
  execProcess
} from "./chunk-3IAMKPZV.js";
import {
  debug,
  getInput,
  group,
  info,
  saveState,
  setFailed,
  setOutput,
  setSecret,
  summary,
  warning
} from "./chunk-LKZ75JD3.js";
import {
  __name
} from "./chunk-SNUNFU63.js";

// src/runner/core-host.ts
var coreLog = {
  info: /* @__PURE__ */ __name((m) => info(m), "info"),
  warning: /* @__PURE__ */ __name((m) => warning(m), "warning"),
  debug: /* @__PURE__ */ __name((m) => debug(m), "debug"),
  group: /* @__PURE__ */ __name((name, fn) => group(name, fn), "group")
};
function coreHost() {
  return {
    readInput: /* @__PURE__ */ __name((name) => getInput(name), "readInput"),
    setOutput: /* @__PURE__ */ __name((name, value) => setOutput(name, value), "setOutput"),
    setSecret: /* @__PURE__ */ __name((value) => setSecret(value), "setSecret"),
    saveState: /* @__PURE__ */ __name((name, value) => saveState(name, value), "saveState"),
    appendSummary: /* @__PURE__ */ __name(async (markdown) => {
      if (!process.env.GITHUB_STEP_SUMMARY) return;
      await summary.addRaw(markdown, true).write();
    }, "appendSummary"),
    log: coreLog,
    exec: execProcess,
    env: process.env,
    now: /* @__PURE__ */ __name(() => /* @__PURE__ */ new Date(), "now")
  };
}
__name(coreHost, "coreHost");
function failStep(error) {
  if (error instanceof Error) {
    if (error.stack) debug(error.stack);
    setFailed(error.message);
  } else {
    setFailed(String(error));
  }
}
__name(failStep, "failStep");

export {
  coreLog,
  coreHost,
  failStep
};
