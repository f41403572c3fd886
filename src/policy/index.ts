/** The release gate: policy (defaults ← policy file ← inputs) and the verdict over every platform's Grype report. */
export {
  API_VERSION,
  CHECK_MODES,
  DEFAULT_RULES,
  FAIL_ON_VALUES,
  KIND,
  PolicyError,
  SEVERITY_KEYS,
  formatSize,
  loadPolicy,
  POLICY_INPUT_NAMES,
  normalisePlatform,
  parseSize,
  policyDigest,
  rulesFor,
} from './policy.js';
export type {
  CheckMode,
  EdgeRules,
  FailOn,
  Policy,
  PolicyInputs,
  Rules,
  SeverityKey,
  Waiver,
} from './policy.js';
export {
  evaluateGate,
  evaluatePlatform,
  explainGate,
  isRootUser,
  waiverEnd,
  waiverExpired,
} from './evaluate.js';
export type {
  EdgeFinding,
  Finding,
  GateVerdict,
  ImageFacts,
  PlatformVerdict,
  VexUse,
  WaiverUse,
} from './evaluate.js';
export { OPENVEX_CONTEXT, parseOpenVex, VexError } from './vex.js';
export { imagePurl, openVexDocument } from './vex-document.js';
export type { VexStatement } from './vex.js';
