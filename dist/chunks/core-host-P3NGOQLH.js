import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import{a,b,c}from"./chunk-OGVIWMUY.js";import"./chunk-ZSYJ5Q4M.js";import"./chunk-QRAD2DLZ.js";import"./chunk-BHHYDMVY.js";import"./chunk-DBTQ5OPP.js";import"./chunk-ANG3JRWV.js";export{b as coreHost,a as coreLog,c as failStep};
