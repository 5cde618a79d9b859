// Numbers of the last reply and of the session: time to first token, prefill and decode speed,
// expert-cache hit rate, GPU memory, backend.

import { formatBytes, formatNumber, formatPercent } from '../format.ts';
import { ExpertHeatmap, summarize } from './ExpertHeatmap.tsx';
import type { UiStats } from './useEngineStats.ts';

function Row({ label, value, id }: { label: string; value: string; id: string }) {
  return (
    <>
      <dt>{label}</dt>
      <dd data-testid={`stat-${id}`}>{value}</dd>
    </>
  );
}

export function StatsPanel({ stats }: { stats: UiStats | null }) {
  const last = stats?.last ?? null;
  const cache = stats?.expertCache ?? null;
  const act = stats?.expertActivity ? summarize(stats.expertActivity) : null;
  // with every expert resident the GPU runner does not stream (nor track hits)
  const allResident = !!act && act.resident === act.total;
  const heatNote = !stats?.model
    ? 'Load a model to see its experts.'
    : stats.backend === 'cpu'
      ? 'The CPU backend keeps every expert in memory: there is no expert cache to show.'
      : 'No expert activity reported yet: send a message.';
  return (
    <section className="panel-section" aria-labelledby="stats-title">
      <h2 id="stats-title">Stats</h2>
      <dl className="stats" data-testid="stats-panel">
        <Row id="ttft" label="Time to first token" value={last ? `${formatNumber(last.timeToFirstTokenMs, 0)} ms` : '—'} />
        <Row id="prefill" label="Prefill" value={last ? `${formatNumber(last.prefillTokensPerSecond)} tok/s` : '—'} />
        <Row id="decode" label="Decode" value={last ? `${formatNumber(last.decodeTokensPerSecond)} tok/s` : '—'} />
        <Row id="tokens" label="Tokens (prompt / reply)" value={last ? `${last.promptTokens} / ${last.completionTokens}` : '—'} />
        <Row id="hit-rate" label="Expert cache hit rate" value={!cache ? '—' : cache.hits + cache.misses > 0 ? formatPercent(cache.hitRate) : allResident ? 'all resident' : '—'} />
        <Row id="streamed" label="Expert bytes streamed" value={cache ? formatBytes(cache.bytesStreamed) : '—'} />
        <Row id="gpu-memory" label="GPU memory" value={stats?.gpuMemoryBytes !== undefined ? formatBytes(stats.gpuMemoryBytes) : '—'} />
        <Row id="backend" label="Backend" value={stats?.backend ?? '—'} />
      </dl>
      <h3>Expert cache</h3>
      <ExpertHeatmap activity={stats?.expertActivity} note={heatNote} />
    </section>
  );
}
