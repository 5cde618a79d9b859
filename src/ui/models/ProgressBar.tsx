// Load progress: phase, a bar, and for downloads the bytes, speed and time left.

import type { LoadProgress } from '../engine/loader.ts';
import { formatBytes, formatEta, formatRate } from '../format.ts';

const PHASE: Record<LoadProgress['phase'], string> = { download: 'Downloading', verify: 'Verifying', load: 'Loading weights', ready: 'Ready' };

export function ProgressBar({ progress, onCancel }: { progress: LoadProgress; onCancel?: () => void }) {
  const pct = Math.round(Math.min(1, Math.max(0, progress.fraction)) * 100);
  const bytes = progress.bytesTotal ? `${formatBytes(progress.bytesDone ?? 0)} of ${formatBytes(progress.bytesTotal)}` : null;
  return (
    <div className="load-progress" data-testid="load-progress" data-phase={progress.phase} role="group" aria-label="Model loading">
      <div className="load-progress-head">
        <strong>{PHASE[progress.phase]}</strong>
        <span>{pct}%</span>
        {onCancel ? (
          <button type="button" className="btn small" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
      <progress max={100} value={pct} aria-label={`${PHASE[progress.phase]}: ${pct}%`} />
      <div className="load-progress-detail">
        {progress.phase === 'download' && bytes ? (
          <span data-testid="load-bytes">
            {bytes} · {formatRate(progress.bytesPerSecond ?? 0)} · {formatEta(progress.etaSeconds)} left
          </span>
        ) : (
          <span>{progress.text}</span>
        )}
      </div>
    </div>
  );
}
