// Engine statistics for the stats panel and the expert heatmap: polled while a reply streams (so
// the heatmap is live), and once after each reply or load.

import { useCallback, useEffect, useRef, useState } from 'react';
import type { EngineStats } from '../../api/stats.ts';
import type { ChatEngine } from '../engine/types.ts';

/** getStats(): the numbers and, on the GPU backend, the expert activity for the heatmap. */
export type UiStats = EngineStats;

export function useEngineStats(engine: ChatEngine | null, active: boolean, intervalMs = 400): { stats: UiStats | null; refresh(): void } {
  const [stats, setStats] = useState<UiStats | null>(null);
  const busy = useRef(false);
  const engineRef = useRef(engine);
  engineRef.current = engine;

  const refresh = useCallback(() => {
    const e = engineRef.current;
    if (!e || busy.current) return;
    busy.current = true;
    e.getStats()
      .then((s) => setStats(s as UiStats))
      .catch(() => {})
      .finally(() => (busy.current = false));
  }, []);

  useEffect(() => {
    refresh();
    if (!active) return;
    const t = setInterval(refresh, intervalMs);
    return () => clearInterval(t);
  }, [active, intervalMs, refresh]);

  return { stats, refresh };
}
