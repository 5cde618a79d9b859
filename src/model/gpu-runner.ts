// The WebGPU backend as a ModelRunner: dense weights resident, experts through the GPU expert
// cache, prompts processed in chunks of `maxChunk` tokens.

import { createGpuContext, type GpuContext, type GpuOptions } from '../gpu/device.ts';
import type { PackedModel } from '../format/quant-layout.ts';
import { ExpertCache, parseBudget } from '../experts/cache.ts';
import type { ExpertActivity, ExpertCacheStats, GpuRunnerExtras, ModelRunner } from './runner.ts';
import { GpuForward } from './gpu-forward.ts';
import { GpuWeights } from './gpu-weights.ts';

export interface GpuRunnerOptions {
  /** expert cache budget: bytes, a fraction ≤ 1, or "25%"; default: everything that fits */
  expertBudget?: number | string;
  /** KV capacity of full-attention layers (default min(max_position_embeddings, 4096)) */
  maxLen?: number;
  /** prompt tokens per GPU pass (default 64) */
  maxChunk?: number;
  prefetch?: boolean;
  /** an existing context (else one is created and owned) */
  ctx?: GpuContext;
  gpu?: GpuOptions;
  onProgress?: (phase: 'upload', done: number, total: number) => void;
}

export class GpuRunner implements ModelRunner, GpuRunnerExtras {
  readonly backend = 'webgpu';

  private constructor(
    readonly ctx: GpuContext,
    private readonly ownsCtx: boolean,
    private readonly fwd: GpuForward,
    private readonly weights: GpuWeights,
    private readonly cache: ExpertCache,
  ) {}

  get spec() {
    return this.fwd.spec;
  }

  get length() {
    return this.fwd.length;
  }

  get maxLength() {
    return this.fwd.maxLen;
  }

  reset(): void {
    this.fwd.reset();
  }

  async forward(tokens: number[], allLogits = false): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const n = this.fwd.maxChunk;
    for (let i = 0; i < tokens.length; i += n) {
      const chunk = tokens.slice(i, i + n);
      const last = i + n >= tokens.length;
      const rows = await this.fwd.forwardChunk(chunk, allLogits);
      if (allLogits || last) out.push(...rows.map((r) => r.slice()));
    }
    return allLogits ? out : [out[out.length - 1]];
  }

  expertCacheStats(): ExpertCacheStats {
    return { ...this.cache.stats };
  }

  gpuMemoryBytes(): number {
    return this.weights.bytes + this.cache.gpuBytes + this.fwd.stateBytes;
  }

  expertActivity(): ExpertActivity {
    return {
      layers: this.cache.L,
      experts: this.cache.E,
      resident: this.cache.residentMap(),
      lastToken: [...this.cache.lastRouting],
    };
  }

  dispose(): void {
    this.fwd.destroy();
    this.cache.destroy();
    this.weights.destroy();
    if (this.ownsCtx) this.ctx.destroy();
  }

  static async create(pm: PackedModel, opts: GpuRunnerOptions = {}): Promise<GpuRunner> {
    const ctx = opts.ctx ?? (await createGpuContext(opts.gpu));
    const spec = pm.spec;
    const total = spec.num_hidden_layers * spec.moe.num_experts * pm.expertLayout.bytes;
    const weights = await GpuWeights.upload(ctx, pm, opts.onProgress && ((d, t) => opts.onProgress!('upload', d, t)));
    const cache = await ExpertCache.create(ctx, pm, { budgetBytes: parseBudget(opts.expertBudget, total), prefetch: opts.prefetch });
    const maxLen = opts.maxLen ?? Math.min(spec.max_position_embeddings, 4096);
    const fwd = new GpuForward(ctx, spec, weights, cache, pm.expertLayout, maxLen, opts.maxChunk ?? 64);
    fwd.reset();
    await ctx.queue.onSubmittedWorkDone();
    ctx.check();
    return new GpuRunner(ctx, !opts.ctx, fwd, weights, cache);
  }
}

export function createGpuRunner(pm: PackedModel, opts: GpuRunnerOptions = {}): Promise<GpuRunner> {
  return GpuRunner.create(pm, opts);
}
