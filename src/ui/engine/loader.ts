// Loading a model, in the phases the progress bar shows:
//   download  package files into IndexedDB (src/store downloadModel: bytes, speed, ETA), skipped
//             when the store already holds the complete model (so an offline reload needs no
//             network); a partial model resumes
//   verify    the engine checks completeness and the manifest
//   load      the engine builds the runner: weights into the GPU (or the CPU reference)
// Downloading here, on the page, rather than inside reload() gives the bar real byte counts.

import type { WebMoeInitProgressReport } from '../../api/progress.ts';
import { downloadModel, type DownloadProgress } from '../../store/download.ts';
import { modelStatus } from '../../store/registry.ts';
import type { ShardStore } from '../../store/types.ts';
import type { Backend } from '../settings/settings.ts';
import type { ChatEngine } from './types.ts';

export interface LoadProgress {
  phase: 'download' | 'verify' | 'load' | 'ready';
  /** 0..1 of the current phase */
  fraction: number;
  text: string;
  bytesDone?: number;
  bytesTotal?: number;
  bytesPerSecond?: number;
  etaSeconds?: number | null;
}

export interface LoadTarget {
  id: string;
  url: string | null;
}

export interface LoadOptions {
  backend: Backend;
  /** 0 or absent: no budget (everything that fits) */
  expertBudgetBytes?: number;
  signal?: AbortSignal;
  onProgress(p: LoadProgress): void;
}

export interface LoadResult {
  backend: string | null;
  backendNote: string | null;
  downloaded: boolean;
}

function fromDownload(p: DownloadProgress): LoadProgress {
  return {
    phase: 'download',
    fraction: p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : 0,
    text: p.phase === 'manifest' ? `Fetching ${p.modelId}/manifest.json` : `Downloading ${p.modelId} (${p.filesDone}/${p.filesTotal} files)`,
    bytesDone: p.bytesDone,
    bytesTotal: p.bytesTotal,
    bytesPerSecond: p.bytesPerSecond,
    etaSeconds: p.etaSeconds,
  };
}

/** Fraction of a phase from the engine's overall report (the engine gives each phase a band). */
function fromEngine(r: WebMoeInitProgressReport): LoadProgress {
  return { phase: r.phase, fraction: r.progress, text: r.text };
}

export async function loadModel(engine: ChatEngine, store: ShardStore | null, target: LoadTarget, opts: LoadOptions): Promise<LoadResult> {
  let downloaded = false;
  if (target.url && store) {
    const status = await modelStatus(store, target.id);
    if (!status.complete) {
      opts.onProgress({ phase: 'download', fraction: 0, text: `Starting download of ${target.id}` });
      await downloadModel(store, target.url, { modelId: target.id, signal: opts.signal, onProgress: (p) => opts.onProgress(fromDownload(p)) });
      downloaded = true;
    }
  }
  opts.onProgress({ phase: 'verify', fraction: 0, text: `Checking ${target.id}` });
  await engine.reload(target.url ?? target.id, {
    modelId: target.id,
    backend: opts.backend,
    ...(opts.expertBudgetBytes ? { expertBudgetBytes: opts.expertBudgetBytes } : {}),
    initProgressCallback: (r) => opts.onProgress(fromEngine(r)),
  });
  const stats = await engine.getStats();
  return { backend: stats.backend, backendNote: stats.backendNote, downloaded };
}
