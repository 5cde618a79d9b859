// The one-line model status (data-testid="model-status"): contains "ready" once a model is loaded.

import type { ModelSession } from './engine/useModelSession.ts';

export function statusText(s: ModelSession): string {
  switch (s.status) {
    case 'starting':
      return 'Starting…';
    case 'idle':
      return 'No model loaded';
    case 'loading': {
      const pct = s.progress ? ` ${Math.round(s.progress.fraction * 100)}%` : '';
      return `Loading ${s.modelId ?? 'model'}…${pct}`;
    }
    case 'ready':
      return `${s.modelId} ready${s.backend ? ` (${s.backend === 'cpu' ? 'CPU' : s.backend === 'webgpu' ? 'WebGPU' : s.backend})` : ''}`;
    case 'error':
      return `Could not load ${s.modelId ?? 'the model'}`;
  }
}

/** Why the composer is disabled, as its placeholder. */
export function composerHint(s: ModelSession): string {
  if (s.status === 'ready') return 'Message (Enter to send, Shift+Enter for a new line)';
  if (s.status === 'loading' || s.status === 'starting') return 'Loading the model…';
  if (s.status === 'error') return 'The model did not load: see the message above';
  return 'Choose a model to start';
}
