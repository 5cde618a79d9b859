// Engine statistics: per-request numbers of the last reply, totals over the conversation (what
// WebLLM's runtimeStatsText reports), the expert cache's counters and GPU memory when the runner
// reports them. getStats() returns the structure; runtimeStatsText() one line of it.

import type { GenerationStats } from '../generate/loop.ts';
import type { ExpertActivity, ExpertCacheStats, ModelRunner } from '../model/runner.ts';
import type { RuntimeStats } from './types.ts';

/** Optional runner extras (GpuRunnerExtras in src/model/runner.ts), duck-typed. */
interface RunnerExtras {
  gpuMemoryBytes?(): number;
  expertActivity?(): ExpertActivity;
}

export interface LastRequestStats {
  promptTokens: number;
  completionTokens: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  timeToFirstTokenMs: number;
  totalMs: number;
  finishReason: string;
}

export interface EngineStats extends RuntimeStats {
  model: string | null;
  /** the runner's backend ('cpu', 'webgpu'), null before a model is loaded */
  backend: string | null;
  /** why the backend differs from the one asked for (e.g. no WebGPU runner yet), else null */
  backendNote: string | null;
  loadMs: number | null;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  last: LastRequestStats | null;
  expertCache: (ExpertCacheStats & { hitRate: number }) | null;
  /** resident experts per layer and the last token's routing (the UI's heatmap), GPU runners only */
  expertActivity?: ExpertActivity;
}

export class StatsCollector {
  private requests = 0;
  private promptTokens = 0;
  private completionTokens = 0;
  private prefillMs = 0;
  private decodeTokens = 0;
  private decodeMs = 0;
  private last: LastRequestStats | null = null;

  reset(): void {
    this.requests = this.promptTokens = this.completionTokens = this.prefillMs = this.decodeTokens = this.decodeMs = 0;
    this.last = null;
  }

  record(s: GenerationStats, finishReason: string): void {
    this.requests++;
    this.promptTokens += s.promptTokens;
    this.completionTokens += s.completionTokens;
    this.prefillMs += s.prefillMs;
    this.decodeTokens += Math.max(0, s.completionTokens - 1);
    this.decodeMs += s.decodeMs;
    this.last = {
      promptTokens: s.promptTokens,
      completionTokens: s.completionTokens,
      prefillTokensPerSecond: s.prefillTokensPerSecond,
      decodeTokensPerSecond: s.decodeTokensPerSecond,
      timeToFirstTokenMs: s.ttftMs,
      totalMs: s.totalMs,
      finishReason,
    };
  }

  snapshot(model: { id: string; runner: ModelRunner; note: string | null; loadMs: number } | null): EngineStats {
    const runner = model?.runner;
    const cache = runner?.expertCacheStats?.() ?? null;
    const lookups = cache ? cache.hits + cache.misses : 0;
    const extras = runner as (ModelRunner & RunnerExtras) | undefined;
    const mem = typeof extras?.gpuMemoryBytes === 'function' ? extras.gpuMemoryBytes() : undefined;
    const activity = typeof extras?.expertActivity === 'function' ? extras.expertActivity() : undefined;
    return {
      model: model?.id ?? null,
      backend: runner?.backend ?? null,
      backendNote: model?.note ?? null,
      loadMs: model?.loadMs ?? null,
      requests: this.requests,
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      prefillTokensPerSecond: this.prefillMs > 0 ? this.promptTokens / (this.prefillMs / 1000) : 0,
      decodeTokensPerSecond: this.decodeMs > 0 ? this.decodeTokens / (this.decodeMs / 1000) : 0,
      timeToFirstTokenMs: this.last?.timeToFirstTokenMs ?? 0,
      last: this.last ? { ...this.last } : null,
      expertCache: cache ? { ...cache, hitRate: lookups ? cache.hits / lookups : 0 } : null,
      ...(cache ? { expertCacheHitRate: lookups ? cache.hits / lookups : 0 } : {}),
      ...(mem !== undefined ? { gpuMemoryBytes: mem } : {}),
      ...(activity !== undefined ? { expertActivity: activity } : {}),
    };
  }
}

function mib(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/** WebLLM's "prefill: X tokens/sec, decode: Y tokens/sec", then WebMoE's extras. */
export function statsText(s: EngineStats): string {
  const parts = [`prefill: ${s.prefillTokensPerSecond.toFixed(4)} tokens/sec`, `decode: ${s.decodeTokensPerSecond.toFixed(4)} tokens/sec`];
  if (s.last) parts.push(`time to first token: ${s.last.timeToFirstTokenMs.toFixed(1)} ms`);
  if (s.expertCache) {
    const c = s.expertCache;
    parts.push(`expert cache: ${(c.hitRate * 100).toFixed(1)}% hits (${c.hits} hits, ${c.misses} misses, ${mib(c.bytesStreamed)} streamed)`);
  }
  if (s.gpuMemoryBytes !== undefined) parts.push(`GPU memory: ${mib(s.gpuMemoryBytes)}`);
  if (s.backend) parts.push(`backend: ${s.backend}${s.backendNote ? ` (${s.backendNote})` : ''}`);
  return parts.join(', ');
}
