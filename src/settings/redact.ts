import type { Settings } from './settings.js';

/** Settings as they may be logged: every secret replaced by `***`, loaded material left out. */
export function redactSettings(settings: Settings): unknown {
  const hide = (value: unknown) => (value ? '***' : undefined);
  const { key, trustMaterial: _trust, expectedIdentity, ...publish } = settings.publish;
  const { gatePolicy: _policy, ...rest } = settings;
  return {
    ...rest,
    registryPassword: hide(settings.registryPassword),
    secrets: settings.secrets.map(([id]) => `${id}=***`),
    githubToken: hide(settings.githubToken),
    ...(settings.gitops ? { gitops: { ...settings.gitops, token: hide(settings.gitops.token) } } : {}),
    publish: {
      ...publish,
      signingKey: hide(settings.publish.signingKey),
      signingKeyPassword: hide(settings.publish.signingKeyPassword),
      ...(key ? { key: `${key.algorithm} key ${key.hint}` } : {}),
      ...(expectedIdentity ? { expectedIdentity: String(expectedIdentity) } : {}),
    },
    policy: { ...settings.policy, policyFile: settings.policy.policyFile?.path },
  };
}
