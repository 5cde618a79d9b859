// Fetch one package file and verify it against its manifest entry: exact byte count, then sha256.
// Bytes are never handed on before both checks pass. Every failure is a typed error.

import { IntegrityError } from '../format/errors.ts';
import { sha256Hex } from '../format/sha256.ts';
import { DownloadAbortedError, DownloadHttpError, DownloadNetworkError, TruncatedDownloadError } from './errors.ts';

/** What the downloader needs of a manifest `files` entry. */
export interface FileSpec {
  path: string;
  bytes: number;
  sha256: string;
}

export interface FetchFileOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** called with each chunk's length as it arrives */
  onBytes?: (n: number) => void;
  /** model id for abort errors */
  modelId?: string;
}

/** `base` joined with a package-relative path (each segment URL-encoded). */
export function fileUrl(base: string, path: string): string {
  const b = base.endsWith('/') ? base : `${base}/`;
  return b + path.split('/').map(encodeURIComponent).join('/');
}

export async function fetchVerified(url: string, spec: FileSpec, opts: FetchFileOptions = {}): Promise<Uint8Array> {
  const bytes = await fetchExact(url, spec.bytes, opts);
  const got = await sha256Hex(bytes);
  if (got !== spec.sha256) throw new IntegrityError(url, spec.sha256, got);
  return bytes;
}

/** GET `url`; a response other than 200, a network failure or an abort is a typed error. */
export async function fetchOk(url: string, opts: Pick<FetchFileOptions, 'fetch' | 'signal' | 'modelId'> = {}): Promise<Response> {
  const f = opts.fetch ?? globalThis.fetch;
  let resp: Response;
  try {
    // no-store: a package can be GBs; the HTTP cache would hold a second copy of it.
    resp = await f(url, { signal: opts.signal, cache: 'no-store' });
  } catch (e) {
    if (opts.signal?.aborted) throw new DownloadAbortedError(opts.modelId ?? url);
    throw new DownloadNetworkError(url, 0, e);
  }
  if (resp.status !== 200) {
    await resp.body?.cancel().catch(() => {});
    throw new DownloadHttpError(url, resp.status, resp.statusText);
  }
  return resp;
}

/** GET `url` and read exactly `expected` bytes (TruncatedDownloadError on any other count). */
async function fetchExact(url: string, expected: number, opts: FetchFileOptions = {}): Promise<Uint8Array> {
  const aborted = () => opts.signal?.aborted === true;
  const resp = await fetchOk(url, opts);
  const out = new Uint8Array(expected);
  let received = 0;
  if (!resp.body) {
    const all = new Uint8Array(await resp.arrayBuffer());
    if (all.byteLength !== expected) throw new TruncatedDownloadError(url, all.byteLength, expected);
    opts.onBytes?.(all.byteLength);
    return all;
  }
  const reader = resp.body.getReader();
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        if (aborted()) throw new DownloadAbortedError(opts.modelId ?? url);
        throw new DownloadNetworkError(url, received, e);
      }
      if (r.done) break;
      const chunk = r.value;
      if (received + chunk.byteLength > expected) {
        await reader.cancel().catch(() => {});
        throw new TruncatedDownloadError(url, received + chunk.byteLength, expected);
      }
      out.set(chunk, received);
      received += chunk.byteLength;
      opts.onBytes?.(chunk.byteLength);
    }
  } finally {
    reader.releaseLock();
  }
  if (received !== expected) throw new TruncatedDownloadError(url, received, expected);
  return out;
}
