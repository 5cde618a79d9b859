// The model store for browser code (no node: imports). Node code adds src/store/node-store.ts.

export type { FileRecord, ModelRecord, ShardStore, SpaceEstimate } from './types.ts';
export { IdbShardStore, DEFAULT_VALUE_KIND, DEFAULT_DB_NAME, type IdbStoreOptions, type ValueKind } from './idb.ts';
export { storeDir, type StoreDirOptions } from './dir.ts';
export { downloadModel, fetchManifest, modelIdFromUrl, refetchFile, DEFAULT_CONCURRENCY, type DownloadOptions, type DownloadProgress, type DownloadResult } from './download.ts';
export { fetchVerified, fileUrl, type FileSpec } from './fetch-file.ts';
export { assertComplete, deleteModel, listModels, modelStatus, verifyModel, type ModelStatus, type VerifyReport } from './registry.ts';
export { withModelLock, lockName } from './lock.ts';
export * from './errors.ts';
