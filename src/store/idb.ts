// ShardStore on IndexedDB, through idb-keyval: one object store, one record per package file
// (so one per expert blob), plus a small completion record per file and one record per model.
//
// Keys (IndexedDB array keys; numbers sort before strings, so model records form their own range):
//   [modelId, 'd', path]  file bytes: a Blob (default) or an ArrayBuffer
//   [modelId, 'm', path]  completion record {path, bytes, sha256, kind}
//   [0, modelId]          ModelRecord
// A file's bytes and its completion record are written in one transaction (setMany), so a crash
// never leaves a record without its bytes. Readers look at the record first: bytes without one
// are treated as absent.
//
// Blob vs ArrayBuffer values (e2e/store.spec.ts prints the table; Chromium 156 here, a shared
// 2-core machine at load 4-7, so ±30% noise; median MB/s of get + blob.arrayBuffer()):
//   64 KiB records   Blob 20-25   ArrayBuffer 16-20   (per-transaction cost dominates: ~3 ms each)
//   1 MiB            Blob 150-200 ArrayBuffer 160-220
//   4 MiB            Blob 300-440 ArrayBuffer 230-370
//   1 MiB ranges of a 64 MiB record: Blob 75-100, ArrayBuffer 5-8 (the whole value is loaded)
// Whole-record reads are a tie within noise (Blob ahead at 4 MiB); ranged reads decide it: a Blob
// is sliced, so reading one tensor out of a dense shard does not load the shard. Blob is the
// default; both kinds are readable whatever the store writes.

import { createStore, delMany, get, getMany, promisifyRequest, setMany, type UseStore } from 'idb-keyval';
import { StorageFullError, StoreFileMissingError } from './errors.ts';
import { checkModelId, checkPath, type FileRecord, type ModelRecord, type ShardStore, type SpaceEstimate } from './types.ts';

export type ValueKind = 'blob' | 'arraybuffer';

/** What the store writes unless told otherwise (see the measurement note above). */
export const DEFAULT_VALUE_KIND: ValueKind = 'blob';
export const DEFAULT_DB_NAME = 'webmoe-models';
const STORE_NAME = 'files';

interface MetaValue extends FileRecord {
  kind: ValueKind;
}

export interface IdbStoreOptions {
  /** IndexedDB database name (default 'webmoe-models') */
  dbName?: string;
  /** value type for new records (default DEFAULT_VALUE_KIND) */
  valueKind?: ValueKind;
  /** inject an idb-keyval store (tests) */
  store?: UseStore;
}

const dataKey = (id: string, path: string) => [id, 'd', path];
const metaKey = (id: string, path: string) => [id, 'm', path];
const modelKey = (id: string) => [0, id];

/** The FileRecord part of a completion record (no `kind`). */
const fileRecord = (m: MetaValue): FileRecord => ({ path: m.path, bytes: m.bytes, ...(m.sha256 ? { sha256: m.sha256 } : {}) });

function isQuotaError(e: unknown): boolean {
  const name = (e as { name?: string } | null)?.name;
  return name === 'QuotaExceededError' || (name === 'AbortError' && /quota/i.test(String((e as Error).message)));
}

export class IdbShardStore implements ShardStore {
  readonly name: string;
  readonly valueKind: ValueKind;
  private readonly db: UseStore;

  constructor(opts: IdbStoreOptions = {}) {
    const dbName = opts.dbName ?? DEFAULT_DB_NAME;
    this.name = `indexeddb:${dbName}`;
    this.valueKind = opts.valueKind ?? DEFAULT_VALUE_KIND;
    this.db = opts.store ?? createStore(dbName, STORE_NAME);
  }

  async get(modelId: string, path: string): Promise<Uint8Array | null> {
    const [meta, value] = await getMany([metaKey(modelId, path), dataKey(modelId, path)], this.db);
    if (!meta || value === undefined) return null;
    return this.bytesOf(modelId, path, value as Blob | ArrayBuffer);
  }

  async getMany(modelId: string, paths: string[]): Promise<(Uint8Array | null)[]> {
    const keys = paths.flatMap((p) => [metaKey(modelId, p), dataKey(modelId, p)]);
    const values = await getMany(keys, this.db);
    return Promise.all(
      paths.map((p, i) => (values[2 * i] && values[2 * i + 1] !== undefined ? this.bytesOf(modelId, p, values[2 * i + 1] as Blob | ArrayBuffer) : null)),
    );
  }

  async read(modelId: string, path: string, offset: number, length: number): Promise<Uint8Array> {
    const [meta, value] = (await getMany([metaKey(modelId, path), dataKey(modelId, path)], this.db)) as [MetaValue | undefined, Blob | ArrayBuffer | undefined];
    if (!meta || value === undefined) throw new StoreFileMissingError(this.name, modelId, path);
    if (offset < 0 || length < 0 || offset + length > meta.bytes)
      throw new RangeError(`${this.name}: read [${offset}, ${offset + length}) past the end of "${path}" (${meta.bytes} bytes)`);
    if (value instanceof ArrayBuffer) return new Uint8Array(value, offset, length);
    return this.bytesOf(modelId, path, value.slice(offset, offset + length));
  }

  private async bytesOf(modelId: string, path: string, value: Blob | ArrayBuffer): Promise<Uint8Array> {
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    try {
      return new Uint8Array(await value.arrayBuffer());
    } catch (e) {
      // The blob's backing file vanished (record deleted or overwritten meanwhile, profile damage).
      if ((e as Error).name === 'NotReadableError' || (e as Error).name === 'NotFoundError') throw new StoreFileMissingError(this.name, modelId, path);
      throw e;
    }
  }

  async put(modelId: string, path: string, bytes: Uint8Array, sha256?: string): Promise<void> {
    checkModelId(modelId);
    checkPath(path);
    // IndexedDB clones the value at put time; an ArrayBuffer value must be exactly the file's bytes.
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    const value: Blob | ArrayBuffer =
      this.valueKind === 'blob' ? new Blob([bytes as Uint8Array<ArrayBuffer>]) : ((whole ? bytes.buffer : bytes.slice().buffer) as ArrayBuffer);
    const meta: MetaValue = { path, bytes: bytes.byteLength, kind: this.valueKind, ...(sha256 ? { sha256 } : {}) };
    try {
      await setMany([[dataKey(modelId, path), value], [metaKey(modelId, path), meta]], this.db);
    } catch (e) {
      if (isQuotaError(e)) throw new StorageFullError(modelId, path, bytes.byteLength);
      throw e;
    }
  }

  async stat(modelId: string, path: string): Promise<FileRecord | null> {
    const m = (await get(metaKey(modelId, path), this.db)) as MetaValue | undefined;
    return m ? fileRecord(m) : null;
  }

  async has(modelId: string, path: string): Promise<boolean> {
    return (await this.stat(modelId, path)) !== null;
  }

  async files(modelId: string): Promise<FileRecord[]> {
    const range = IDBKeyRange.bound([modelId, 'm'], [modelId, 'm', []]);
    const metas = (await this.db('readonly', (s) => promisifyRequest(s.getAll(range)))) as MetaValue[];
    return metas.map(fileRecord);
  }

  async deleteFile(modelId: string, path: string): Promise<void> {
    await delMany([metaKey(modelId, path), dataKey(modelId, path)], this.db);
  }

  async deleteModel(modelId: string): Promise<void> {
    // One transaction: records, bytes and the model record go together.
    await this.db('readwrite', (s) => {
      s.delete(IDBKeyRange.bound([modelId], [modelId, []]));
      s.delete(modelKey(modelId));
      return promisifyRequest(s.transaction);
    });
  }

  async models(): Promise<string[]> {
    const ids = new Set<string>();
    const recs = (await this.db('readonly', (s) => promisifyRequest(s.getAll(IDBKeyRange.bound([0], [0, []]))))) as ModelRecord[];
    for (const r of recs) ids.add(r.modelId);
    // Files without a model record (written by another tool): walk the meta keys, one per model.
    await this.db('readonly', (s) => {
      const req = s.openKeyCursor(IDBKeyRange.lowerBound([''])); // string-keyed part: files only
      return new Promise<void>((resolve, reject) => {
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const c = req.result;
          if (!c) return resolve();
          const id = (c.key as [string])[0];
          ids.add(id);
          c.continue([id, []]); // skip to the next model id
        };
      });
    });
    return [...ids].sort();
  }

  async modelRecord(modelId: string): Promise<ModelRecord | null> {
    return ((await get(modelKey(modelId), this.db)) as ModelRecord | undefined) ?? null;
  }

  async setModelRecord(record: ModelRecord): Promise<void> {
    checkModelId(record.modelId);
    await setMany([[modelKey(record.modelId), record]], this.db);
  }

  async estimate(): Promise<SpaceEstimate | null> {
    const storage = (globalThis as { navigator?: Navigator }).navigator?.storage;
    if (!storage?.estimate) return null;
    const { quota, usage } = await storage.estimate();
    if (quota === undefined) return null;
    return { free: Math.max(0, quota - (usage ?? 0)), quota, usage: usage ?? 0 };
  }
}
