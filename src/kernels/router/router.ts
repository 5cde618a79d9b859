// Router (scores, selection bias, top-k, renormalize, scaling) and expert -> slot mapping.
// See router.wgsl, and route-fast.wgsl for the variant with a workgroup per token that also maps
// the choices to cache slots ('auto' picks it on GPUs).

import { bindingSize, linearGrid, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import type { MoeSpec } from '../../format/spec.ts';
import { writeSink } from '../matvec/matvec.ts';
import code from './router.wgsl?raw';
import fastCode from './route-fast.wgsl?raw';
import logitsCode from './router-logits.wgsl?raw';
import chooseCode from './route-choose.wgsl?raw';

const SRC = { label: 'router', code };
// route-fast's choice is route-choose.wgsl's (shared with the experts' routed gate + up; appended: WGSL has no includes)
const FAST = { label: 'route-fast', code: fastCode + chooseCode };
const LOGITS = { label: 'router-logits', code: logitsCode };
const WG = 64;

export interface RouteArgs {
  moe: Pick<MoeSpec, 'num_experts' | 'num_experts_per_tok' | 'scoring_func' | 'score_over' | 'norm_topk_prob' | 'routed_scaling_factor'>;
  T: number;
  /** router logits (T, logitsStride) f32 at logitsOffset (the router matvec output, bias included) */
  logits: BufferArg;
  logitsOffset?: number;
  logitsStride?: number;
  /** (E) e_score_correction_bias, for the choice only */
  selectionBias?: BufferArg;
  /** outputs (T, K): u32 expert ids and f32 weights, at entry outOffset */
  ids: BufferArg;
  weights: BufferArg;
  outOffset?: number;
  /** also map the choices to blob word offsets: slots[i] = table[tableOffset + ids[i]] (expertSlots) */
  slots?: { table: BufferArg; tableOffset?: number; out: BufferArg };
  /** 'auto' (default): a workgroup per token unless the adapter is a CPU one */
  variant?: 'auto' | 'simple' | 'fast';
}

/** The shared Params struct of router.wgsl, in declaration order; unset fields are 0. */
const FIELDS = ['tokens', 'experts', 'k', 'softmax', 'topk_logits', 'norm', 'has_sel_bias', 'scaling', 'l_offset', 'l_tstride', 'out_offset', 'n', 'i_offset', 't_offset', 's_offset'] as const;

function pack(v: Partial<Record<(typeof FIELDS)[number], number>>): ArrayBuffer {
  const p = new Params();
  for (const f of FIELDS) {
    if (f === 'scaling') p.f32(v[f] ?? 1);
    else p.u32(v[f] ?? 0);
  }
  return p.buffer;
}

/** main_norm's fields of route-fast.wgsl's Params (vec4 units for d4 and the offsets ending in 4). */
interface NormFields {
  d4: number;
  x_offset4: number;
  h_offset4: number;
  rw_offset4: number;
  rb_offset: number;
  has_rbias: number;
  eps: number;
}

/** route-fast.wgsl's Params (main_norm's fields 0 for main). */
function fastParams(a: Omit<RouteArgs, 'logits'>, stride: number, n: Partial<NormFields> = {}): ArrayBuffer {
  const out = a.outOffset ?? 0;
  return new Params()
    .u32(a.T).u32(a.moe.num_experts).u32(a.moe.num_experts_per_tok).bool(a.moe.scoring_func === 'softmax').bool(a.moe.score_over === 'topk_logits').bool(a.moe.norm_topk_prob)
    .bool(!!a.selectionBias).f32(a.moe.routed_scaling_factor).u32(a.logitsOffset ?? 0).u32(stride).u32(out)
    .bool(!!a.slots).u32(a.slots?.tableOffset ?? 0).u32(out)
    .u32(n.d4 ?? 0).u32(n.x_offset4 ?? 0).u32(n.h_offset4 ?? 0).u32(n.rw_offset4 ?? 0).u32(n.rb_offset ?? 0).u32(n.has_rbias ?? 0).f32(n.eps ?? 0).buffer;
}

/** Threads of route-fast: one per expert up to 256 (each tree reduction costs log2(WG) barriers; gpt-oss has 32). */
function fastWg(enc: GpuEncoder, E: number): number {
  return Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(E))), enc.ctx.limits.maxComputeInvocationsPerWorkgroup);
}

/** route-choose.wgsl's array sizes for E experts and top-K (its workgroup memory: 12 RC_E + 8 RC_K bytes). */
export function chooseSizes(E: number, K: number): { RC_E: number; RC_K: number } {
  return { RC_E: Math.ceil(E / 4) * 4, RC_K: K };
}

export interface RouteNormArgs extends Omit<RouteArgs, 'logits' | 'logitsOffset' | 'logitsStride' | 'variant'> {
  /** residual stream (T, D) f32 at float xOffset */
  x: BufferArg;
  xOffset?: number;
  D: number;
  /** (D) f32 RMSNorm weight and epsilon */
  norm: { w: BufferArg; eps: number };
  /** (E, D) f32 router weight, its (E) bias at float offset */
  router: BufferArg;
  bias?: { buffer: BufferArg; offset?: number };
  /** where the normed rows go (T, D) at float offset (the experts' input) */
  h: { buffer: BufferArg; offset?: number };
  /** (T, E) f32 scratch for the split form (routeTuning.split): router-logits, then route-fast main */
  logits?: BufferArg;
  /**
   * false: the split form's router-logits only, the choice left to the experts' routed gate + up
   * (routeTuning.inGateUp); needs `logits` and routeTuning.split
   */
  choose?: boolean;
}

/** Whether routeNorm runs here: 10 storage buffers per stage and 32 KiB of workgroup memory, D % 4 == 0 and <= 4096, E <= 1024. */
export function routeNormUsable(enc: GpuEncoder, a: { E: number; D: number }): boolean {
  const lim = enc.ctx.limits;
  return lim.maxStorageBuffersPerShaderStage >= 10 && lim.maxComputeWorkgroupStorageSize >= 32768 && a.D % 4 === 0 && a.D <= 4096 && a.E <= 1024;
}

/**
 * How routeNorm runs, tuned by the bench: `split` (where the caller gives a logits scratch) as
 * router-logits (a workgroup per expert row, `rowWg` threads) + route-fast main, else one
 * main_norm workgroup of up to `wg` threads (the device's limits may cut either). `inGateUp`:
 * where every expert is resident and the fused experts run, the forward pass leaves the choice
 * to their gate + up (gate_up_routed) and records no route-fast dispatch — for layers of at most
 * `inGateUpMaxE` experts: each of the gate + up's workgroups makes the choice, a cost that grows
 * with E (same-call A/B, H100, 12 layers, with route-choose-sg's subgroup rounds: gpt-oss E 32
 * +1.5-2.5%, Qwen3-30B-A3B E 128 +1-2%, MiniMax-M2 E 256 -1%; with route-choose's rank counting
 * in 64 threads MiniMax-M2 lost 10%).
 */
export const routeTuning = { wg: 1024, split: true, rowWg: 256, inGateUp: true, inGateUpMaxE: 128 };

/**
 * Norm, router product and routing of T tokens: h = rmsnorm(x) (to `h`), logits = router h + bias,
 * then `route`'s choice — as router-logits.wgsl + route-fast.wgsl main where `logits` scratch is
 * given and routeTuning.split, else in one dispatch (route-fast.wgsl main_norm).
 */
export function routeNorm(enc: GpuEncoder, a: RouteNormArgs): void {
  const E = a.moe.num_experts;
  const K = a.moe.num_experts_per_tok;
  const out = a.outOffset ?? 0;
  const xOffset = a.xOffset ?? 0;
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('routeNorm', msg);
  };
  check(a.choose !== false || (routeTuning.split && !!a.logits), 'choose: false needs the split form (routeTuning.split and a logits scratch)');
  check(routeNormUsable(enc, { E, D: a.D }), `needs 10 storage buffers and 32 KiB of workgroup memory, D % 4 == 0 and <= 4096 (D ${a.D}), E <= 1024 (E ${E})`);
  check(K >= 1 && K <= Math.min(E, 64), `top-k ${K} outside [1, min(E, 64)]`);
  check(xOffset % 4 === 0 && (a.h.offset ?? 0) % 4 === 0, 'x and h offsets must be multiples of 4');
  check(bindingSize(a.x) >= (xOffset + a.T * a.D) * 4, 'x binding too small');
  check(bindingSize(a.router) >= E * a.D * 4, `router binding smaller than ${E} x ${a.D} f32`);
  check(bindingSize(a.ids) >= (out + a.T * K) * 4 && bindingSize(a.weights) >= (out + a.T * K) * 4, `ids/weights smaller than ${a.T} x ${K}`);
  if (a.slots) check(bindingSize(a.slots.out) >= (out + a.T * K) * 4, 'slots binding too small');
  const dummy = enc.ctx.dummy;
  const outs = [a.ids, a.weights, a.slots?.table ?? dummy, a.slots?.out ?? writeSink(enc.ctx)];
  if (routeTuning.split && a.logits) {
    check(bindingSize(a.logits) >= a.T * E * 4, `logits scratch smaller than ${a.T} x ${E}`);
    const lp = new Params().u32(a.D / 4).u32(xOffset / 4).u32((a.h.offset ?? 0) / 4).u32(0).u32(a.bias?.offset ?? 0).bool(!!a.bias).f32(a.norm.eps).u32(0).u32(E).buffer;
    const rowWg = Math.min(routeTuning.rowWg, enc.ctx.limits.maxComputeInvocationsPerWorkgroup);
    enc.dispatch(enc.ctx.pipelines.get(LOGITS, 'main', { WG: rowWg }), lp, [a.x, a.norm.w, a.router, a.bias?.buffer ?? dummy, a.logits, a.h.buffer], [E, a.T]);
    if (a.choose === false) return;
    const rp = fastParams({ ...a, logitsOffset: 0 }, E);
    enc.dispatch(enc.ctx.pipelines.get(FAST, 'main', { WG: fastWg(enc, E), ...chooseSizes(E, K) }), rp, [a.logits, a.selectionBias ?? dummy, ...outs], [a.T]);
    return;
  }
  const p = fastParams(a, E, { d4: a.D / 4, x_offset4: xOffset / 4, h_offset4: (a.h.offset ?? 0) / 4, rb_offset: a.bias?.offset ?? 0, has_rbias: +!!a.bias, eps: a.norm.eps });
  // as many threads as the device allows (up to routeTuning.wg; workgroup memory: 16 KiB of x, the choice's arrays, 8 B per thread)
  const sizes = chooseSizes(E, K);
  const fixed = 16 * 1024 + 16 + 12 * sizes.RC_E + 8 * sizes.RC_K;
  const wg = Math.min(routeTuning.wg, enc.ctx.limits.maxComputeInvocationsPerWorkgroup, 2 ** Math.floor(Math.log2((enc.ctx.limits.maxComputeWorkgroupStorageSize - fixed) / 8)));
  const kernel = enc.ctx.pipelines.get(FAST, 'main_norm', { WG: wg, ...sizes });
  enc.dispatch(kernel, p, [null, a.selectionBias ?? dummy, ...outs, a.x, a.norm.w, a.router, a.bias?.buffer ?? dummy, a.h.buffer], [a.T]);
}

/** Record the routing of T tokens. */
export function route(enc: GpuEncoder, a: RouteArgs): void {
  const E = a.moe.num_experts;
  const K = a.moe.num_experts_per_tok;
  const stride = a.logitsStride ?? E;
  const out = a.outOffset ?? 0;
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('route', msg);
  };
  for (const [k, v] of Object.entries({ T: a.T, E, K }))
    check(Number.isInteger(v) && v >= 1, `${k} must be a positive integer, got ${v}`);
  check(K <= E, `top-k ${K} > experts ${E}`);
  check(stride >= E, `logitsStride ${stride} < experts ${E}`);
  check(bindingSize(a.logits) >= ((a.logitsOffset ?? 0) + (a.T - 1) * stride + E) * 4, 'logits binding too small');
  check(bindingSize(a.ids) >= (out + a.T * K) * 4 && bindingSize(a.weights) >= (out + a.T * K) * 4, `ids/weights smaller than ${a.T} x ${K}`);
  if (a.selectionBias) check(bindingSize(a.selectionBias) >= E * 4, `selection bias smaller than ${E}`);
  const variant = a.variant ?? 'auto';
  const fast = (variant === 'fast' || (variant === 'auto' && !enc.ctx.caps.fallbackAdapter)) && E <= 1024 && K <= 64;
  if (fast) {
    const p = fastParams(a, stride);
    if (a.slots) check(bindingSize(a.slots.out) >= (out + a.T * K) * 4, 'slots binding too small');
    const kernel = enc.ctx.pipelines.get(FAST, 'main', { WG: fastWg(enc, E), ...chooseSizes(E, K) });
    enc.dispatch(kernel, p, [a.logits, a.selectionBias ?? enc.ctx.dummy, a.ids, a.weights, a.slots?.table ?? enc.ctx.dummy, a.slots?.out ?? writeSink(enc.ctx)], [a.T]);
    return;
  }
  const params = pack({
    tokens: a.T,
    experts: E,
    k: K,
    softmax: +(a.moe.scoring_func === 'softmax'),
    topk_logits: +(a.moe.score_over === 'topk_logits'),
    norm: +a.moe.norm_topk_prob,
    has_sel_bias: +!!a.selectionBias,
    scaling: a.moe.routed_scaling_factor,
    l_offset: a.logitsOffset ?? 0,
    l_tstride: stride,
    out_offset: out,
  });
  const kernel = enc.ctx.pipelines.get(SRC, 'route', { WG });
  enc.dispatch(kernel, params, [a.logits, a.selectionBias ?? enc.ctx.dummy, a.ids, a.weights], linearGrid(a.T, WG));
  if (a.slots) expertSlots(enc, { n: a.T * K, ids: a.ids, idsOffset: out, table: a.slots.table, tableOffset: a.slots.tableOffset, slots: a.slots.out, slotsOffset: out });
}

export interface ExpertSlotsArgs {
  /** entries to map (T * K) */
  n: number;
  /** expert ids from `route` */
  ids: BufferArg;
  idsOffset?: number;
  /** expert -> blob word offset in the cache (written by the CPU when the cache changes) */
  table: BufferArg;
  tableOffset?: number;
  /** output word offsets, for matvec `slots` */
  slots: BufferArg;
  slotsOffset?: number;
}

/** Record slots[i] = table[ids[i]]: the indirection for expert matvecs when all chosen experts are resident. */
export function expertSlots(enc: GpuEncoder, a: ExpertSlotsArgs): void {
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('expertSlots', msg);
  };
  check(Number.isInteger(a.n) && a.n >= 1, `n must be a positive integer, got ${a.n}`);
  check(bindingSize(a.ids) >= ((a.idsOffset ?? 0) + a.n) * 4, 'ids binding too small');
  check(bindingSize(a.slots) >= ((a.slotsOffset ?? 0) + a.n) * 4, 'slots binding too small');
  const params = pack({ n: a.n, i_offset: a.idsOffset ?? 0, t_offset: a.tableOffset ?? 0, s_offset: a.slotsOffset ?? 0 });
  const kernel = enc.ctx.pipelines.get(SRC, 'expert_slots', { WG });
  enc.dispatch(kernel, params, [null, null, a.ids, null, a.table, a.slots], linearGrid(a.n, WG));
}
