// Engine statistics for the stats panel and the expert heatmap: polled while a reply streams (so
// the heatmap is live), and read again when it ends (and after each load).

import { useCallback, useEffect, useRef, useState } from 'react';
import type { EngineStats } from '../../api/stats.ts';
import type { ChatEngine } from '../engine/types.ts';

/** getStats(): the numbers and, on the GPU backend, the expert activity for the heatmap. */
export type UiStats = EngineStats;

export function useEngineStats(engine: ChatEngine | null, active: boolean, intervalMs = 400): { stats: UiStats | null; refresh(): void } {
  const [stats, setStats] = useState<UiStats | null>(null);
  const busy = useRef(false);
  /** a refresh was asked for while one was in flight: read once more when it returns */
  const again = useRef(false);
  const engineRef = useRef(engine);
  engineRef.current = engine;

  const refresh = useCallback(function refresh() {
    const e = engineRef.current;
    if (!e) return;
    if (busy.current) return void (again.current = true);
    busy.current = true;
    e.getStats()
      .then(setStats)
      .catch(() => {})
      .finally(() => {
        busy.current = false;
        if (again.current) {
          again.current = false;
          refresh();
        }
      });
  }, []);

  useEffect(() => {
    refresh();
    if (!active) return;
    const t = setInterval(refresh, intervalMs);
    return () => clearInterval(t);
  }, [active, intervalMs, refresh]);

  return { stats, refresh };
}
