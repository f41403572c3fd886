/**
 * Offline bundles, per platform: `full` (the whole image) and `delta` (only the blobs the channel
 * baseline lacks), each one compressed tar written in two frames. The first (the image) is written before
 * the deployment manifest, which pins its bytes and sha256; the second — the platform's signatures and
 * attestations, the signed manifest, the trusted root, the installer and a signed `SHA256SUMS` over every
 * file — once the manifest is signed. Then a bundle larger than `maxSize` is split into numbered parts.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PhaseLog } from '../logging/phase-log.js';
import { writeFrame } from './archive-writer.js';
import { imageFiles, signatureFiles, type BundleRegistry } from './collect.js';
import {
  bundleFileName,
  INSTALLER_FILE,
  memoryFile,
  readWhole,
  SUMS_BUNDLE_FILE,
  SUMS_FILE,
  sumsText,
  TRUSTED_ROOT_FILE,
  type BundleCompression,
  type BundleFile,
  type BundleKind,
} from './layout.js';

export type BundleMode = 'off' | 'full' | 'delta' | 'both';

export interface BundleImage {
  platform: string;
  digest: string;
  config: { os: string; architecture: string; variant?: string };
}

export interface BundleRequest {
  registry: BundleRegistry;
  /** The repository's path in the registry (`acme/agent`). */
  repository: string;
  /** `<image>:<version>`: the name loaders give the image. */
  reference: string;
  version: string;
  images: readonly BundleImage[];
  /** The channel baseline's version and its images' blobs, by platform (as readBaseline returns them). */
  baseline?: {
    version: string;
    layersByPlatform: ReadonlyMap<
      string,
      { digest: string; configDigest: string; layers: ReadonlyArray<{ digest: string }> }
    >;
  };
  mode: Exclude<BundleMode, 'off'>;
  compression: BundleCompression;
  /** Where bundles are written (reports-dir). */
  dir: string;
  log: PhaseLog;
}

/** A bundle whose image part is written: what the deployment manifest lists of it. */
export interface StartedBundle {
  platform: string;
  /** The platform image's digest. */
  digest: string;
  kind: BundleKind;
  file: string;
  compression: BundleCompression;
  /** Version and image digest of the baseline a delta is taken against. */
  baseline?: { version: string; digest: string };
  /** Bytes and sha256 of the first frame: the image (OCI layout + docker archive). */
  content: { bytes: number; sha256: string };
  /** Bytes of the image blobs inside. */
  imageBytes: number;
  sums: Array<{ path: string; sha256: string }>;
  /** The running sha256 of the file so far. */
  whole: Hash;
  /** The platform's signatures and attestations (files of the trailer), being read. */
  signatures: Promise<BundleFile[]>;
}

/** The listing of a bundle in the deployment manifest. */
export interface ListedBundle {
  kind: BundleKind;
  file: string;
  bytes: number;
  sha256: string;
  baseline?: string;
}

/** A finished bundle (the `offline-bundles` output). */
export interface OfflineBundle {
  platform: string;
  kind: BundleKind;
  file: string;
  /** The file itself, or its numbered parts when split. */
  files: Array<{ file: string; bytes: number; sha256: string }>;
  bytes: number;
  sha256: string;
  baseline?: string;
}

const platformOf = (image: BundleImage) => ({
  os: image.config.os,
  architecture: image.config.architecture,
  ...(image.config.variant ? { variant: image.config.variant } : {}),
});

/** Writes the image part of every bundle the mode asks for. */
export async function writeBundleImages(req: BundleRequest): Promise<StartedBundle[]> {
  const started: StartedBundle[] = [];
  for (const image of req.images) {
    // Read while the image part is written (the platform is signed already); they go into the trailer.
    const signatures = signaturesOf(req.registry, req.repository, image.digest);
    const previous = req.baseline?.layersByPlatform.get(image.platform);
    const kinds: BundleKind[] = req.mode === 'both' ? ['full', 'delta'] : [req.mode];
    for (const wanted of kinds) {
      let kind = wanted;
      if (kind === 'delta' && !previous) {
        req.log.info(`${image.platform}: no baseline image to take a delta from`);
        if (req.mode === 'both') continue;
        kind = 'full';
      }
      const skip = new Set(
        kind === 'delta' && previous ? [previous.configDigest, ...previous.layers.map((l) => l.digest)] : [],
      );
      const baseline =
        kind === 'delta' && previous && req.baseline
          ? { version: req.baseline.version, digest: previous.digest }
          : undefined;
      const name = bundleFileName(req.version, image.platform, kind, req.compression, baseline?.version);
      const file = path.join(req.dir, name);
      const handedOver = kind === 'full' ? await takeHandOver(file) : undefined;
      if (handedOver) {
        req.log.info(`${name}: the image part the build job wrote (${handedOver.content.bytes} bytes)`);
        started.push({
          platform: image.platform,
          digest: image.digest,
          kind,
          file,
          compression: req.compression,
          ...handedOver,
          signatures,
        });
        continue;
      }
      const content = await imageFiles(
        req.registry,
        req.repository,
        { digest: image.digest, platform: platformOf(image) },
        req.reference,
        skip,
      );
      const whole = createHash('sha256');
      const frame = await writeFrame(file, content.files, {
        compression: req.compression,
        append: false,
        end: false,
        whole,
      });
      req.log.info(
        `${name}: ${content.blobBytes} bytes of blobs` +
          (baseline ? ` (${content.skipped} blob(s) of ${baseline.version} left out)` : '') +
          `, ${frame.bytes} bytes compressed`,
      );
      started.push({
        platform: image.platform,
        digest: image.digest,
        kind,
        file,
        compression: req.compression,
        ...(baseline ? { baseline } : {}),
        content: { bytes: frame.bytes, sha256: frame.sha256 },
        imageBytes: content.blobBytes,
        sums: frame.files,
        whole,
        signatures,
      });
    }
  }
  return started;
}

/** What the deployment manifest lists of each platform's bundles. */
export function bundleListing(started: readonly StartedBundle[]): Map<string, ListedBundle[]> {
  const out = new Map<string, ListedBundle[]>();
  for (const b of started) {
    const list = out.get(b.platform) ?? [];
    list.push({
      kind: b.kind,
      file: path.basename(b.file),
      bytes: b.content.bytes,
      sha256: `sha256:${b.content.sha256}`,
      ...(b.baseline ? { baseline: b.baseline.version } : {}),
    });
    out.set(b.platform, list);
  }
  return out;
}

/** What goes into every bundle's second frame. */
export interface BundleTrailer {
  /** The signed deployment manifest file and its Sigstore bundle (when signed). */
  manifest: { name: string; body: Buffer };
  manifestBundle?: { name: string; body: Buffer };
  trustedRoot?: Buffer;
  installer: string;
  /** Signs a SHA256SUMS file (its sha256 hex) for a bundle; undefined when signing is off. */
  signSums?: (sha256: string, bundle: StartedBundle) => Promise<Buffer>;
  /** Split bundles larger than this into numbered parts. */
  maxSize?: number;
  log: PhaseLog;
}

/** Appends the trailer to every started bundle, then splits those too large; returns them all. */
export async function finishBundles(
  started: readonly StartedBundle[],
  trailer: BundleTrailer,
): Promise<OfflineBundle[]> {
  const done: OfflineBundle[] = [];
  for (const b of started) {
    const extra = [
      ...(await b.signatures),
      memoryFile(trailer.manifest.name, trailer.manifest.body),
      ...(trailer.manifestBundle
        ? [memoryFile(trailer.manifestBundle.name, trailer.manifestBundle.body)]
        : []),
      ...(trailer.trustedRoot ? [memoryFile(TRUSTED_ROOT_FILE, trailer.trustedRoot)] : []),
      memoryFile(INSTALLER_FILE, trailer.installer),
    ];
    const sums = sumsText([...b.sums, ...extra.map((f) => ({ path: f.path, sha256: f.sha256! }))]);
    const sumsFile = memoryFile(SUMS_FILE, sums);
    const signed = trailer.signSums ? await trailer.signSums(sumsFile.sha256!, b) : undefined;
    const trailerFrame = await writeFrame(
      b.file,
      [...extra, sumsFile, ...(signed ? [memoryFile(SUMS_BUNDLE_FILE, signed)] : [])],
      { compression: b.compression, append: true, end: true, whole: b.whole },
    );
    const whole = { bytes: b.content.bytes + trailerFrame.bytes, sha256: b.whole.digest('hex') };
    const files =
      trailer.maxSize && whole.bytes > trailer.maxSize
        ? await splitFile(b.file, trailer.maxSize)
        : [{ file: b.file, ...whole }];
    trailer.log.info(
      `${path.basename(b.file)}: ${whole.bytes} bytes, sha256:${whole.sha256}` +
        (files.length > 1 ? ` in ${files.length} parts of at most ${trailer.maxSize} bytes` : ''),
    );
    done.push({
      platform: b.platform,
      kind: b.kind,
      file: path.basename(b.file),
      files,
      bytes: whole.bytes,
      sha256: `sha256:${whole.sha256}`,
      ...(b.baseline ? { baseline: b.baseline.version } : {}),
    });
  }
  return done;
}

async function fileDigest(file: string, whole?: Hash): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    whole?.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** `<file>.001`, `.002`, …: `cat <file>.0* > <file>` joins them. The whole file is removed. */
export async function splitFile(
  file: string,
  maxSize: number,
): Promise<Array<{ file: string; bytes: number; sha256: string }>> {
  const { size } = await stat(file);
  const parts: Array<{ file: string; bytes: number; sha256: string }> = [];
  const input = await open(file, 'r');
  try {
    for (let offset = 0, n = 1; offset < size; offset += maxSize, n++) {
      const part = `${file}.${String(n).padStart(3, '0')}`;
      const out = await open(part, 'w');
      const hash = createHash('sha256');
      const buffer = Buffer.alloc(Math.min(maxSize, 8 * 1024 * 1024));
      let written = 0;
      try {
        while (written < Math.min(maxSize, size - offset)) {
          const want = Math.min(buffer.length, maxSize - written, size - offset - written);
          const { bytesRead } = await input.read(buffer, 0, want, offset + written);
          await out.write(buffer, 0, bytesRead);
          hash.update(buffer.subarray(0, bytesRead));
          written += bytesRead;
        }
      } finally {
        await out.close();
      }
      parts.push({ file: part, bytes: written, sha256: hash.digest('hex') });
    }
  } finally {
    await input.close();
  }
  await rm(file);
  return parts;
}

/** The suffixes of a build job's hand-over: the image part of the full bundle, and its sums. */
export const HAND_OVER_PART = '.image';
export const HAND_OVER_SUMS = '.image.sha256';

/**
 * Matrix build job: writes the image part of the platform's full bundle (`<bundle>.image`) and the sums of the
 * files in it (`<bundle>.image.sha256`) into `req.dir`, for the publish job to finish; returns their names.
 */
export async function writeHandOverPart(
  req: Omit<BundleRequest, 'images' | 'mode' | 'baseline'>,
  image: BundleImage,
): Promise<string[]> {
  const name = bundleFileName(req.version, image.platform, 'full', req.compression);
  const content = await imageFiles(
    req.registry,
    req.repository,
    { digest: image.digest, platform: platformOf(image) },
    req.reference,
  );
  const part = path.join(req.dir, `${name}${HAND_OVER_PART}`);
  const frame = await writeFrame(part, content.files, {
    compression: req.compression,
    append: false,
    end: false,
  });
  await writeFile(path.join(req.dir, `${name}${HAND_OVER_SUMS}`), sumsText(frame.files));
  req.log.info(`${name}: image part written for the publish job (${frame.bytes} bytes)`);
  return [`${name}${HAND_OVER_PART}`, `${name}${HAND_OVER_SUMS}`];
}

/** A build job's image part of `file`, taken over (renamed to `file`), with its bytes, sha256 and sums. */
async function takeHandOver(
  file: string,
): Promise<Pick<StartedBundle, 'content' | 'sums' | 'imageBytes' | 'whole'> | undefined> {
  let sums: string;
  try {
    sums = await readFile(`${file}${HAND_OVER_SUMS}`, 'utf8');
  } catch {
    return undefined;
  }
  await rename(`${file}${HAND_OVER_PART}`, file);
  await rm(`${file}${HAND_OVER_SUMS}`);
  const whole = createHash('sha256');
  const content = await fileDigest(file, whole);
  const lines = sums
    .trim()
    .split('\n')
    .map((line) => /^([a-f0-9]{64}) {2}(.+)$/.exec(line));
  if (lines.some((m) => !m)) throw new Error(`${file}${HAND_OVER_SUMS} is not a sha256sum listing`);
  return {
    content,
    sums: lines.map((m) => ({ path: m![2]!, sha256: m![1]! })),
    imageBytes: content.bytes,
    whole,
  };
}

/** A platform's signature files, read into memory (they are small); a failure surfaces when awaited. */
function signaturesOf(registry: BundleRegistry, repository: string, digest: string): Promise<BundleFile[]> {
  const reading = signatureFiles(registry, repository, digest).then((files) =>
    Promise.all(files.map(async (f) => memoryFile(f.path, await readWhole(f)))),
  );
  reading.catch(() => undefined);
  return reading;
}
