// The GPU expert cache: equal-size slots (one expert blob each, in the package's ExpertLayout) in a
// few large GPU buffers ("arenas"), a byte budget, LRU eviction per layer, counters, and prefetch.
//
// Budget → slots: every layer gets S = clamp(floor(budget / (L · blob)), K, E) slots. S = E means
// all-resident: every expert is uploaded once and the GPU maps router ids to slots itself
// (expertSlots kernel over a static table), so a token is one submit with no readback. S < E
// means streaming: the forward pass reads back the routed ids per layer, asks `ensure` to make
// them resident (store reads for misses, uploads into evicted slots) and writes the slot offsets.
//
// Arenas: consecutive layers' slot blocks packed into buffers no larger than the device's
// maxStorageBufferBindingSize, so the K experts of a layer are always inside one binding.
//
// Speculative staging (streaming with prefetch): while the forward pass waits for a layer's
// routed ids, `speculate` uploads that layer's predicted experts into a small GPU staging area
// (K blobs, outside the slots, so the slot mapping is untouched), in interruptible pieces that
// stop when the ids arrive. A miss whose blob is (partly) staged is then filled by a GPU copy
// from the staging area (plus a host upload of any rest) instead of a full host upload.

import type { GpuContext } from '../gpu/device.ts';
import type { PackedModel } from '../format/quant-layout.ts';
import type { ExpertCacheStats } from '../model/runner.ts';
import { LayerSlots } from './slots.ts';
import { StagingRing, ringTuning } from './staging.ts';

/** A blob (partly) uploaded into the speculative staging area. */
interface StagedBlob {
  layer: number;
  expert: number;
  /** bytes uploaded so far (from the blob's start) */
  done: number;
}

export interface ExpertCacheOptions {
  /** bytes for expert slots; default: all experts if they fit the device, else what fits */
  budgetBytes?: number;
  /** prefetch the next layer's predicted experts (default true) */
  prefetch?: boolean;
  /** host -> GPU path for blobs: a ring of mapped staging buffers (default) or queue.writeBuffer */
  upload?: 'ring' | 'writeBuffer';
}

/** "50%", "0.25" (fraction), "123456789" (bytes) → bytes, given the total expert bytes. */
export function parseBudget(s: string | number | undefined, totalBytes: number): number | undefined {
  if (s === undefined || s === '') return undefined;
  if (typeof s === 'number') return s <= 1 ? Math.floor(s * totalBytes) : Math.floor(s);
  const t = s.trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (pct) return Math.floor((Number(pct[1]) / 100) * totalBytes);
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`expert budget "${s}" is not a byte count, a fraction or a percentage like 25%`);
  return n <= 1 ? Math.floor(n * totalBytes) : Math.floor(n);
}

export class ExpertCache {
  readonly L: number;
  readonly E: number;
  readonly K: number;
  readonly blobBytes: number;
  readonly slotsPerLayer: number;
  readonly resident: boolean;
  readonly budgetBytes: number;
  private readonly arenas: GPUBuffer[] = [];
  /** per layer: arena index and byte offset of its slot block */
  private readonly layerBase: { arena: number; offset: number }[] = [];
  private readonly layers: LayerSlots[];
  /** resident mode: (L, E) word offsets of each expert inside its layer's arena */
  table: GPUBuffer | null = null;
  private readonly prefetched = new Map<string, Promise<Uint8Array>>();
  private readonly prefetchOn: boolean;
  private readonly ring: StagingRing | null;
  /** speculative staging area: `stageSlots` blobs (null without the ring or prefetch) */
  private readonly stage: GPUBuffer | null = null;
  private readonly staged: (StagedBlob | null)[] = [];
  private stageNext = 0;
  readonly stats: ExpertCacheStats;
  /** experts routed in the last token, for the UI heatmap: layer -> ids, and whether each hit */
  lastRouting: { layer: number; expert: number; hit: boolean }[] = [];

  private constructor(
    private readonly ctx: GpuContext,
    private readonly pm: PackedModel,
    opts: ExpertCacheOptions,
  ) {
    const spec = pm.spec;
    this.L = spec.num_hidden_layers;
    this.E = spec.moe.num_experts;
    this.K = spec.moe.num_experts_per_tok;
    this.blobBytes = pm.expertLayout.bytes;
    const total = this.L * this.E * this.blobBytes;
    const maxBinding = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
    const layerAll = this.E * this.blobBytes;
    const deviceCap = layerAll <= maxBinding ? total : this.L * Math.floor(maxBinding / this.blobBytes) * this.blobBytes;
    const budget = opts.budgetBytes ?? deviceCap;
    const perLayer = Math.floor(budget / (this.L * this.blobBytes));
    this.slotsPerLayer = Math.max(this.K, Math.min(this.E, perLayer, Math.floor(maxBinding / this.blobBytes)));
    this.resident = this.slotsPerLayer === this.E;
    this.budgetBytes = this.slotsPerLayer * this.L * this.blobBytes;
    this.prefetchOn = opts.prefetch ?? true;
    this.ring = (opts.upload ?? 'ring') === 'ring' ? new StagingRing(ctx.device, 8, Math.min(ringTuning.chunkBytes, Math.max(1 << 20, this.blobBytes)), ringTuning.eager) : null;
    this.layers = Array.from({ length: this.L }, () => new LayerSlots(this.slotsPerLayer));
    this.stats = { hits: 0, misses: 0, bytesStreamed: 0, stallMs: 0, budgetBytes: this.budgetBytes, prefetched: 0, prefetchUsed: 0, speculativeBytes: 0, speculativeUsedBytes: 0 };
    if (!this.resident && this.prefetchOn && this.ring) {
      this.stage = ctx.createBuffer(this.K * this.blobBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'expert-stage');
      this.staged = Array.from({ length: this.K }, () => null);
    }
    // pack layers into arenas
    const block = this.slotsPerLayer * this.blobBytes;
    const perArena = Math.max(1, Math.floor(maxBinding / block));
    for (let l = 0; l < this.L; l++) {
      const a = Math.floor(l / perArena);
      if (a === this.arenas.length) {
        const layersHere = Math.min(perArena, this.L - l);
        this.arenas.push(ctx.createBuffer(layersHere * block, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, `experts-${a}`));
      }
      this.layerBase.push({ arena: a, offset: (l % perArena) * block });
    }
  }

  /** Create the cache; in resident mode every expert is uploaded now. */
  static async create(ctx: GpuContext, pm: PackedModel, opts: ExpertCacheOptions = {}): Promise<ExpertCache> {
    const c = new ExpertCache(ctx, pm, opts);
    if (c.resident) {
      const table = new Uint32Array(c.L * c.E); // (L, E)
      for (let l = 0; l < c.L; l++) {
        const { slots } = c.layers[l].plan(Array.from({ length: c.E }, (_, e) => e));
        for (let e = 0; e < c.E; e++) {
          const off = c.slotOffset(l, slots[e]);
          await c.put(c.arena(l), off, await pm.expertBlob(l, e));
          table[l * c.E + e] = off / 4;
        }
      }
      await c.ring?.drain();
      c.table = ctx.upload(table, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, 'expert-table');
    }
    return c;
  }

  /** The arena buffer holding layer `l`'s slots. */
  arena(l: number): GPUBuffer {
    return this.arenas[this.layerBase[l].arena];
  }

  /** Byte offset of slot `s` of layer `l` inside its arena. */
  slotOffset(l: number, s: number): number {
    return this.layerBase[l].offset + s * this.blobBytes;
  }

  get gpuBytes(): number {
    return this.arenas.reduce((a, b) => a + b.size, 0) + (this.table?.size ?? 0) + (this.stage?.size ?? 0);
  }

  /** true when streaming with prefetch on */
  get prefetching(): boolean {
    return this.prefetchOn && !this.resident;
  }

  private read(l: number, e: number): Promise<Uint8Array> {
    const key = `${l}:${e}`;
    const p = this.prefetched.get(key);
    if (p) {
      this.prefetched.delete(key);
      this.stats.prefetchUsed!++;
      return p;
    }
    return this.pm.expertBlob(l, e);
  }

  private stagedIndex(l: number, e: number): number {
    return this.staged.findIndex((b) => b !== null && b.layer === l && b.expert === e);
  }

  /**
   * Upload layer `l`'s predicted `experts` that are not resident into the staging area, until
   * `stop()` (checked between 1 MiB pieces): the forward pass calls it while it waits for the
   * layer's routed ids. Blobs already (partly) staged continue where they stopped.
   */
  async speculate(l: number, experts: number[], stop: () => boolean): Promise<void> {
    const ring = this.ring;
    if (!this.stage || !ring || l >= this.L) return;
    const want = experts.filter((e) => !this.layers[l].has(e));
    for (const e of want) {
      if (stop()) break;
      let i = this.stagedIndex(l, e);
      if (i < 0) {
        // a staging slot not holding another wanted blob of this layer, round robin
        for (let n = 0; n < this.staged.length; n++) {
          const j = (this.stageNext + n) % this.staged.length;
          const b = this.staged[j];
          if (!b || b.layer !== l || !want.includes(b.expert)) {
            i = j;
            break;
          }
        }
        if (i < 0) break;
        this.stageNext = (i + 1) % this.staged.length;
        this.staged[i] = { layer: l, expert: e, done: 0 };
      }
      const st = this.staged[i]!;
      if (st.done >= this.blobBytes) continue;
      const key = `${l}:${e}`;
      let p = this.prefetched.get(key);
      if (!p) this.prefetched.set(key, (p = this.pm.expertBlob(l, e)));
      const blob = await p;
      const n = await ring.write(this.stage, i * this.blobBytes + st.done, blob.subarray(st.done), stop);
      st.done += n;
      this.stats.bytesStreamed += n;
      this.stats.speculativeBytes! += n;
    }
    ring.flush();
  }

  /**
   * Make the distinct `experts` of layer `l` resident (streaming mode) and return the word offset
   * of each inside the layer's arena, in order. Misses are read from the store (or a prefetch
   * already under way), or copied from the speculative staging area, and uploaded; the copies
   * are submitted now, or with `defer` left for the caller's submit (`takeUploads`), in queue
   * order before work submitted after them.
   */
  async ensure(l: number, experts: number[], defer = false): Promise<number[]> {
    for (const key of this.prefetched.keys()) if (Number(key.split(':')[0]) < l) this.prefetched.delete(key); // stale predictions
    const plan = this.layers[l].plan(experts);
    const missSet = new Set(plan.misses.map((m) => m.expert));
    for (const e of experts) this.lastRouting.push({ layer: l, expert: e, hit: !missSet.has(e) });
    this.stats.hits += experts.length - plan.misses.length;
    this.stats.misses += plan.misses.length;
    if (plan.misses.length) {
      const t0 = performance.now();
      // staged parts first (GPU copies), then the rest from the host
      const from = plan.misses.map((m) => {
        const i = this.stagedIndex(l, m.expert);
        const done = i >= 0 ? this.staged[i]!.done : 0;
        if (done > 0) {
          this.ring!.copy(this.stage!, i * this.blobBytes, this.arena(l), this.slotOffset(l, m.slot), done);
          this.stats.speculativeUsedBytes! += done;
        }
        return done;
      });
      const blobs = await Promise.all(plan.misses.map((m, i) => (from[i] < this.blobBytes ? this.read(l, m.expert) : null)));
      this.stats.stallMs += performance.now() - t0;
      for (let i = 0; i < blobs.length; i++) {
        const b = blobs[i];
        if (!b) continue;
        await this.put(this.arena(l), this.slotOffset(l, plan.misses[i].slot) + from[i], from[i] ? b.subarray(from[i]) : b);
        this.stats.bytesStreamed += b.byteLength - from[i];
      }
      if (!defer) this.ring?.flush();
    }
    return plan.slots.map((s) => this.slotOffset(l, s) / 4);
  }

  /**
   * The uploads `ensure(..., true)` recorded, as command buffers to submit before the work that
   * reads them (in the same queue.submit); call `uploadsSubmitted()` right after that submit.
   */
  takeUploads(): GPUCommandBuffer[] {
    const cb = this.ring?.take();
    return cb ? [cb] : [];
  }

  uploadsSubmitted(): void {
    this.ring?.submitted();
  }

  /** Upload one blob (ordered before work submitted after the next ring flush). */
  private async put(dst: GPUBuffer, offset: number, blob: Uint8Array): Promise<void> {
    if (this.ring) await this.ring.write(dst, offset, blob);
    else this.ctx.queue.writeBuffer(dst, offset, blob as Uint8Array<ArrayBuffer>);
  }

  /** Start reading experts predicted for layer `l` that are not resident (no GPU work). */
  prefetch(l: number, experts: number[]): void {
    if (!this.prefetching || l >= this.L) return;
    for (const e of experts) {
      const key = `${l}:${e}`;
      if (this.layers[l].has(e) || this.prefetched.has(key)) continue;
      const p = this.pm.expertBlob(l, e);
      p.catch(() => this.prefetched.delete(key));
      this.prefetched.set(key, p);
      this.stats.prefetched!++;
    }
    // bound the prefetch map: wrong predictions must not pile up blobs (a chunk predicts ≤ T·K)
    while (this.prefetched.size > 4 * this.K) {
      const first = this.prefetched.keys().next().value as string;
      this.prefetched.delete(first);
    }
  }

  /** Mark the start of a token for `lastRouting`. */
  beginToken(): void {
    this.lastRouting = [];
  }

  residentMap(): number[][] {
    return this.layers.map((s) => s.residentExperts());
  }

  destroy(): void {
    this.ring?.destroy();
    this.stage?.destroy();
    for (const a of this.arenas) a.destroy();
    this.table?.destroy();
  }
}
