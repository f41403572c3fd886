/** What the `post` step must undo, saved as the main step goes so a failure midway still cleans up. */
export interface CleanupState {
  /** A buildx builder created for this run. */
  buildxBuilder?: string;
  /** A registry `docker login` was done for. */
  dockerLogout?: string;
  /** Local images buildah built for this run. */
  buildahImages: string[];
  /** Temporary files and directories (auth files, layouts) to delete. */
  paths: string[];
}

export const CLEANUP_STATE_KEY = 'edgeship-cleanup';

export function emptyCleanupState(): CleanupState {
  return { buildahImages: [], paths: [] };
}

export function parseCleanupState(text: string): CleanupState {
  if (!text) return emptyCleanupState();
  try {
    const doc = JSON.parse(text) as Partial<CleanupState>;
    return {
      ...(typeof doc.buildxBuilder === 'string' ? { buildxBuilder: doc.buildxBuilder } : {}),
      ...(typeof doc.dockerLogout === 'string' ? { dockerLogout: doc.dockerLogout } : {}),
      buildahImages: Array.isArray(doc.buildahImages)
        ? doc.buildahImages.filter((x) => typeof x === 'string')
        : [],
      paths: Array.isArray(doc.paths) ? doc.paths.filter((x) => typeof x === 'string') : [],
    };
  } catch {
    return emptyCleanupState();
  }
}

/** Records cleanup work; `persist` is called after every change. */
export class CleanupRecorder {
  readonly state: CleanupState = emptyCleanupState();
  constructor(private readonly persist: (serialized: string) => void) {}

  record(change: (state: CleanupState) => void): void {
    change(this.state);
    this.persist(JSON.stringify(this.state));
  }
}
