// The GPU forward pass's own memory: the activation scratch of one chunk (sized for maxChunk
// tokens), the per-layer sequence state (KV rings, lightning states), the rope cos/sin tables and
// the logits. GpuForward (gpu-forward.ts) extends this and records its kernels against it.
//
// Legend as gpu-forward.ts: T = maxChunk, D hidden, qw = Hq·hd, maxKw the widest k/v projection,
// E experts, K top-k, I expert width, V vocab.

import type { GpuContext } from '../gpu/device.ts';
import type { ModelSpec } from '../format/spec.ts';
import { ropeTable, type RopeTable } from '../reference/ops.ts';
import { planWords } from '../kernels/matvec/matmul-tiled.ts';

/** Per-layer sequence state: KV ring (softmax layers) or f32 state (lightning layers). */
export interface LayerState {
  kCache?: GPUBuffer; // (capacity, kw)
  vCache?: GPUBuffer; // (capacity, kw)
  capacity: number;
  state?: GPUBuffer; // (H, hd, hd)
}

export class ForwardBuffers {
  readonly D: number;
  readonly qw: number;
  readonly V: number;
  /** per layer: its rope table and the cos/sin buffer shared by layers with the same rope */
  protected readonly ropes: ({ table: RopeTable; cs: GPUBuffer } | null)[];
  /** the distinct entries of `ropes` (each chunk fills their cos/sin rows once) */
  protected readonly ropeTables: { table: RopeTable; cs: GPUBuffer }[];
  protected readonly states: LayerState[];
  // scratch, sized for maxChunk tokens
  protected readonly tok: GPUBuffer; // (T) u32
  protected readonly x: GPUBuffer; // (T, D) residual stream
  protected readonly h: GPUBuffer; // (T, D) normed
  protected readonly q: GPUBuffer; // (T, qw)
  protected readonly k: GPUBuffer; // (T, maxKw)
  protected readonly v: GPUBuffer; // (T, maxKw)
  protected readonly o: GPUBuffer; // (T, qw)
  protected readonly qkv: GPUBuffer; // (qw + 2 maxKw) decode: q, k, v of one token from one product
  protected readonly g: GPUBuffer; // (T, qw) lightning output gate
  protected readonly a: GPUBuffer; // (T, D) sublayer output
  protected readonly rlog: GPUBuffer; // (T, E) router logits
  protected readonly ids: GPUBuffer; // (T, K) u32
  protected readonly routeLog: GPUBuffer; // (L, K) u32: the last token's experts per layer (resident mode)
  protected readonly wts: GPUBuffer; // (T, K) f32
  protected readonly slots: GPUBuffer; // (T, K) u32 word offsets
  protected readonly predLog: GPUBuffer; // (T, E) next layer's router applied to this layer's h2
  protected readonly predIds: GPUBuffer; // (T, K) u32 predicted next-layer experts
  protected readonly predWts: GPUBuffer; // (T, K)
  protected readonly eg: GPUBuffer; // (T·K, I) gate
  protected readonly eu: GPUBuffer; // (T·K, I) up
  protected readonly ea: GPUBuffer; // (T·K, I) activation
  protected readonly ey: GPUBuffer; // (T·K, D) expert outputs
  protected readonly plan: GPUBuffer; // moe-plan of the chunk's problems
  protected readonly order: GPUBuffer; // (T·K) problems grouped by expert
  protected logits: GPUBuffer; // (logitRows, V), grown on demand (a 512-token chunk of a 200k vocab is 400 MB)
  protected logitRows = 1;
  /** tokens in the sequence so far */
  length = 0;

  constructor(
    protected readonly ctx: GpuContext,
    readonly spec: ModelSpec,
    readonly maxLen: number,
    readonly maxChunk: number,
  ) {
    const s = spec;
    this.D = s.hidden_size;
    this.qw = s.num_attention_heads * s.head_dim;
    this.V = s.vocab_size;
    const T = maxChunk;
    const K = s.moe.num_experts_per_tok;
    const I = s.moe.moe_intermediate_size;
    const maxKw = Math.max(...s.layers.map((l) => (l.attention.kind === 'linear' ? s.num_attention_heads : s.num_key_value_heads) * s.head_dim));
    const RW = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const buf = (floats: number, label: string) => ctx.createBuffer(floats * 4, RW, label);
    this.tok = buf(T, 'tokens');
    this.x = buf(T * this.D, 'x');
    this.h = buf(T * this.D, 'h');
    this.q = buf(T * this.qw, 'q');
    this.k = buf(T * maxKw, 'k');
    this.v = buf(T * maxKw, 'v');
    this.o = buf(T * this.qw, 'o');
    this.qkv = buf(this.qw + 2 * maxKw, 'qkv');
    this.g = buf(T * this.qw, 'gate');
    this.a = buf(T * this.D, 'a');
    this.rlog = buf(T * s.moe.num_experts, 'router-logits');
    this.ids = buf(T * K, 'ids');
    this.routeLog = buf(s.num_hidden_layers * K, 'route-log');
    this.wts = buf(T * K, 'weights');
    this.slots = buf(T * K, 'slots');
    this.predLog = buf(T * s.moe.num_experts, 'pred-logits');
    this.predIds = buf(T * K, 'pred-ids');
    this.predWts = buf(T * K, 'pred-weights');
    this.eg = buf(T * K * I, 'expert-gate');
    this.eu = buf(T * K * I, 'expert-up');
    this.ea = buf(T * K * I, 'expert-act');
    this.ey = buf(T * K * this.D, 'expert-out');
    this.plan = ctx.createBuffer(planWords(s.moe.num_experts, T * K, 16) * 4, RW, 'moe-plan');
    this.order = buf(T * K, 'moe-order');
    this.logits = buf(this.V, 'logits');
    const byKey = new Map<string, { table: RopeTable; cs: GPUBuffer }>();
    this.ropes = s.layers.map((l) => {
      if (!l.rope) return null;
      const key = JSON.stringify(l.rope);
      if (!byKey.has(key)) byKey.set(key, { table: ropeTable(l.rope), cs: buf(T * l.rope.rotary_dim, 'cossin') }); // (T, rot/2, 2)
      return byKey.get(key)!;
    });
    this.ropeTables = [...byKey.values()];
    this.states = s.layers.map((l) => {
      if (l.attention.kind === 'linear')
        return { capacity: 0, state: buf(s.num_attention_heads * s.head_dim * s.head_dim, 'lightning-state') };
      const capacity = l.attention.kind === 'sliding' ? l.attention.window : maxLen; // a ring of `window` rows
      const kw = s.num_key_value_heads * s.head_dim;
      return { capacity, kCache: buf(capacity * kw, 'k-cache'), vCache: buf(capacity * kw, 'v-cache') };
    });
  }

  /** Zero the sequence state (lightning states must start at 0; KV rings are overwritten). */
  reset(): void {
    this.length = 0;
    for (const st of this.states) if (st.state) this.ctx.queue.writeBuffer(st.state, 0, new Float32Array(st.state.size / 4));
  }

  /** bytes of the sequence state (KV rings and lightning states) */
  get stateBytes(): number {
    return this.states.reduce((a, s) => a + (s.kCache?.size ?? 0) * 2 + (s.state?.size ?? 0), 0);
  }

  /** Free the activation buffers, rope tables and sequence state. */
  protected destroyBuffers(): void {
    for (const r of this.ropeTables) r.cs.destroy();
    for (const b of [this.tok, this.x, this.h, this.q, this.k, this.v, this.o, this.qkv, this.g, this.a, this.rlog, this.ids, this.routeLog, this.wts, this.slots, this.predLog, this.predIds, this.predWts, this.eg, this.eu, this.ea, this.ey, this.logits, this.plan, this.order]) b.destroy();
    for (const st of this.states) for (const b of [st.kCache, st.vCache, st.state]) b?.destroy();
  }
}
