// Model registry over a ShardStore: which models are cached, how big, whether complete; delete
// one; verify every file (optionally re-fetching corrupt ones). Completeness is judged against the
// manifest.json stored with the model: every file it lists must have a completion record with the
// manifest's size (and sha256, where the store recorded one).

import { IntegrityError } from '../format/errors.ts';
import { MANIFEST_FILE, parseManifest, type FileEntry } from '../format/manifest.ts';
import { sha256Hex } from '../format/sha256.ts';
import { refetchFile } from './download.ts';
import { ModelIncompleteError } from './errors.ts';
import { withModelLock, type IfLocked } from './lock.ts';
import type { FileRecord, ShardStore } from './types.ts';

export interface ModelStatus {
  modelId: string;
  /** URL the model was downloaded from, if any */
  source?: string;
  updatedAt?: number;
  /** bytes and files in the store (manifest.json included) */
  bytesStored: number;
  filesStored: number;
  /** from the stored manifest (its `files`); null when there is no valid manifest */
  bytesTotal: number | null;
  filesTotal: number | null;
  complete: boolean;
  /** manifest files without a matching completion record */
  missing: string[];
  missingBytes: number;
}

async function manifestFiles(store: ShardStore, modelId: string): Promise<FileEntry[] | null> {
  const bytes = await store.get(modelId, MANIFEST_FILE);
  if (!bytes) return null;
  try {
    return parseManifest(new TextDecoder().decode(bytes), `${store.name}/${modelId}/${MANIFEST_FILE}`).files;
  } catch {
    return null;
  }
}

export async function modelStatus(store: ShardStore, modelId: string): Promise<ModelStatus> {
  const [records, rec, files] = await Promise.all([store.files(modelId), store.modelRecord(modelId), manifestFiles(store, modelId)]);
  const byPath = new Map<string, FileRecord>(records.map((r) => [r.path, r]));
  const missing = (files ?? []).filter((f) => {
    const r = byPath.get(f.path);
    return !r || r.bytes !== f.bytes || (r.sha256 !== undefined && r.sha256 !== f.sha256);
  });
  return {
    modelId,
    ...(rec?.source ? { source: rec.source } : {}),
    ...(rec ? { updatedAt: rec.updatedAt } : {}),
    bytesStored: records.reduce((a, r) => a + r.bytes, 0),
    filesStored: records.length,
    bytesTotal: files ? files.reduce((a, f) => a + f.bytes, 0) : null,
    filesTotal: files ? files.length : null,
    complete: files !== null && missing.length === 0,
    missing: missing.map((f) => f.path),
    missingBytes: missing.reduce((a, f) => a + f.bytes, 0),
  };
}

export async function listModels(store: ShardStore): Promise<ModelStatus[]> {
  return Promise.all((await store.models()).map((id) => modelStatus(store, id)));
}

/** Throws ModelIncompleteError unless every manifest file is complete. */
export async function assertComplete(store: ShardStore, modelId: string): Promise<ModelStatus> {
  const s = await modelStatus(store, modelId);
  if (!s.complete) throw new ModelIncompleteError(modelId, s.bytesTotal === null ? [MANIFEST_FILE] : s.missing, s.missingBytes);
  return s;
}

/** Delete a model, waiting for (or, with ifLocked 'fail', refusing during) a download of it in any tab. */
export async function deleteModel(store: ShardStore, modelId: string, ifLocked: IfLocked = 'wait'): Promise<void> {
  await withModelLock(modelId, () => store.deleteModel(modelId), ifLocked);
}

export interface VerifyReport {
  checked: number;
  /** files whose bytes did not match the manifest sha256 */
  corrupt: string[];
  /** manifest files absent from the store */
  missing: string[];
  /** corrupt or missing files fetched again (with `repair`) */
  repaired: string[];
}

/**
 * Re-hash every file of a model against its manifest. With `repair` (true = the recorded source
 * URL, or a base URL), corrupt and missing files are fetched again; otherwise they are reported.
 */
export async function verifyModel(
  store: ShardStore,
  modelId: string,
  opts: { repair?: boolean | string; fetch?: typeof fetch; onFile?: (path: string, done: number, total: number) => void } = {},
): Promise<VerifyReport> {
  const files = await manifestFiles(store, modelId);
  if (!files) throw new ModelIncompleteError(modelId, [MANIFEST_FILE], 0);
  const report: VerifyReport = { checked: 0, corrupt: [], missing: [], repaired: [] };
  for (const f of files) {
    const bytes = await store.get(modelId, f.path);
    const bad = bytes === null ? 'missing' : bytes.byteLength !== f.bytes || (await sha256Hex(bytes)) !== f.sha256 ? 'corrupt' : null;
    report.checked++;
    if (bad) {
      report[bad].push(f.path);
      if (opts.repair) {
        const cause = new IntegrityError(`${store.name}/${modelId}/${f.path}`, f.sha256, bad);
        await refetchFile(store, modelId, f, { baseUrl: typeof opts.repair === 'string' ? opts.repair : undefined, fetch: opts.fetch, cause });
        report.repaired.push(f.path);
      }
    }
    opts.onFile?.(f.path, report.checked, files.length);
  }
  return report;
}
