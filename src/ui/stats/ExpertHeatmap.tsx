// Live expert-cache heatmap: one row per layer, one column per expert. A cell is empty when the
// expert is not in the GPU cache, grey when resident, green when the last token routed to it and
// it was resident (hit), red when the last token routed to it and it had to be streamed in (miss).
// Drawn on a canvas (a 62 x 256 model is 15,872 cells); the numbers are also given as text.

import { useEffect, useMemo, useRef } from 'react';
import type { ExpertActivity } from '../../model/runner.ts';

const COLORS = { empty: 'rgba(127,127,127,0.12)', resident: 'rgba(120,140,170,0.65)', hit: '#16a34a', miss: '#dc2626' };

export function summarize(a: ExpertActivity): { resident: number; total: number; hits: number; misses: number } {
  let resident = 0;
  for (const row of a.resident) resident += row.length;
  const hits = a.lastToken.filter((t) => t.hit).length;
  return { resident, total: a.layers * a.experts, hits, misses: a.lastToken.length - hits };
}

export function ExpertHeatmap({ activity, note }: { activity: ExpertActivity | null | undefined; note: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const sum = useMemo(() => (activity ? summarize(activity) : null), [activity]);

  useEffect(() => {
    const c = canvas.current;
    if (!c || !activity) return;
    const cell = Math.max(2, Math.min(16, Math.floor(288 / Math.max(1, activity.experts))));
    const gap = cell >= 6 ? 1 : 0;
    c.width = activity.experts * cell;
    c.height = activity.layers * cell;
    const g = c.getContext('2d');
    if (!g) return;
    g.clearRect(0, 0, c.width, c.height);
    const state = new Map<number, 'hit' | 'miss'>();
    for (const t of activity.lastToken) state.set(t.layer * activity.experts + t.expert, t.hit ? 'hit' : 'miss');
    for (let l = 0; l < activity.layers; l++) {
      const res = new Set(activity.resident[l] ?? []);
      for (let e = 0; e < activity.experts; e++) {
        const s = state.get(l * activity.experts + e) ?? (res.has(e) ? 'resident' : 'empty');
        g.fillStyle = COLORS[s];
        g.fillRect(e * cell, l * cell, cell - gap, cell - gap);
      }
    }
  }, [activity]);

  if (!activity || !sum) {
    return (
      <div className="heatmap" data-testid="expert-heatmap">
        <p className="muted">{note}</p>
      </div>
    );
  }
  const streaming = sum.resident < sum.total;
  const routed = activity.lastToken.length > 0 ? `; last token routed to ${sum.hits}, all hits` : '';
  const last = streaming ? `last token ${sum.hits} hits, ${sum.misses} misses` : `every expert resident, nothing streamed${routed}`;
  const label = `Expert cache: ${activity.layers} layers by ${activity.experts} experts; ${sum.resident} of ${sum.total} resident; ${last}`;
  return (
    <div className="heatmap" data-testid="expert-heatmap">
      <canvas ref={canvas} role="img" aria-label={label} />
      <p className="heatmap-summary">
        {sum.resident}/{sum.total} resident ·{' '}
        {streaming ? `last token: ${sum.hits} hit${sum.hits === 1 ? '' : 's'}, ${sum.misses} miss${sum.misses === 1 ? '' : 'es'}` : `every expert resident (nothing to stream)${routed ? ` · last token: ${sum.hits} routed` : ''}`}
      </p>
      <ul className="legend" aria-hidden="true">
        <li>
          <i style={{ background: COLORS.resident }} /> resident
        </li>
        <li>
          <i style={{ background: COLORS.hit }} /> hit
        </li>
        <li>
          <i style={{ background: COLORS.miss }} /> miss
        </li>
        <li>
          <i style={{ background: COLORS.empty }} /> not cached
        </li>
      </ul>
    </div>
  );
}
