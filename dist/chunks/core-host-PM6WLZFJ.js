import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import{a,b,c}from"./chunk-SJIAJXNE.js";import"./chunk-6QBEVA5E.js";import"./chunk-3Q45KBCZ.js";import"./chunk-63NZGHRH.js";export{b as coreHost,a as coreLog,c as failStep};
