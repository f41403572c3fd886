import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import{a,b,c}from"./chunk-HFEXJFF4.js";import"./chunk-C5QKQZUV.js";import"./chunk-O3XWBORJ.js";export{b as coreHost,a as coreLog,c as failStep};
