// The layers of src/: each folder and the folders it may import. Layers point down only (the action → its stages →
// settings and the domain → registry, processes and validation), so this table has no cycle; a unit test checks
// that, and that the README's map of src/ says the same. `.` is src/ itself (main.ts, post.ts). A new import across
// folders is a decision: add it here (and to the README map) or put the code where it belongs.
export const LAYERS = {
  '.': ['action', 'stages', 'runner', 'process'],
  action: ['stages', 'settings', 'runner', 'release', 'image'],
  stages: [
    ...['publish', 'lifecycle', 'records', 'summary', 'settings', 'builders', 'scan', 'policy', 'tools'],
    ...['release', 'image', 'registry', 'runner', 'logging', 'process', 'provenance', 'github', 'gitops'],
  ],
  summary: ['publish', 'policy', 'scan', 'release', 'image'],
  publish: [
    ...['settings', 'lifecycle', 'deployment', 'sign', 'github', 'policy', 'scan', 'release', 'image'],
    ...['registry', 'logging', 'provenance', 'bundles'],
  ],
  bundles: ['deployment', 'image', 'registry', 'logging'],
  lifecycle: ['deployment', 'sign', 'scan', 'policy', 'release', 'image', 'registry', 'logging'],
  records: ['settings', 'scan', 'image', 'registry', 'provenance'],
  settings: ['policy', 'scan', 'sign', 'tools', 'image', 'registry', 'runner'],
  deployment: ['policy', 'scan', 'release', 'image', 'registry', 'logging', 'validation'],
  policy: ['scan', 'image', 'validation'],
  builders: ['image', 'registry', 'runner', 'logging', 'process', 'validation'],
  scan: ['tools', 'image', 'logging', 'process', 'validation'],
  provenance: ['registry'],
  sign: ['registry', 'validation'],
  gitops: ['deployment', 'github', 'logging', 'process'],
  github: ['process', 'validation'],
  tools: [],
  runner: ['release', 'logging', 'process'],
  release: ['registry'],
  image: ['registry'],
  registry: ['process', 'validation'],
  logging: [],
  process: [],
  validation: [],
};
