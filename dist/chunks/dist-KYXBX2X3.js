import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import{c as a}from"./chunk-IH6NZPNE.js";import"./chunk-ANG3JRWV.js";export default a();
