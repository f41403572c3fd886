import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import{c as a,d as b}from"./chunk-6GZOI3D2.js";import"./chunk-BHHYDMVY.js";import"./chunk-DBTQ5OPP.js";import"./chunk-ANG3JRWV.js";export{a as context,b as getOctokit};
