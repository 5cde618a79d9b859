// The WebGPU backend as a ModelRunner: dense weights resident, experts through the GPU expert
// cache, prompts processed in chunks of `maxChunk` tokens.

import { createGpuContext, type GpuContext, type GpuOptions } from '../gpu/device.ts';
import type { PackedModel } from '../format/quant-layout.ts';
import { ExpertCache, parseBudget } from '../experts/cache.ts';
import type { ExpertActivity, ExpertCacheStats, GpuRunnerExtras, ModelRunner } from './runner.ts';
import { GpuForward } from './gpu-forward.ts';
import { GpuWeights } from './gpu-weights.ts';
import { verifyHmma } from '../kernels/matvec/matmul-hmma.ts';
import type { MatvecVariant } from '../kernels/matvec/matvec.ts';

export interface GpuRunnerOptions {
  /** expert cache budget: bytes, a fraction ≤ 1, or "25%"; default: everything that fits */
  expertBudget?: number | string;
  /** KV capacity of full-attention layers (default min(max_position_embeddings, 4096)) */
  maxLen?: number;
  /** prompt tokens per GPU pass (default 64) */
  maxChunk?: number;
  prefetch?: boolean;
  /** host -> GPU path of expert blobs (default 'ring': reused mapped staging buffers) */
  expertUpload?: 'ring' | 'writeBuffer';
  /** kernel variants: 'auto' (fast kernels where the adapter has them, default) or 'simple' */
  variant?: MatvecVariant;
  /** replay a recorded decode step instead of recording each one (default true; see GpuForward.replay) */
  replay?: boolean;
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

  /** Kernel variants used from the next chunk on ('auto' | 'simple'). */
  get variant(): MatvecVariant {
    return this.fwd.variant;
  }

  set variant(v: MatvecVariant) {
    this.fwd.variant = v;
  }

  async forward(tokens: number[], allLogits = false): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const n = this.fwd.maxChunk;
    for (let i = 0; i < tokens.length; i += n) {
      const chunk = tokens.slice(i, i + n);
      const last = i + n >= tokens.length;
      if (!allLogits && !last) {
        await this.fwd.prefillChunk(chunk); // its logits would be discarded
        continue;
      }
      const rows = await this.fwd.forwardChunk(chunk, allLogits);
      // every row owns its buffer (a single row already spans the whole readback)
      out.push(...(allLogits ? rows.map((r) => r.slice()) : rows));
    }
    return allLogits ? out : [out[out.length - 1]];
  }

  /**
   * Greedy decoding with the choice made on the GPU: `prompt` (chunked), then `n` new tokens, each
   * fed back to the next step without a CPU round trip; steps i + 1 and i + 2 are queued before the
   * id of step i is awaited. No stop tokens: exactly n ids come back (`banned` ids are never chosen).
   * `forced` (n - 1 ids): feed these instead of the chosen ids (teacher forcing; benchmarks use it
   * to route like real text instead of a random model's repetitive greedy output).
   */
  async generateGreedy(prompt: number[], n: number, opts: { banned?: number[]; forced?: number[]; onToken?: (id: number, i: number) => void } = {}): Promise<number[]> {
    if (prompt.length < 1) throw new RangeError('generateGreedy needs at least one prompt token');
    if (opts.forced && opts.forced.length < n - 1) throw new RangeError(`forced: ${opts.forced.length} ids for ${n} steps (need n - 1)`);
    const out: number[] = [];
    if (n < 1) return out;
    const banned = opts.banned?.length ? { buffer: this.ctx.upload(Uint32Array.from(opts.banned)), count: opts.banned.length } : undefined;
    try {
      const c = this.fwd.maxChunk;
      for (let i = 0; i + c < prompt.length; i += c) await this.fwd.prefillChunk(prompt.slice(i, i + c));
      // steps in flight: the one awaited and two queued behind it, so a late readback (the
      // host's event loop, a GC pause) does not leave the GPU idle
      const queued = [await this.fwd.stepArgmax(prompt.slice(Math.floor((prompt.length - 1) / c) * c), banned)];
      let issued = 1;
      for (let i = 0; i < n; i++) {
        while (queued.length < 3 && issued < n) {
          queued.push(await this.fwd.stepArgmax(opts.forced ? [opts.forced[issued - 1]] : null, banned));
          issued++;
        }
        const id = await queued.shift()!.id;
        out.push(id);
        opts.onToken?.(id, i);
      }
      this.ctx.check();
      return out;
    } finally {
      banned?.buffer.destroy();
    }
  }

  /** Dispatches, submits, CPU recording time of the last chunk or step, and whether it was a replayed decode step. */
  get lastChunkStats(): { dispatches: number; submits: number; encodeMs: number; replayed: boolean; replayedSegments: number } {
    return { ...this.fwd.lastChunk };
  }

  deviceLost(): boolean {
    return this.ctx.lostError !== null;
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
    await verifyHmma(ctx); // the experimental f16 prefill kernel: off on this device if it does not compile
    const spec = pm.spec;
    const total = spec.num_hidden_layers * spec.moe.num_experts * pm.expertLayout.bytes;
    const weights = await GpuWeights.upload(ctx, pm, opts.onProgress && ((d, t) => opts.onProgress!('upload', d, t)));
    const cache = await ExpertCache.create(ctx, pm, { budgetBytes: parseBudget(opts.expertBudget, total), prefetch: opts.prefetch, upload: opts.expertUpload });
    const maxLen = opts.maxLen ?? Math.min(spec.max_position_embeddings, 4096);
    const fwd = new GpuForward(ctx, spec, weights, cache, pm.expertLayout, maxLen, opts.maxChunk ?? 64);
    fwd.variant = opts.variant ?? 'auto';
    fwd.replay = opts.replay ?? true;
    fwd.reset();
    await ctx.queue.onSubmittedWorkDone();
    ctx.check();
    return new GpuRunner(ctx, !opts.ctx, fwd, weights, cache);
  }
}

export function createGpuRunner(pm: PackedModel, opts: GpuRunnerOptions = {}): Promise<GpuRunner> {
  return GpuRunner.create(pm, opts);
}
