import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import {
  coreHost,
  coreLog,
  failStep
} from "./chunk-NEK2EYXI.js";
import "./chunk-3IAMKPZV.js";
import "./chunk-LKZ75JD3.js";
import "./chunk-SNUNFU63.js";
export {
  coreHost,
  coreLog,
  failStep
};
