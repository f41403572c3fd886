import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import{a,b,c}from"./chunk-X5OIH75Y.js";import"./chunk-ZSYJ5Q4M.js";import"./chunk-FRIYNB3E.js";import"./chunk-KDV26MHA.js";import"./chunk-FFZJ2PEN.js";import"./chunk-GJGZMVRD.js";import"./chunk-5H37YJUS.js";import"./chunk-ANG3JRWV.js";export{b as coreHost,a as coreLog,c as failStep};
