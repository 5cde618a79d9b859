// Messages above the chat: load errors, the CPU fallback (WebGPU missing or failing), and
// one-off notices such as a recovered GPU device.

import type { ModelSession } from './engine/useModelSession.ts';

export function Banners({ session }: { session: ModelSession }) {
  const s = session;
  const cpuFallback = s.status === 'ready' && s.backend === 'cpu' && (s.backendNote || (s.gpu && !s.gpu.available));
  const gpuMissing = s.gpu && !s.gpu.available;
  return (
    <div className="banners">
      {s.error ? (
        <div className="banner error" role="alert" data-testid="load-error">
          <strong>{s.status === 'error' ? 'The model could not be loaded.' : 'Note.'}</strong> {s.error}
          {s.status === 'error' && s.modelId ? (
            <button type="button" className="btn small" onClick={() => void s.reloadCurrent()}>
              Try again
            </button>
          ) : null}
        </div>
      ) : null}
      {cpuFallback || (gpuMissing && s.status !== 'ready') ? (
        <div className="banner warn" role="status" data-testid="backend-notice">
          {gpuMissing ? `WebGPU is not available here (${s.gpu!.detail}). ` : ''}
          {s.status === 'ready'
            ? `Running on the CPU backend instead, which is much slower${s.backendNote && !gpuMissing ? `: ${s.backendNote}` : '.'}`
            : 'The model will run on the CPU backend, which is much slower.'}
        </div>
      ) : null}
      {s.notice ? (
        <div className="banner info" role="status" data-testid="notice">
          {s.notice}
          <button type="button" className="btn small" aria-label="Dismiss" onClick={() => s.setNotice(null)}>
            ×
          </button>
        </div>
      ) : null}
    </div>
  );
}
