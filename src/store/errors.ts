// Typed errors of the model store and the downloader. Each message carries the numbers and says
// what to do next; `code` is stable for the CLI's JSON output. Integrity failures reuse
// IntegrityError from src/format/errors.ts.

import { WebMoeError } from '../format/errors.ts';

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let x = n;
  while (Math.abs(x) >= 1000 && i < u.length - 1) {
    x /= 1000;
    i++;
  }
  return `${i === 0 ? x : x.toFixed(x < 10 ? 2 : 1)} ${u[i]}`;
}

/** The up-front quota check refused a download: nothing was written. */
export class QuotaError extends WebMoeError {
  constructor(
    readonly modelId: string,
    readonly needed: number,
    readonly free: number,
    readonly quota?: number,
    readonly usage?: number,
  ) {
    super(
      'storage_quota',
      `model "${modelId}" needs ${formatBytes(needed)} (${needed} bytes) more storage but only ${formatBytes(free)} (${free} bytes) is free` +
        (quota !== undefined ? ` (quota ${formatBytes(quota)}, used ${formatBytes(usage ?? quota - free)})` : '') +
        `. Nothing was written. Delete cached models you no longer need, or free disk space, then retry.`,
    );
  }
}

/** A write failed because storage ran out mid-download (QuotaExceededError / ENOSPC). */
export class StorageFullError extends WebMoeError {
  constructor(
    readonly modelId: string,
    readonly path: string,
    /** bytes still to be written to complete the model (at least the failed file) */
    readonly needed: number,
  ) {
    super(
      'storage_full',
      `storage is full: writing "${path}" of model "${modelId}" failed, ${formatBytes(needed)} (${needed} bytes) more are needed to complete it. ` +
        `Files already verified are kept; free ${formatBytes(needed)} (delete cached models or other site data) and run the download again to resume.`,
    );
  }
}

/** The server answered with fewer (or more) bytes than the manifest records. */
export class TruncatedDownloadError extends WebMoeError {
  constructor(
    readonly url: string,
    readonly received: number,
    readonly expected: number,
  ) {
    super(
      'download_truncated',
      `${url}: received ${received} bytes, the manifest records ${expected}` +
        `${received < expected ? ' (connection cut short)' : ' (file on the server differs from its manifest)'}. ` +
        `Run the download again: completed files are kept and only the rest is fetched.`,
    );
  }
}

/** An HTTP status other than 200. */
export class DownloadHttpError extends WebMoeError {
  constructor(
    readonly url: string,
    readonly status: number,
    statusText: string,
  ) {
    super(
      'download_http',
      `${url}: HTTP ${status}${statusText ? ` ${statusText}` : ''}. ` +
        (status === 404 ? 'Check the model URL (it must point at the folder that holds manifest.json).' : 'Retry later; completed files are kept.'),
    );
  }
}

/** The connection failed (network error, reset mid-body). */
export class DownloadNetworkError extends WebMoeError {
  constructor(
    readonly url: string,
    readonly received: number,
    cause: unknown,
  ) {
    super(
      'download_network',
      `${url}: network error after ${received} bytes (${cause instanceof Error ? cause.message : String(cause)}). ` +
        `Check the connection and run the download again: completed files are kept and only the rest is fetched.`,
    );
  }
}

/** The caller aborted the download (AbortSignal). */
export class DownloadAbortedError extends WebMoeError {
  constructor(readonly modelId: string) {
    super('download_aborted', `download of model "${modelId}" was aborted; run it again to resume (completed files are kept).`);
  }
}

/** Another tab (or caller) holds the download lock of this model and `ifLocked: 'fail'` was asked. */
export class DownloadLockedError extends WebMoeError {
  constructor(readonly modelId: string) {
    super('download_locked', `model "${modelId}" is being downloaded in another tab; wait for it to finish or close that tab.`);
  }
}

/** A file the caller asked for is not (completely) in the store. */
export class StoreFileMissingError extends WebMoeError {
  constructor(
    readonly store: string,
    readonly modelId: string,
    readonly path: string,
  ) {
    super('file_missing', `${store}: model "${modelId}" has no complete file "${path}". Download the model again (it resumes).`);
  }
}

/** The model is not completely in the store. */
export class ModelIncompleteError extends WebMoeError {
  constructor(
    readonly modelId: string,
    readonly missing: string[],
    readonly missingBytes: number,
  ) {
    super(
      'model_incomplete',
      `model "${modelId}" is incomplete: ${missing.length} file(s) (${formatBytes(missingBytes)}) missing, e.g. ${missing.slice(0, 3).join(', ')}. ` +
        `Download it again to resume.`,
    );
  }
}
