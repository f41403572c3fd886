import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import{a as r,c as i}from"./chunk-ANG3JRWV.js";var o=i((p,e)=>{e.exports=r("node:https")});export{o as a};
