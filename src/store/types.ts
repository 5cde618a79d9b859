// ShardStore: where a model's package files live once downloaded (or converted). Keys are a model
// id plus the file's path relative to the package root, exactly as manifest.json names them:
// `manifest.json`, `dense-00000.bin`, `experts/L{l}-E{e}.bin`, `tokenizer.json`, ...
//
// Completion contract (both implementations): `put` stores a file's bytes and its completion
// record together (one IndexedDB transaction; a rename then an append in Node), so a file is
// either complete with the bytes that were verified, or absent. A crash between steps leaves at
// most bytes without a record, which every reader treats as absent. Callers verify sha256 BEFORE
// `put`; the store records the hash so a later reader can re-verify on demand.
//
// Implementations: IdbShardStore (src/store/idb.ts, browser) and NodeShardStore
// (src/store/node-store.ts, a directory of package directories). storeDir (src/store/dir.ts)
// adapts either to the DirSource the package reader uses.

/** One complete file of a model. */
export interface FileRecord {
  path: string;
  bytes: number;
  /** lowercase hex sha256 of the bytes as verified before `put`; absent for files the store did not write */
  sha256?: string;
}

/** Per-model bookkeeping that is not a package file. */
export interface ModelRecord {
  modelId: string;
  /** base URL the package was downloaded from (enables automatic re-fetch of a corrupt file) */
  source?: string;
  /** ms since epoch of the last write */
  updatedAt: number;
}

/** Free space as the store sees it (navigator.storage.estimate in the browser, statfs in Node). */
export interface SpaceEstimate {
  /** bytes that can still be written */
  free: number;
  quota?: number;
  usage?: number;
}

export interface ShardStore {
  /** for error messages: `indexeddb:<db>` or the root directory */
  readonly name: string;

  /** Whole file, or null when the file is not complete in the store. */
  get(modelId: string, path: string): Promise<Uint8Array | null>;
  /** Several whole files of one model (one IndexedDB transaction); null for each one not complete. */
  getMany(modelId: string, paths: string[]): Promise<(Uint8Array | null)[]>;
  /** `length` bytes at `offset` of a complete file (no full read where the backend allows it). */
  read(modelId: string, path: string, offset: number, length: number): Promise<Uint8Array>;
  /** Store a verified file and its completion record atomically; replaces an earlier version. */
  put(modelId: string, path: string, bytes: Uint8Array, sha256?: string): Promise<void>;
  /** Completion record of a file, or null. */
  stat(modelId: string, path: string): Promise<FileRecord | null>;
  has(modelId: string, path: string): Promise<boolean>;
  /** Every complete file of a model. */
  files(modelId: string): Promise<FileRecord[]>;
  /** Remove one file (its record first, then its bytes). */
  deleteFile(modelId: string, path: string): Promise<void>;
  /** Remove a model entirely. */
  deleteModel(modelId: string): Promise<void>;
  /** Ids of every model with at least a model record or one file. */
  models(): Promise<string[]>;
  modelRecord(modelId: string): Promise<ModelRecord | null>;
  setModelRecord(record: ModelRecord): Promise<void>;
  /** null when the backend cannot tell */
  estimate(): Promise<SpaceEstimate | null>;
}

/** Ids become IndexedDB keys and (percent-encoded) directory names: keep them plain. */
export function checkModelId(modelId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@+-]*(\/[A-Za-z0-9._@+-]+)*$/.test(modelId) || modelId.split('/').includes('..'))
    throw new RangeError(`model id "${modelId}" must be letters, digits and . _ @ + - (optionally org/name)`);
  return modelId;
}

/** Paths are package-relative, '/'-separated, never escaping the package. */
export function checkPath(path: string): string {
  if (!path || path.startsWith('/') || path.includes('\\') || path.split('/').some((s) => s === '' || s === '.' || s === '..'))
    throw new RangeError(`file path "${path}" must be relative to the package root ('/'-separated, no '..')`);
  return path;
}
