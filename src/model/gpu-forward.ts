// The GPU forward pass: the same math as src/reference/forward.ts, recorded as kernel dispatches.
// One ModelSpec drives every family; there is no model-type branch, only the per-layer facts of the
// spec (attention kind, rope, q/k norm scope, biases, sinks, residual rule) and the MoE facts.
//
// Legend: T tokens in the chunk (T ≤ maxChunk), D hidden, Hq/Hkv heads, hd head_dim, qw = Hq·hd,
// kw = Hkv·hd (H·hd on linear layers), E experts, K top-k, I expert width, V vocab.
//
// A chunk is recorded into as few command buffers as the expert cache allows: with every expert
// resident it is ONE encoder (router ids → slot offsets on the GPU); when streaming, each layer's
// routed ids are read back, the cache makes them resident, and recording resumes. The buffers it
// records against (activations, KV rings, rope tables, logits) are allocated in gpu-buffers.ts.

import type { GpuContext } from '../gpu/device.ts';
import type { GpuEncoder, Tape, UniformSlot } from '../gpu/encoder.ts';
import type { ModelSpec } from '../format/spec.ts';
import { embedding } from '../kernels/embedding/embedding.ts';
import { rmsnorm } from '../kernels/rmsnorm/rmsnorm.ts';
import { fastMatvecPlan, fitsL2, matvec, matvecSegments, matvecTuning, type MatvecNorm } from '../kernels/matvec/matvec.ts';
import { rope, ropeCosSin, ropeKv, ropeKvApplies } from '../kernels/rope/rope.ts';
import { ATTENTION_DECODE_POS_WORD, attention, attentionDecode, attentionDecodeNormUsable, attentionDecodeUsable, type AttentionDecodeArgs } from '../kernels/attention/attention.ts';
import { kvWrite } from '../kernels/kv-cache/kv-cache.ts';
import { lightning } from '../kernels/lightning/lightning.ts';
import { clampInPlace, sigmoidGate, siluInPlace } from '../kernels/elementwise/elementwise.ts';
import { route, routeNorm, routeNormUsable, routeTuning } from '../kernels/router/router.ts';
import { fusedMoeUsable } from '../kernels/matvec/moe-fused.ts';
import { matmulTiled, matmulTiledQkv, tiledUsable, PLAN_MAX_EXPERTS } from '../kernels/matvec/matmul-tiled.ts';
import { recordExperts, routesInGateUp, slotRuns, type ExpertBuffers, type ExpertLayer } from './gpu-experts.ts';
import { argmax } from '../kernels/argmax/argmax.ts';
import type { MatvecVariant } from '../kernels/matvec/matvec.ts';
import type { ExpertCache } from '../experts/cache.ts';
import type { ExpertLayout } from '../format/quant-layout.ts';
import { bindTensor, floatArg, qkvTiledArgs, type GpuTensor, type GpuWeights } from './gpu-weights.ts';
import { ForwardBuffers } from './gpu-buffers.ts';


/** A recorded decode step (see GpuEncoder.capture): replayed with the attention position patched. */
interface DecodeTape {
  key: string;
  tape: Tape;
  /** params of each attentionDecode dispatch (their pos0 word changes every step) */
  positions: UniformSlot[];
}

export class GpuForward extends ForwardBuffers {
  /** record the last token's routing in resident mode (forwardChunk; not the greedy fast path) */
  private logRoutes = false;
  /**
   * kernel variants: 'auto' (fast kernels where the adapter has them), 'simple' (the reference
   * kernels), 'fast' (the fast kernels even on CPU adapters, where 'auto' keeps the simple norm,
   * attention and router: for tests)
   */
  variant: MatvecVariant = 'auto';
  /** the fused expert kernels apply to this model on this adapter */
  private readonly fusedMoe: boolean;
  /** the grouped (tiled, per-expert) prefill kernels apply to this model */
  private readonly groupedMoe: boolean;
  /** the last chunk: dispatches recorded, submits, and CPU milliseconds spent recording */
  readonly lastChunk = { dispatches: 0, submits: 0, encodeMs: 0, replayed: false, replayedSegments: 0 };
  /**
   * Replay the recorded dispatches of a decode step (T = 1, every expert resident) instead of
   * running the kernel wrappers again; only the attention position differs between such steps.
   * Off: every step is recorded from scratch (tests compare the two).
   */
  replay = true;
  private tape: DecodeTape | null = null;
  /** streaming: the experts the previous layer's prediction expects at `layer` */
  private predicted: { layer: number; experts: number[] } | null = null;
  /** while capturing a decode step: the attentionDecode params slots */
  private capturing: UniformSlot[] | null = null;
  /**
   * Streaming decode steps submit per layer, so they are taped per segment (a layer's attention
   * and routing, its experts, the head): `segKey` is the step's key while those tapes apply.
   */
  private segKey: string | null = null;
  private readonly segTapes = new Map<string, DecodeTape>();

  constructor(
    ctx: GpuContext,
    spec: ModelSpec,
    private readonly w: GpuWeights,
    readonly experts: ExpertCache,
    private readonly layout: ExpertLayout,
    maxLen: number,
    maxChunk = 64,
  ) {
    super(ctx, spec, maxLen, maxChunk);
    const s = spec;
    this.fusedMoe = fusedMoeUsable(ctx, layout);
    this.groupedMoe = tiledUsable({ cols: s.hidden_size }) && tiledUsable({ cols: s.moe.moe_intermediate_size }) && s.moe.num_experts <= PLAN_MAX_EXPERTS;
  }

  /**
   * Run T ≤ maxChunk prompt tokens whose logits nobody reads (a prompt's chunks before its last):
   * no LM head, no readback; with every expert resident it returns once the work is submitted.
   */
  async prefillChunk(tokens: number[]): Promise<void> {
    this.finish(await this.encodeLayers(tokens));
    this.length += tokens.length;
    this.ctx.check();
  }

  /**
   * Run T ≤ maxChunk new tokens. Returns logits rows: all T when `allLogits`, else the last one.
   */
  async forwardChunk(tokens: number[], allLogits: boolean): Promise<Float32Array[]> {
    const T = tokens.length;
    const rows = allLogits ? T : 1;
    if (rows > this.logitRows) {
      this.logits.destroy();
      this.logitRows = rows;
      this.logits = this.ctx.createBuffer(rows * this.V * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'logits');
    }
    this.logRoutes = this.experts.resident;
    const enc = await this.encodeLayers(tokens);
    this.logRoutes = false;
    this.head(enc, T, rows);
    const p = enc.read(this.logits, 0, rows * this.V * 4);
    const K = this.spec.moe.num_experts_per_tok;
    const routesP = this.experts.resident ? enc.read(this.routeLog, 0, this.spec.num_hidden_layers * K * 4) : null;
    this.finish(enc);
    this.length += T;
    const out = new Float32Array(await p);
    if (routesP) {
      // every expert is resident: each routed expert of the last token is a hit (UI heatmap)
      const r = new Uint32Array(await routesP);
      this.experts.lastRouting = Array.from(r, (expert, i) => ({ layer: Math.floor(i / K), expert, hit: true }));
    }
    this.ctx.check();
    return Array.from({ length: rows }, (_, r) => out.subarray(r * this.V, (r + 1) * this.V));
  }

  /**
   * Run the chunk and choose the greedy next token on the GPU (argmax of the last row; `banned`
   * ids never chosen), which also becomes the input of a following `stepArgmax(null)`: pass null
   * to continue from the token chosen by the previous step without a round trip through the CPU.
   * Returns once the work is submitted (with every expert resident, nothing waits on the GPU), so
   * the caller can queue the next step before awaiting `id`.
   */
  async stepArgmax(tokens: number[] | null, banned?: { buffer: GPUBuffer; count: number }): Promise<{ id: Promise<number> }> {
    const T = tokens ? tokens.length : 1;
    const key = this.tapeKey(T, banned);
    const whole = key !== null && this.experts.resident; // one submit: the whole step is one tape
    const enc = await this.encodeLayers(tokens, whole ? key : null, whole && this.tape?.key === key ? this.tape : null, whole ? null : key);
    if (!this.lastChunk.replayed) {
      this.taped(enc, 'head', () => {
        this.head(enc, T, 1);
        argmax(enc, { logits: this.logits, n: this.V, banned, out: this.tok, variant: this.kv });
      });
      this.segKey = null;
      if (this.capturing) {
        const tape = enc.endCapture();
        this.tape = tape && key !== null ? { key, tape, positions: this.capturing } : null;
        this.capturing = null;
      }
    }
    const p = enc.read(this.tok, 0, 4);
    this.finish(enc);
    this.length += T;
    return { id: p.then((b) => new Uint32Array(b)[0]) };
  }

  /**
   * What a decode step's recording depends on besides the position: null when it is not
   * replayable (several tokens, streaming experts, routes logged, replay off).
   */
  private tapeKey(T: number, banned?: { buffer: GPUBuffer; count: number }): string | null {
    if (!this.replay || T !== 1 || this.logRoutes) return null;
    const b = banned ? `${this.ctx.idOf(banned.buffer)}:${banned.count}` : '-';
    return `${this.variant}|${b}|${this.ctx.idOf(this.logits)}|${JSON.stringify(matvecTuning)}|${JSON.stringify(routeTuning)}`;
  }

  /**
   * Record `record`'s dispatches into the fresh encoder `enc`, or replay them from the segment
   * tape `name` (streaming decode steps, see segKey); without a segment key just record.
   */
  private taped(enc: GpuEncoder, name: string, record: () => void): void {
    const key = this.segKey;
    if (key === null) return record();
    const t = this.segTapes.get(name);
    if (t && t.key === key && enc.replay(t.tape)) {
      for (const at of t.positions) enc.patchU32(at, ATTENTION_DECODE_POS_WORD, this.length);
      this.lastChunk.replayedSegments++;
      return;
    }
    this.capturing = enc.capture() ? [] : null;
    record();
    const tape = this.capturing ? enc.endCapture() : null;
    if (tape) this.segTapes.set(name, { key, tape, positions: this.capturing! });
    else this.segTapes.delete(name);
    this.capturing = null;
  }

  /** Final norm + LM head over the last `rows` of the chunk's T tokens, into `logits`. */
  private head(enc: GpuEncoder, T: number, rows: number): void {
    const first = T - rows;
    const eps = this.spec.rms_norm_eps;
    if (this.fusedNorm(rows)) {
      this.linear(enc, this.w.lmHead, this.x, this.logits, rows, undefined, first * this.D, { w: this.w.finalNorm.buffer, eps });
      return;
    }
    rmsnorm(enc, { T: rows, n: this.D, eps, x: this.x, xOffset: first * this.D, y: this.h, w: this.w.finalNorm.buffer, variant: this.kv });
    this.linear(enc, this.w.lmHead, this.h, this.logits, rows);
  }

  /** Submit `enc` (after `before`, in the same queue.submit), counted in lastChunk. */
  private submit(enc: GpuEncoder, before?: GPUCommandBuffer[]): void {
    this.lastChunk.dispatches += enc.dispatches;
    this.lastChunk.submits++;
    enc.submit(before);
  }

  /** The chunk's last submit. */
  private finish(enc: GpuEncoder): void {
    this.submit(enc);
    this.lastChunk.encodeMs += performance.now() - this.encodeStart;
  }

  private encodeStart = 0;

  /**
   * Embedding and every layer for the chunk (tokens: ids to upload; null: one token whose id is
   * already in the token buffer). Returns the encoder to continue recording into, unsubmitted.
   */
  private async encodeLayers(tokens: number[] | null, captureKey: string | null = null, tape: DecodeTape | null = null, segKey: string | null = null): Promise<GpuEncoder> {
    const T = tokens ? tokens.length : 1;
    const s = this.spec;
    if (T < 1 || T > this.maxChunk) throw new RangeError(`chunk of ${T} tokens (1..${this.maxChunk})`);
    if (this.length + T > this.maxLen) throw new RangeError(`context length ${this.maxLen} exceeded (${this.length} + ${T} tokens)`);
    if (tokens) for (const t of tokens) if (!Number.isInteger(t) || t < 0 || t >= s.vocab_size) throw new RangeError(`token id ${t} is outside the vocabulary [0, ${s.vocab_size})`);
    const ctx = this.ctx;
    Object.assign(this.lastChunk, { dispatches: 0, submits: 0, encodeMs: 0, replayed: false, replayedSegments: 0 });
    this.encodeStart = performance.now();
    if (tokens) ctx.queue.writeBuffer(this.tok, 0, Uint32Array.from(tokens));
    this.experts.beginToken();
    // cos/sin rows for positions length .. length+T-1, one table per distinct rope
    for (const r of this.ropeTables) ctx.queue.writeBuffer(r.cs, 0, ropeCosSin(r.table, this.length, T) as Float32Array<ArrayBuffer>);
    let enc = ctx.encoder('chunk');
    if (tape && enc.replay(tape.tape)) {
      for (const at of tape.positions) enc.patchU32(at, ATTENTION_DECODE_POS_WORD, this.length);
      this.experts.stats.hits += s.num_hidden_layers * s.moe.num_experts_per_tok; // every routed expert is resident
      this.lastChunk.replayed = true;
      return enc;
    }
    this.capturing = captureKey !== null && enc.capture() ? [] : null;
    this.segKey = segKey;
    for (let L = 0; L < s.num_hidden_layers; L++) {
      const e = enc;
      this.taped(e, `layer${L}`, () => {
        if (L === 0) embedding(e, { kind: this.w.embed.quant, vocab: s.vocab_size, dim: this.D, table: this.w.embed.buffer, tokens: this.tok, T, y: this.x });
        this.attentionBlock(e, L, T);
        this.routerBlock(e, L, T);
      });
      enc = await this.moeBlock(enc, L, T);
      // several tokens: submit each layer once recorded, so the GPU runs it while the CPU records
      // the next (ARCHITECTURE: 12-47 ms of recording for a 512-token prefill); streaming submits itself
      if (T > 1 && L + 1 < s.num_hidden_layers && !this.capturing && this.experts.resident) {
        this.submit(enc);
        enc = ctx.encoder('chunk');
      }
    }
    return enc;
  }

  /** y (T, rows) = x (T, cols) Wᵀ (+ bias); small matrices of under 512 rows (routers) per token: a tiled grid would be a few workgroups. */
  private linear(enc: GpuEncoder, W: GpuTensor, x: GPUBuffer, y: GPUBuffer, T: number, bias?: GpuTensor, xOffset = 0, norm?: MatvecNorm): void {
    const [rows, cols] = W.shape;
    const a = { kind: W.quant, rows, cols, w: bindTensor(W), x, xOffset, y, bias: floatArg(bias) };
    if (!norm && !(rows < 512 && fitsL2(W.quant, rows, cols)) && this.tiled(T, cols, xOffset)) matmulTiled(enc, { ...a, T });
    else matvec(enc, { ...a, problems: T, variant: this.mv, norm });
  }

  /** Variant for matvec calls (which choose between the two by shape under 'auto'). */
  private get mv(): MatvecVariant {
    return this.variant === 'fast' ? 'auto' : this.variant;
  }

  /** Variant for the norm / attention / router kernels ('simple' runs the reference twins). */
  private get kv(): MatvecVariant {
    return this.variant;
  }

  /** Decode-sized chunks fold the rmsnorm before a projection into the fast matvec. */
  private fusedNorm(T: number): boolean {
    return this.variant !== 'simple' && T < 4 && fastMatvecPlan(this.ctx, { cols: this.D });
  }

  /** Dense products of T >= 4 tokens go through the tiled matmul (fast kernels, aligned shapes). */
  private tiled(T: number, cols: number, xOffset = 0): boolean {
    return this.variant !== 'simple' && T >= 4 && tiledUsable({ cols, xOffset });
  }

  private attentionBlock(enc: GpuEncoder, L: number, T: number): void {
    const s = this.spec;
    const ls = s.layers[L];
    const lw = this.w.layers[L];
    const st = this.states[L];
    const D = this.D;
    const hd = s.head_dim;
    const Hq = s.num_attention_heads;
    const linear = ls.attention.kind === 'linear';
    const Hkv = linear ? Hq : s.num_key_value_heads;
    const qw = this.qw;
    const kw = Hkv * hd;
    const eps = s.rms_norm_eps;
    // input norm: fused into the q/k/v products for decode (q's also writes h), else its own pass
    const fused = this.fusedNorm(T);
    const xin = fused ? this.x : this.h;
    const nrm = fused ? { w: lw.input_norm!.buffer, eps } : undefined;
    if (!fused) rmsnorm(enc, { T, n: D, eps, x: this.x, y: this.h, w: lw.input_norm!.buffer, variant: this.kv });
    const r = this.ropes[L];
    const decodeAtt = T === 1 && !linear && !!r && this.variant !== 'simple' && (this.variant === 'fast' || attentionDecodeUsable(enc, { hd, rotaryDim: r.table.rotaryDim }));
    const qkNorm = ls.qk_norm === 'none' ? undefined : { mode: ls.qk_norm, eps, q: lw.q_norm!.buffer, k: lw.k_norm!.buffer };
    if (decodeAtt && fused && lw.qkv && s.clip_qkv === null && (!qkNorm || attentionDecodeNormUsable(this.ctx))) {
      // decode: q, k and v as one product (their weights share a buffer) into qkv, then attention
      // reads it (and applies the q / k norms)
      matvecSegments(enc, {
        kind: lw.q_proj!.quant, cols: D, w: lw.q_proj!.buffer, mats: lw.qkv.mats, table: { buffer: lw.qkv.table },
        x: this.x, y: this.qkv, bias: lw.q_bias?.buffer, norm: { ...nrm!, out: { buffer: this.h } }, variant: this.mv,
      });
      const [, k, v] = lw.qkv.mats;
      this.decodeAttention(enc, L, { q: this.qkv, k: this.qkv, v: this.qkv, kOffset: k.yOffset, vOffset: v.yOffset, qkNorm });
      return;
    }
    if (!nrm && lw.qkv && this.tiled(T, D)) matmulTiledQkv(enc, { ...qkvTiledArgs(lw, lw.qkv), cols: D, T, x: xin, ys: [this.q, this.k, this.v] });
    else {
      this.linear(enc, lw.q_proj!, xin, this.q, T, lw.q_bias, 0, nrm && { ...nrm, out: { buffer: this.h } });
      this.linear(enc, lw.k_proj!, xin, this.k, T, lw.k_bias, 0, nrm);
      this.linear(enc, lw.v_proj!, xin, this.v, T, lw.v_bias, 0, nrm);
    }
    if (ls.qk_norm === 'whole_projection') {
      rmsnorm(enc, { T, n: qw, eps, y: this.q, w: lw.q_norm!.buffer, variant: this.kv });
      rmsnorm(enc, { T, n: kw, eps, y: this.k, w: lw.k_norm!.buffer, variant: this.kv });
    } else if (ls.qk_norm === 'per_head') {
      rmsnorm(enc, { T, heads: Hq, n: hd, eps, y: this.q, w: lw.q_norm!.buffer, variant: this.kv });
      rmsnorm(enc, { T, heads: Hkv, n: hd, eps, y: this.k, w: lw.k_norm!.buffer, variant: this.kv });
    }
    if (s.clip_qkv !== null) {
      clampInPlace(enc, { n: T * qw, x: this.q, limit: s.clip_qkv });
      clampInPlace(enc, { n: T * kw, x: this.k, limit: s.clip_qkv });
      clampInPlace(enc, { n: T * kw, x: this.v, limit: s.clip_qkv });
    }
    const att = ls.attention;
    if (att.kind === 'linear') {
      siluInPlace(enc, { n: T * qw, x: this.q });
      siluInPlace(enc, { n: T * kw, x: this.k });
      siluInPlace(enc, { n: T * kw, x: this.v });
      lightning(enc, { T, nHeads: Hq, hd, q: this.q, k: this.k, v: this.v, decay: lw.decay!, state: st.state!, out: this.o, blockSize: att.block_size });
      rmsnorm(enc, { T, n: qw, eps: att.out_norm_eps, y: this.o, w: lw.attn_out_norm!.buffer, variant: this.kv });
      this.linear(enc, lw.attn_gate!, this.h, this.g, T);
      sigmoidGate(enc, { n: T * qw, x: this.o, gate: this.g });
    } else if (decodeAtt) {
      this.decodeAttention(enc, L, { q: this.q, k: this.k, v: this.v });
      return;
    } else {
      const pos0 = this.length;
      const window = att.kind === 'sliding' ? att.window : null;
      // these kernels take the position in their params: a step recorded here is not replayable
      this.capturing = null;
      // else: q/k rotation and the ring write in one pass when safe, before attention (see rope-kv.wgsl)
      const early = !!r && this.variant !== 'simple' && ropeKvApplies(T, pos0, st.capacity);
      if (early) {
        ropeKv(enc, { T, nHeads: Hq, nKv: Hkv, hd, rotaryDim: r!.table.rotaryDim, pos0, capacity: st.capacity, q: this.q, k: this.k, v: this.v, kCache: st.kCache!, vCache: st.vCache!, cs: r!.cs });
      } else if (r) {
        rope(enc, { T, heads: Hq, hd, rotaryDim: r.table.rotaryDim, x: this.q, cs: r.cs });
        rope(enc, { T, heads: Hkv, hd, rotaryDim: r.table.rotaryDim, x: this.k, cs: r.cs });
      }
      attention(enc, {
        T, nHeads: Hq, nKv: Hkv, hd, pos0, capacity: st.capacity, window,
        q: this.q, k: this.k, v: this.v, kCache: st.kCache!, vCache: st.vCache!, sinks: lw.sinks?.buffer, out: this.o, variant: this.kv,
      });
      if (!early) kvWrite(enc, { T, width: kw, pos0, capacity: st.capacity, k: this.k, v: this.v, kCache: st.kCache!, vCache: st.vCache! });
    }
    this.oProj(enc, L, T);
  }

  /** Decode (T = 1): rope, ring write and attention in one pass (attention-decode.wgsl), then o_proj; a capture notes its params (position word). */
  private decodeAttention(enc: GpuEncoder, L: number, src: Pick<AttentionDecodeArgs, 'q' | 'k' | 'v' | 'kOffset' | 'vOffset' | 'qkNorm'>): void {
    const s = this.spec;
    const att = s.layers[L].attention;
    const st = this.states[L];
    const r = this.ropes[L]!;
    attentionDecode(enc, {
      nHeads: s.num_attention_heads, nKv: s.num_key_value_heads, hd: s.head_dim, pos0: this.length, capacity: st.capacity, window: att.kind === 'sliding' ? att.window : null,
      ...src, kCache: st.kCache!, vCache: st.vCache!, sinks: this.w.layers[L].sinks?.buffer, out: this.o, cs: r.cs, rotaryDim: r.table.rotaryDim,
    }, true);
    if (this.capturing) this.capturing.push(enc.lastUniform!);
    this.oProj(enc, L, 1);
  }

  /** o_proj straight into the residual stream: x = alpha (h | x) + beta (W o + b). */
  private oProj(enc: GpuEncoder, L: number, T: number): void {
    const lw = this.w.layers[L];
    const r = this.spec.layers[L].residual;
    const [rows, cols] = lw.o_proj!.shape;
    const o = { kind: lw.o_proj!.quant, rows, cols, w: bindTensor(lw.o_proj!), x: this.o, y: this.x, bias: floatArg(lw.o_bias) };
    const res = { alpha: r.attn_alpha, beta: r.attn_beta, from: r.from_normed ? this.h : undefined };
    if (this.tiled(T, cols)) matmulTiled(enc, { ...o, T, residual: res });
    else matvec(enc, { ...o, problems: T, variant: this.mv, residual: res });
  }

  /**
   * Post-attention norm, router and top-k; when streaming with prefetch, also the next layer's
   * router on this layer's normed state (the predictor).
   */
  private routerBlock(enc: GpuEncoder, L: number, T: number): void {
    const [m, lw, eps] = [this.spec.moe, this.w.layers[L], this.spec.rms_norm_eps];
    // with every expert resident, the choices map to cache slots in the same pass
    const slots = this.experts.resident ? { table: this.experts.table!, tableOffset: L * m.num_experts, out: this.slots } : undefined;
    const choice = { moe: m, T, selectionBias: lw.selection_bias?.buffer, ids: this.ids, weights: this.wts, slots };
    const later = this.choiceInGateUp(L, T); // the experts' gate + up makes the choice (moeBlock)
    if (this.fusedNorm(T) && lw.router!.quant === 'f32' && routeNormUsable(enc, { E: m.num_experts, D: this.D })) {
      // decode: post-attention norm (to h), router product and choice (routeNorm: the router read by a workgroup per expert)
      routeNorm(enc, { ...choice, x: this.x, D: this.D, norm: { w: lw.post_norm!.buffer, eps }, router: bindTensor(lw.router!), bias: floatArg(lw.router_bias), h: { buffer: this.h }, logits: this.rlog, choose: !later });
    } else {
      // post-attention norm: fused into the router product for decode (which writes h), else its own pass
      const fused = this.fusedNorm(T);
      if (!fused) rmsnorm(enc, { T, n: this.D, eps, x: this.x, y: this.h, w: lw.post_norm!.buffer, variant: this.kv });
      this.linear(enc, lw.router!, fused ? this.x : this.h, this.rlog, T, lw.router_bias, 0, fused ? { w: lw.post_norm!.buffer, eps, out: { buffer: this.h } } : undefined);
      if (!later) route(enc, { ...choice, logits: this.rlog, variant: this.kv });
    }
    const next = this.predictorFor(L);
    if (next) {
      this.linear(enc, next.router!, this.h, this.predLog, T, next.router_bias);
      route(enc, { moe: m, T, logits: this.predLog, selectionBias: next.selection_bias?.buffer, ids: this.predIds, weights: this.predWts, variant: this.kv });
    }
  }

  /** Every expert resident, and recordExperts' fused gate + up can choose from the router logits (routeNorm's split form or the unfused router). */
  private choiceInGateUp(L: number, T: number): boolean {
    return this.experts.resident && routeTuning.split && routesInGateUp(this.ctx, this.expertLayer(L), T);
  }

  private expertLayer(L: number, routed = false): ExpertLayer {
    const simple = this.variant === 'simple';
    const sb = this.w.layers[L].selection_bias?.buffer;
    const route = routed ? { logits: this.rlog, selectionBias: sb, table: this.experts.table!, tableOffset: L * this.spec.moe.num_experts } : undefined;
    const [fused, groupedFrom] = [!simple && this.fusedMoe, !simple && this.groupedMoe ? 1 : 0];
    return { moe: this.spec.moe, layout: this.layout, D: this.D, arena: this.experts.arena(L), residual: this.spec.layers[L].residual, variant: this.mv, fused, groupedFrom, route };
  }

  /** The next layer's weights when this layer predicts its experts (streaming with prefetch). */
  private predictorFor(L: number): GpuWeights['layers'][number] | null {
    return L + 1 < this.spec.num_hidden_layers && this.experts.prefetching ? this.w.layers[L + 1] : null;
  }

  /** Experts → combine → residual, after routerBlock. Returns the encoder to continue recording into. */
  private async moeBlock(enc: GpuEncoder, L: number, T: number): Promise<GpuEncoder> {
    const K = this.spec.moe.num_experts_per_tok;
    const cache = this.experts;
    const layer = this.expertLayer(L, this.choiceInGateUp(L, T));
    const bufs: ExpertBuffers = { x: this.x, h: this.h, slots: this.slots, wts: this.wts, eg: this.eg, eu: this.eu, ea: this.ea, ey: this.ey, a: this.a, ids: this.ids, plan: this.plan, order: this.order };
    if (cache.resident) {
      recordExperts(enc, layer, bufs, 0, T);
      if (this.logRoutes) enc.copy(this.ids, (T - 1) * K * 4, this.routeLog, L * K * 4, K * 4);
      cache.stats.hits += T * K;
      return enc;
    }
    // streaming: read back the routed ids, make them resident run by run of consecutive tokens
    // whose union of experts fits the layer's slots (slotRuns), then record their expert work.
    // Prefetch: the next layer's router applied to this layer's normed hidden state is a cheap
    // predictor of its experts; their store reads start now and overlap this layer's work.
    const predP = this.predictorFor(L) ? enc.read(this.predIds, 0, T * K * 4) : null;
    const idsP = enc.read(this.ids, 0, T * K * 4);
    this.submit(enc);
    // while the routing is read back: upload the experts the previous layer predicted for this one
    const guess = this.predicted;
    if (guess?.layer === L) {
      let arrived = false;
      idsP.then(() => (arrived = true), () => (arrived = true));
      await cache.speculate(L, guess.experts, () => arrived);
    }
    const ids = new Uint32Array(await idsP);
    if (predP) {
      const pred = [...new Set(new Uint32Array(await predP))];
      cache.prefetch(L + 1, pred);
      this.predicted = { layer: L + 1, experts: pred };
    }
    this.ctx.check();
    const slotWords = new Uint32Array(T * K);
    for (const { t0, t1, experts } of slotRuns(ids, T, K, cache.slotsPerLayer)) {
      const words = await cache.ensure(L, experts, true);
      const at = new Map(experts.map((e, i) => [e, words[i]]));
      for (let i = t0 * K; i < t1 * K; i++) slotWords[i] = at.get(ids[i])!;
      this.ctx.queue.writeBuffer(this.slots, t0 * K * 4, slotWords, t0 * K, (t1 - t0) * K);
      const e = this.ctx.encoder('experts');
      this.taped(e, `experts${L}`, () => recordExperts(e, layer, bufs, t0, t1 - t0));
      this.submit(e, cache.takeUploads()); // the uploads and the experts in one submit
      cache.uploadsSubmitted();
    }
    return this.ctx.encoder('chunk');
  }

  destroy(): void {
    this.tape = null;
    this.segTapes.clear();
    this.destroyBuffers();
  }
}
