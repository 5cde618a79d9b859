// Init progress of reload(), as WebLLM reports it ({progress 0..1, timeElapsed s, text}) plus the
// phase: download (package files into the store), verify (completeness, manifest, shard sizes),
// load (weights into the runner: upload to the GPU, or the CPU reference's tensors), ready.
// Each phase owns a band of the 0..1 range; a reload without a download gives verify and load
// the whole range.

import { formatBytes } from '../store/errors.ts';
import type { DownloadProgress } from '../store/download.ts';
import type { InitProgressReport } from './types.ts';

export type InitPhase = 'download' | 'verify' | 'load' | 'ready';

export interface WebMoeInitProgressReport extends InitProgressReport {
  phase: InitPhase;
}

export type WebMoeInitProgressCallback = (report: WebMoeInitProgressReport) => void;

const BANDS_WITH_DOWNLOAD: Record<Exclude<InitPhase, 'ready'>, [number, number]> = { download: [0, 0.8], verify: [0.8, 0.83], load: [0.83, 1] };
const BANDS_CACHED: Record<Exclude<InitPhase, 'ready'>, [number, number]> = { download: [0, 0], verify: [0, 0.05], load: [0.05, 1] };

export class InitProgress {
  private readonly t0 = performance.now();
  private bands = BANDS_CACHED;
  private last = 0;

  constructor(private readonly cb: ((r: WebMoeInitProgressReport) => void) | undefined) {}

  /** A download is needed: give it most of the range. */
  withDownload(): void {
    this.bands = BANDS_WITH_DOWNLOAD;
  }

  report(phase: InitPhase, fraction: number, text: string): void {
    let progress = 1;
    if (phase !== 'ready') {
      const [a, b] = this.bands[phase];
      progress = a + (b - a) * Math.min(1, Math.max(0, fraction));
    }
    progress = Math.max(this.last, progress); // never goes back
    this.last = progress;
    try {
      // a Comlink proxy returns a promise: its failure must not become an unhandled rejection
      const r = this.cb?.({ progress, timeElapsed: (performance.now() - this.t0) / 1000, text, phase }) as unknown;
      if (r instanceof Promise) r.catch(() => {});
    } catch {
      // a broken progress callback must not break loading
    }
  }

  download(p: DownloadProgress): void {
    const frac = p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : 0;
    const speed = p.bytesPerSecond > 0 ? `, ${formatBytes(p.bytesPerSecond)}/s` : '';
    const eta = p.etaSeconds !== null && p.phase === 'downloading' ? `, ${Math.ceil(p.etaSeconds)} s left` : '';
    this.report('download', frac, `Downloading ${p.modelId}: ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)} (${p.filesDone}/${p.filesTotal} files${speed}${eta})`);
  }
}
