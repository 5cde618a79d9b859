// Test page for e2e/store.spec.ts: the real store modules, driven from Playwright through
// window.storeTest. Errors come back as plain objects ({name, code, message, ...fields}).

import { openPackage } from '../../src/format/package.ts';
import { sha256Hex } from '../../src/format/sha256.ts';
import {
  DEFAULT_DB_NAME,
  IdbShardStore,
  downloadModel,
  listModels,
  modelStatus,
  storeDir,
  verifyModel,
  type DownloadOptions,
  type DownloadProgress,
  type StoreDirOptions,
  type ValueKind,
} from '../../src/store/index.ts';

type Plain = Record<string, unknown>;

function plainError(e: unknown): Plain {
  const err = e as Error & Plain;
  const out: Plain = { name: err?.name, message: err?.message ?? String(e) };
  for (const [k, v] of Object.entries(err ?? {})) if (['string', 'number', 'boolean'].includes(typeof v)) out[k] = v;
  return out;
}

async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: Plain }> {
  try {
    return { ok: true, value: await p };
  } catch (e) {
    return { ok: false, error: plainError(e) };
  }
}

const store = new IdbShardStore();
let running: Promise<unknown> | null = null;
const progress: DownloadProgress[] = [];

function download(url: string, opts: Omit<DownloadOptions, 'onProgress' | 'fetch' | 'signal'> = {}) {
  progress.length = 0;
  return settle(
    downloadModel(store, url, { ...opts, onProgress: (p) => progress.push(p) }).then((r) => ({
      modelId: r.modelId,
      fetched: r.fetched,
      skipped: r.skipped,
      bytesFetched: r.bytesFetched,
      persisted: r.persisted,
      seconds: r.seconds,
    })),
  );
}

/** Read every dense tensor and expert blob through storeDir + the package reader. */
async function readPackage(modelId: string, dirOpts: StoreDirOptions = {}, verify = true) {
  return settle(
    (async () => {
      const pkg = await openPackage(storeDir(store, modelId, dirOpts), { verify });
      const m = pkg.manifest;
      for (const name of pkg.denseNames()) await pkg.dense(name);
      const experts: Record<string, string> = {};
      for (const x of m.experts) experts[x.file] = await sha256Hex(await pkg.expertBlob(x.layer, x.index));
      return { layers: m.spec.num_hidden_layers, experts };
    })(),
  );
}

/** Overwrite a file's bytes inside IndexedDB with the raw API (not through the store), one bit flipped. */
async function corrupt(modelId: string, path: string, byte: number): Promise<void> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const r = indexedDB.open(DEFAULT_DB_NAME);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const os = () => db.transaction('files', 'readwrite').objectStore('files');
  const key = [modelId, 'd', path];
  const value = await new Promise<Blob | ArrayBuffer>((resolve, reject) => {
    const r = os().get(key);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const bytes = new Uint8Array(value instanceof Blob ? await value.arrayBuffer() : value.slice(0));
  bytes[byte] ^= 0x40;
  await new Promise<void>((resolve, reject) => {
    const r = os().put(value instanceof Blob ? new Blob([bytes]) : bytes.buffer, key);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error);
  });
  db.close();
}

/** Write then read records of each size as Blob and as ArrayBuffer values; MB/s per case. */
async function bench(sizes: number[], bytesPerCase: number, rounds: number) {
  const rows: { kind: ValueKind; size: number; records: number; writeMBs: number; readMBs: number; readParallel4MBs: number; getMany4MBs: number }[] = [];
  const mbs = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
  for (let round = 0; round < rounds; round++)
    for (const size of sizes)
      for (const kind of (round % 2 ? ['arraybuffer', 'blob'] : ['blob', 'arraybuffer']) as ValueKind[]) {
        const s = new IdbShardStore({ dbName: `webmoe-bench-${kind}`, valueKind: kind });
        const n = Math.max(4, Math.floor(bytesPerCase / size));
        const data = Array.from({ length: n }, (_, i) => {
          const b = new Uint8Array(size);
          crypto.getRandomValues(b.subarray(0, Math.min(size, 65536)));
          b[0] = i;
          return b;
        });
        let t = performance.now();
        for (let i = 0; i < n; i++) await s.put('bench', `experts/L0-E${i}.bin`, data[i]);
        const write = performance.now() - t;
        t = performance.now();
        let check = 0;
        for (let i = 0; i < n; i++) check += (await s.get('bench', `experts/L0-E${i}.bin`))![0];
        const read = performance.now() - t;
        t = performance.now();
        for (let i = 0; i < n; i += 4)
          await Promise.all([0, 1, 2, 3].filter((k) => i + k < n).map((k) => s.get('bench', `experts/L0-E${i + k}.bin`)));
        const read4 = performance.now() - t;
        t = performance.now();
        for (let i = 0; i < n; i += 4) await s.getMany('bench', [0, 1, 2, 3].filter((k) => i + k < n).map((k) => `experts/L0-E${i + k}.bin`));
        const batch4 = performance.now() - t;
        if (check !== data.reduce((a, b) => a + b[0], 0)) throw new Error('bench read back wrong bytes');
        await s.deleteModel('bench');
        rows.push({ kind, size, records: n, writeMBs: mbs(n * size, write), readMBs: mbs(n * size, read), readParallel4MBs: mbs(n * size, read4), getMany4MBs: mbs(n * size, batch4) });
      }
  return rows;
}

/** Read `n` ranges of `range` bytes out of one `size`-byte record (a tensor out of a dense shard). */
async function benchRanges(size: number, range: number, n: number) {
  const out: { kind: ValueKind; size: number; range: number; readMBs: number }[] = [];
  for (const kind of ['blob', 'arraybuffer'] as ValueKind[]) {
    const s = new IdbShardStore({ dbName: `webmoe-bench-${kind}`, valueKind: kind });
    await s.put('bench', 'dense-00000.bin', new Uint8Array(size).fill(7));
    const t = performance.now();
    for (let i = 0; i < n; i++) await s.read('bench', 'dense-00000.bin', ((i * 7919 * range) % (size - range)) & ~255, range);
    out.push({ kind, size, range, readMBs: (n * range) / 1e6 / ((performance.now() - t) / 1000) });
    await s.deleteModel('bench');
  }
  return out;
}

const api = {
  download,
  /** start a download and return at once (the test kills the page under it) */
  start(url: string, opts: Omit<DownloadOptions, 'onProgress' | 'fetch' | 'signal'> = {}) {
    running = download(url, opts);
  },
  async wait() {
    return running;
  },
  progress: () => progress.map((p) => ({ ...p })),
  files: async (modelId: string) => (await store.files(modelId)).map((f) => f.path).sort(),
  models: () => store.models(),
  status: (modelId: string) => modelStatus(store, modelId),
  list: () => listModels(store),
  verify: (modelId: string, repair = false) => settle(verifyModel(store, modelId, { repair })),
  deleteModel: (modelId: string) => store.deleteModel(modelId),
  readPackage,
  corrupt,
  bench,
  benchRanges,
  estimate: () => navigator.storage.estimate(),
};

declare global {
  interface Window {
    storeTest: typeof api;
  }
}
window.storeTest = api;
document.title = 'store-ready';
