import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import{h as o}from"./chunks/chunk-6QBEVA5E.js";import"./chunks/chunk-63NZGHRH.js";o("Edgeship: multi-arch edge release");var[{coreHost:e,failStep:i},{runAction:r}]=await Promise.all([import("./chunks/core-host-PM6WLZFJ.js"),import("./chunks/run-CSBTKI74.js")]);await r(e()).catch(i);
