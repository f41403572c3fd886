import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import{w as o}from"./chunks/chunk-O3XWBORJ.js";o("Edgeship: multi-arch edge release");var[{coreHost:e,failStep:i},{runAction:r}]=await Promise.all([import("./chunks/core-host-HABQINLL.js"),import("./chunks/run-X3ZUOCFD.js")]);await r(e()).catch(i);
