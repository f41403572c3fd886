/**
 * Reads back an SBOM syft wrote, to know it is complete and how many packages it lists.
 *
 * The count is the number of software packages found in the image, the same for every format syft
 * writes from one scan:
 * - SPDX JSON: `packages`, minus the package(s) the document DESCRIBES (syft 1.x adds a
 *   `SPDXRef-DocumentRoot-Image-…` package for the image itself).
 * - CycloneDX JSON: `components` (nested ones included), minus `operating-system` components (syft
 *   records the distro there); `metadata.component` is the image and is not in `components`.
 * - syft JSON: `artifacts`.
 */
import type { SbomFormat } from './syft.js';
import { isRecord } from '../validation/json.js';

export class SbomError extends Error {
  override name = 'SbomError';
}

const FORMAT_NAMES: Record<SbomFormat, string> = {
  'spdx-json': 'SPDX JSON',
  'cyclonedx-json': 'CycloneDX JSON',
  'syft-json': 'syft JSON',
};

type Json = Record<string, unknown>;

function parseDocument(text: string, what: string): Json {
  if (text.trim() === '') throw new SbomError(`${what} is empty; syft did not write it completely`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new SbomError(
      `${what} is not valid JSON (${(error as Error).message}); it is truncated or corrupted. Re-run the scan`,
    );
  }
  if (!isRecord(doc)) throw new SbomError(`${what} is JSON but not an SBOM document (not an object)`);
  return doc;
}

function formatOf(doc: Json): SbomFormat | undefined {
  if (typeof doc.spdxVersion === 'string' && doc.spdxVersion.startsWith('SPDX-')) return 'spdx-json';
  if (doc.bomFormat === 'CycloneDX') return 'cyclonedx-json';
  const descriptor = isRecord(doc.descriptor) ? doc.descriptor : undefined;
  const schema = isRecord(doc.schema) ? doc.schema : undefined;
  const syftish =
    descriptor?.name === 'syft' || (typeof schema?.url === 'string' && schema.url.includes('/syft/'));
  if (Array.isArray(doc.artifacts) && syftish) return 'syft-json';
  return undefined;
}

function requireArray(doc: Json, key: string, format: SbomFormat): unknown[] {
  const value = doc[key];
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new SbomError(`The ${FORMAT_NAMES[format]} SBOM has a "${key}" that is not an array`);
  }
  return value;
}

function spdxDescribedIds(doc: Json): Set<string> {
  const described = new Set<string>();
  const documentId = typeof doc.SPDXID === 'string' ? doc.SPDXID : 'SPDXRef-DOCUMENT';
  if (Array.isArray(doc.documentDescribes)) {
    for (const id of doc.documentDescribes) if (typeof id === 'string') described.add(id);
  }
  if (Array.isArray(doc.relationships)) {
    for (const rel of doc.relationships) {
      if (!isRecord(rel)) continue;
      if (
        rel.relationshipType === 'DESCRIBES' &&
        rel.spdxElementId === documentId &&
        typeof rel.relatedSpdxElement === 'string'
      ) {
        described.add(rel.relatedSpdxElement);
      } else if (
        rel.relationshipType === 'DESCRIBED_BY' &&
        rel.relatedSpdxElement === documentId &&
        typeof rel.spdxElementId === 'string'
      ) {
        described.add(rel.spdxElementId);
      }
    }
  }
  return described;
}

function countCycloneDxComponents(components: unknown[]): number {
  let count = 0;
  for (const component of components) {
    if (!isRecord(component))
      throw new SbomError('The CycloneDX JSON SBOM has a component that is not an object');
    if (component.type !== 'operating-system') count += 1;
    if (Array.isArray(component.components)) count += countCycloneDxComponents(component.components);
  }
  return count;
}

/** Number of packages the SBOM lists (see the module comment); throws on a wrong or broken document. */
export function countSbomPackages(text: string, format: SbomFormat): number {
  const doc = parseDocument(text, `The ${FORMAT_NAMES[format]} SBOM`);
  const actual = formatOf(doc);
  if (actual !== format) {
    throw new SbomError(
      `Expected an SBOM in ${FORMAT_NAMES[format]} but the document is ${actual ? FORMAT_NAMES[actual] : 'of no known SBOM format'}`,
    );
  }
  switch (format) {
    case 'spdx-json': {
      const packages = requireArray(doc, 'packages', format);
      const described = spdxDescribedIds(doc);
      return packages.filter(
        (pkg) => !(isRecord(pkg) && typeof pkg.SPDXID === 'string' && described.has(pkg.SPDXID)),
      ).length;
    }
    case 'cyclonedx-json':
      return countCycloneDxComponents(requireArray(doc, 'components', format));
    case 'syft-json':
      return requireArray(doc, 'artifacts', format).length;
  }
}
