import path from 'node:path';
import { digestOf } from '../registry/digest.js';
import { OCI_EMPTY_JSON, OCI_IMAGE_MANIFEST } from '../registry/media-types.js';
import {
  ANNOTATION_CREATED,
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  formatCreated,
  type SubjectDescriptor,
} from '../registry/referrer-manifest.js';
import type { AttachResult, ReferrerWriter } from '../registry/referrers.js';
import { SIGSTORE_BUNDLE_V03_MEDIA_TYPE } from '../sign/cosign-format.js';

import { DEPLOYMENT_MANIFEST_ARTIFACT_TYPE } from '../deployment/manifest.js';

export { DEPLOYMENT_MANIFEST_ARTIFACT_TYPE } from '../deployment/manifest.js';
const TITLE = 'org.opencontainers.image.title';

/**
 * The OCI artifact that carries the deployment manifest: its YAML as the first layer and, when the
 * release is signed, the Sigstore bundle that signs it as the second, both titled with their file
 * names; the subject is the release index, so the artifact is listed among the index's referrers.
 */
export function deploymentManifestArtifact(input: {
  subject: SubjectDescriptor;
  yaml: { name: string; body: Buffer };
  bundle?: { name: string; body: Buffer };
  created: Date | string;
}): Buffer {
  const layers = [
    {
      mediaType: 'application/yaml',
      digest: digestOf(input.yaml.body),
      size: input.yaml.body.length,
      annotations: { [TITLE]: input.yaml.name },
    },
    ...(input.bundle
      ? [
          {
            mediaType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
            digest: digestOf(input.bundle.body),
            size: input.bundle.body.length,
            annotations: { [TITLE]: input.bundle.name },
          },
        ]
      : []),
  ];
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_IMAGE_MANIFEST,
      artifactType: DEPLOYMENT_MANIFEST_ARTIFACT_TYPE,
      config: { mediaType: OCI_EMPTY_JSON, digest: EMPTY_JSON_DIGEST, size: EMPTY_JSON.length },
      layers,
      subject: input.subject,
      annotations: { [ANNOTATION_CREATED]: formatCreated(input.created) },
    }),
  );
}

/** Uploads the manifest (and its bundle) and attaches the artifact to the index. */
export async function pushDeploymentManifest(
  writer: ReferrerWriter,
  repositoryPath: string,
  subject: SubjectDescriptor,
  files: { yamlFile: string; yaml: Buffer; bundleFile?: string; bundle?: Buffer },
  created: Date,
): Promise<AttachResult> {
  const client = writer.client;
  await client.uploadBlob(repositoryPath, EMPTY_JSON, EMPTY_JSON_DIGEST);
  // A manifest is written anew for every publish (it carries its creation time); its bundle was
  // uploaded a moment ago as the signature's referrer, which the client remembers.
  await client.uploadBlob(repositoryPath, files.yaml, digestOf(files.yaml), { knownMissing: true });
  if (files.bundle) await client.uploadBlob(repositoryPath, files.bundle, digestOf(files.bundle));
  const manifest = deploymentManifestArtifact({
    subject,
    yaml: { name: path.basename(files.yamlFile), body: files.yaml },
    ...(files.bundle && files.bundleFile
      ? { bundle: { name: path.basename(files.bundleFile), body: files.bundle } }
      : {}),
    created,
  });
  return writer.attach(repositoryPath, subject, manifest);
}
