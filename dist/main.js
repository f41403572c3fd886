import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
process.stdout.write(`Edgeship: multi-arch edge release
`);var[{coreHost:t,failStep:e},{runAction:i}]=await Promise.all([import("./chunks/core-host-JK2R5L5A.js"),import("./chunks/run-RJ7FMP2W.js")]);await i(t()).catch(e);
