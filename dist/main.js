import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);

// src/main.ts
process.stdout.write("Edgeship: multi-arch edge release\n");
var [{ coreHost, failStep }, { runAction }] = await Promise.all([
  import("./chunks/core-host-GGGIMHW5.js"),
  import("./chunks/run-HHA6S24B.js")
]);
await runAction(coreHost()).catch(failStep);
