import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import{c as a,d as b}from"./chunk-7MBFS7UJ.js";import"./chunk-KDV26MHA.js";import"./chunk-FFZJ2PEN.js";import"./chunk-GJGZMVRD.js";import"./chunk-5H37YJUS.js";import"./chunk-ANG3JRWV.js";export{a as context,b as getOctokit};
