import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import{s as o}from"./chunks/chunk-ZVFACVE7.js";import"./chunks/chunk-ANG3JRWV.js";o("Edgeship: multi-arch edge release");var[{coreHost:e,failStep:i},{runAction:r}]=await Promise.all([import("./chunks/core-host-BQKICTTY.js"),import("./chunks/run-YRWVPCPJ.js")]);await r(e()).catch(i);
