import{createRequire as __edgeshipRequire}from'node:module';const require=__edgeshipRequire(import.meta.url);
import {
  require_dist
} from "./chunk-3PTPRGRW.js";
import "./chunk-SNUNFU63.js";
export default require_dist();
