// Download a WebMoE package from a base URL (the folder holding manifest.json) into a ShardStore.
//
//   lock (Web Lock per model) → fetch + validate manifest.json → skip files already complete
//   (record sha256 = manifest sha256) → quota check (refuse with the numbers before any write)
//   → persist() request (result recorded, never relied on) → store manifest.json + model record
//   → fetch the rest with bounded concurrency; each file: exact length, sha256, then put (bytes and
//   completion record in one write) → drop files the new manifest no longer lists.
//
// Resume: a reload or crash loses only the files in flight; the next run skips every file whose
// completion record matches the manifest. A failure aborts the files in flight and throws a typed
// error (src/store/errors.ts, IntegrityError); nothing unverified is ever marked complete.

import { IntegrityError } from '../format/errors.ts';
import { MANIFEST_FILE, parseManifest, type FileEntry, type Manifest } from '../format/manifest.ts';
import { sha256Hex } from '../format/sha256.ts';
import { DownloadAbortedError, DownloadHttpError, DownloadNetworkError, QuotaError, StorageFullError, TruncatedDownloadError } from './errors.ts';
import { fetchOk, fetchVerified, fileUrl, type FileSpec } from './fetch-file.ts';
import { withModelLock, type IfLocked } from './lock.ts';
import type { FileRecord, ShardStore } from './types.ts';

export interface DownloadProgress {
  modelId: string;
  phase: 'manifest' | 'downloading' | 'done';
  /** bytes of the model's files that are complete or arriving (files complete before this run included) */
  bytesDone: number;
  bytesTotal: number;
  /** bytes received over the network in this run */
  bytesFetched: number;
  /** over the last few seconds of this run */
  bytesPerSecond: number;
  /** null until a speed is known */
  etaSeconds: number | null;
  filesDone: number;
  filesTotal: number;
  /** the file whose bytes arrived last (null before the first) */
  currentFile: string | null;
  /** files being fetched right now */
  activeFiles: string[];
}

export interface DownloadOptions {
  /** id in the store (default: the last segment of the URL) */
  modelId?: string;
  /** parallel requests (default 4) */
  concurrency?: number;
  /** extra attempts per file after a network error, truncation, sha256 mismatch or HTTP 5xx (default 2) */
  retries?: number;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** another tab holds this model's lock: wait for it (default) or throw DownloadLockedError */
  ifLocked?: IfLocked;
  /** re-hash files already complete instead of trusting their records (default false) */
  verifyExisting?: boolean;
  /** ask for persistent storage (default true; the answer is only reported) */
  persist?: boolean;
}

export interface DownloadResult {
  modelId: string;
  manifest: Manifest;
  /** files fetched in this run */
  fetched: string[];
  /** files already complete, not fetched again */
  skipped: string[];
  bytesFetched: number;
  /** navigator.storage.persist() answer; null where there is no such API */
  persisted: boolean | null;
  seconds: number;
}

export const DEFAULT_CONCURRENCY = 4;

/** Default model id for a package URL: its last path segment. */
export function modelIdFromUrl(baseUrl: string): string {
  const u = new URL(baseUrl, (globalThis as { location?: Location }).location?.href ?? 'http://localhost/');
  const segs = u.pathname.split('/').filter(Boolean);
  if (segs.length === 0) throw new RangeError(`cannot derive a model id from ${baseUrl}: pass modelId`);
  return decodeURIComponent(segs[segs.length - 1]);
}

function retryable(e: unknown): boolean {
  if (e instanceof DownloadNetworkError || e instanceof TruncatedDownloadError || e instanceof IntegrityError) return true;
  return e instanceof DownloadHttpError && (e.status >= 500 || e.status === 429 || e.status === 408);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}

/** Bytes per second over a sliding window of (time, total) samples. */
class Speed {
  private samples: [number, number][] = [];
  constructor(private readonly windowMs = 3000) {}
  add(t: number, total: number): number {
    this.samples.push([t, total]);
    while (this.samples.length > 2 && t - this.samples[1][0] > this.windowMs) this.samples.shift();
    const [t0, b0] = this.samples[0];
    return t > t0 ? ((total - b0) * 1000) / (t - t0) : 0;
  }
}

async function requestPersist(): Promise<boolean | null> {
  const storage = (globalThis as { navigator?: Navigator }).navigator?.storage;
  if (!storage?.persist) return null;
  try {
    return await storage.persist();
  } catch {
    return null;
  }
}

/** Is `f` complete in the store with the manifest's content? */
async function isComplete(store: ShardStore, modelId: string, f: FileSpec, rec: FileRecord | undefined, rehash: boolean): Promise<boolean> {
  if (!rec || rec.bytes !== f.bytes) return false;
  if (rec.sha256 && !rehash) return rec.sha256 === f.sha256;
  const bytes = await store.get(modelId, f.path);
  return bytes !== null && (await sha256Hex(bytes)) === f.sha256;
}

/** Fetch and validate manifest.json; returns its text and parsed form. */
export async function fetchManifest(baseUrl: string, opts: Pick<DownloadOptions, 'fetch' | 'signal'> & { modelId?: string } = {}): Promise<{ text: string; manifest: Manifest }> {
  const url = fileUrl(baseUrl, MANIFEST_FILE);
  const resp = await fetchOk(url, opts);
  let text: string;
  try {
    text = await resp.text();
  } catch (e) {
    throw new DownloadNetworkError(url, 0, e);
  }
  return { text, manifest: parseManifest(text, url) };
}

export async function downloadModel(store: ShardStore, baseUrl: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const modelId = opts.modelId ?? modelIdFromUrl(baseUrl);
  return withModelLock(modelId, () => download(store, baseUrl, modelId, opts), opts.ifLocked ?? 'wait', opts.signal);
}

async function download(store: ShardStore, baseUrl: string, modelId: string, opts: DownloadOptions): Promise<DownloadResult> {
  const t0 = Date.now();
  const concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
  const retries = Math.max(0, opts.retries ?? 2);
  const files: FileEntry[] = [];
  const progress: DownloadProgress = {
    modelId,
    phase: 'manifest',
    bytesDone: 0,
    bytesTotal: 0,
    bytesFetched: 0,
    bytesPerSecond: 0,
    etaSeconds: null,
    filesDone: 0,
    filesTotal: 0,
    currentFile: null,
    activeFiles: [],
  };
  const emit = () => opts.onProgress?.({ ...progress, activeFiles: [...progress.activeFiles] });
  emit();

  // 1. manifest: fetched and schema-checked before anything is written
  const { text, manifest } = await fetchManifest(baseUrl, { ...opts, modelId });
  const manifestBytes = new TextEncoder().encode(text);
  const manifestSha = await sha256Hex(manifestBytes);
  files.push(...manifest.files);
  progress.filesTotal = files.length;
  progress.bytesTotal = files.reduce((a, f) => a + f.bytes, 0);

  // 2. what is already there
  const pending: FileEntry[] = [];
  const skipped: string[] = [];
  const records = new Map((await store.files(modelId)).map((r) => [r.path, r])); // one query, not one per file
  for (const f of files) {
    if (await isComplete(store, modelId, f, records.get(f.path), opts.verifyExisting ?? false)) {
      skipped.push(f.path);
      progress.bytesDone += f.bytes;
      progress.filesDone++;
    } else pending.push(f);
  }
  const storedManifest = records.get(MANIFEST_FILE);
  const manifestChanged = storedManifest?.sha256 !== manifestSha;

  // 3. quota: refuse before any write
  const needed = pending.reduce((a, f) => a + f.bytes, 0) + (manifestChanged ? manifestBytes.byteLength : 0);
  const est = needed > 0 ? await store.estimate() : null;
  if (est && needed > est.free) throw new QuotaError(modelId, needed, est.free, est.quota, est.usage);
  const persisted = opts.persist === false ? null : await requestPersist();

  // 4. manifest.json and the model record first: the registry can then show what is missing
  const putOrFull = async (path: string, bytes: Uint8Array, sha: string, remaining: number) => {
    try {
      await store.put(modelId, path, bytes, sha);
    } catch (e) {
      if (e instanceof StorageFullError) throw new StorageFullError(modelId, path, remaining);
      throw e;
    }
  };
  if (manifestChanged) await putOrFull(MANIFEST_FILE, manifestBytes, manifestSha, needed);
  await store.setModelRecord({ modelId, source: baseUrl, updatedAt: Date.now() });

  // 5. the files, `concurrency` at a time
  progress.phase = 'downloading';
  emit();
  const speed = new Speed();
  let lastEmit = 0;
  const tick = (force: boolean) => {
    const now = Date.now();
    if (!force && now - lastEmit < 50) return; // at most 20 events (and speed samples) a second
    lastEmit = now;
    progress.bytesPerSecond = speed.add(now, progress.bytesFetched);
    const left = progress.bytesTotal - progress.bytesDone;
    progress.etaSeconds = progress.bytesPerSecond > 0 ? left / progress.bytesPerSecond : left === 0 ? 0 : null;
    emit();
  };
  const inner = new AbortController();
  const onOuterAbort = () => inner.abort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const fetched: string[] = [];
  let remaining = pending.reduce((a, f) => a + f.bytes, 0);
  let firstError: unknown = null;
  let next = 0;

  const fetchOne = async (f: FileEntry): Promise<Uint8Array> => {
    const url = fileUrl(baseUrl, f.path);
    for (let attempt = 0; ; attempt++) {
      let got = 0;
      try {
        return await fetchVerified(url, f, {
          fetch: opts.fetch,
          signal: inner.signal,
          modelId,
          onBytes: (n) => {
            got += n;
            progress.bytesDone += n;
            progress.bytesFetched += n;
            progress.currentFile = f.path;
            tick(false);
          },
        });
      } catch (e) {
        progress.bytesDone -= got; // these bytes will come again (or never)
        if (attempt >= retries || !retryable(e) || inner.signal.aborted) throw e;
        await sleep(250 * 2 ** attempt, inner.signal);
      }
    }
  };

  const worker = async () => {
    while (firstError === null && next < pending.length) {
      const f = pending[next++];
      progress.activeFiles.push(f.path);
      try {
        const bytes = await fetchOne(f);
        await putOrFull(f.path, bytes, f.sha256, remaining);
        remaining -= f.bytes;
        fetched.push(f.path);
        progress.filesDone++;
        tick(true);
      } catch (e) {
        if (firstError === null) {
          firstError = e;
          inner.abort();
        }
      } finally {
        progress.activeFiles.splice(progress.activeFiles.indexOf(f.path), 1);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, pending.length) }, worker));
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
  if (firstError !== null) {
    if (opts.signal?.aborted) throw new DownloadAbortedError(modelId);
    // files that were in flight may have completed after the failed write: say what is left now
    if (firstError instanceof StorageFullError) throw new StorageFullError(modelId, firstError.path, remaining);
    throw firstError;
  }

  // 6. files an earlier version of the package had and this one does not
  const listed = new Set([MANIFEST_FILE, ...files.map((f) => f.path)]);
  for (const r of await store.files(modelId)) if (!listed.has(r.path)) await store.deleteFile(modelId, r.path);
  await store.setModelRecord({ modelId, source: baseUrl, updatedAt: Date.now() });

  progress.phase = 'done';
  progress.currentFile = null;
  tick(true);
  return { modelId, manifest, fetched, skipped, bytesFetched: progress.bytesFetched, persisted, seconds: (Date.now() - t0) / 1000 };
}

/**
 * Fetch one file again (a record found corrupt), verify it and replace it in the store.
 * `baseUrl` defaults to the URL the model was downloaded from; without one, `cause` is thrown.
 */
export async function refetchFile(
  store: ShardStore,
  modelId: string,
  spec: FileSpec,
  opts: { baseUrl?: string; fetch?: typeof fetch; signal?: AbortSignal; cause?: Error } = {},
): Promise<Uint8Array> {
  const base = opts.baseUrl ?? (await store.modelRecord(modelId))?.source;
  if (!base) throw opts.cause ?? new RangeError(`model "${modelId}" has no known source URL to re-fetch "${spec.path}" from`);
  const bytes = await fetchVerified(fileUrl(base, spec.path), spec, { fetch: opts.fetch, signal: opts.signal, modelId });
  await store.put(modelId, spec.path, bytes, spec.sha256);
  return bytes;
}
