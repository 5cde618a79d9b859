// Fused expert products of matvec-fast.wgsl (entry points gate_up and down_sum): gate + up +
// activation in one pass over the two matrices, and down + weighted combine + residual in one.
// They replace matvec, matvec, swiglu (3 dispatches, two (T K, I) round trips through memory) and
// matvec, combine, residual (3 dispatches). Fast variant only: check `fusedMoeUsable` first; the
// unfused kernels remain the path for adapters without subgroups.

import { bindingSize, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import type { ExpertActivation } from '../../format/spec.ts';
import type { ExpertLayout } from '../../format/quant-layout.ts';
import type { MoeSpec } from '../../format/spec.ts';
import { chooseSizes } from '../router/router.ts';
import { fastKernel, fastMatvecPlan, packFastParams, type MatvecResidual } from './matvec.ts';
import { geometryFor } from './matvec-geometry.ts';

/** The fused expert kernels apply to this layout (D, I multiples of 32, aligned sections). */
export function fusedMoeUsable(ctx: GpuContext, layout: ExpertLayout): boolean {
  const [I, D] = layout.gate.shape;
  return (
    fastMatvecPlan(ctx, { cols: D, wOffset: layout.gate.offset }) &&
    fastMatvecPlan(ctx, { cols: D, wOffset: layout.up.offset }) &&
    fastMatvecPlan(ctx, { cols: I, wOffset: layout.down.offset }) &&
    layout.gate.quant === layout.up.quant
  );
}

export interface ExpertGateUpArgs {
  layout: ExpertLayout;
  activation: ExpertActivation;
  /** (token, expert) problems, ordered (t, k): problem p reads x row floor(p / xDiv) */
  problems: number;
  xDiv: number;
  /** the expert cache arena holding the slots */
  arena: BufferArg;
  /** per-problem blob word offsets inside the arena, at entry slotsOffset */
  slots: BufferArg;
  slotsOffset?: number;
  /** normed hidden states (T, D) at xOffset */
  x: BufferArg;
  xOffset?: number;
  /** activations (problems, I) at outOffset */
  out: BufferArg;
  outOffset?: number;
  /**
   * Decode with every expert resident: choose the experts inside this dispatch from the router
   * logits (gate_up_routed; check routedGateUpUsable) instead of reading `slots`, which then is
   * the layer's expert -> slot table at slotsOffset; problems = T K, xDiv = K.
   */
  route?: ExpertRouting;
}

/** The choice gate_up_routed makes and writes (route-fast's inputs and outputs). */
export interface ExpertRouting {
  moe: Pick<MoeSpec, 'num_experts' | 'num_experts_per_tok' | 'scoring_func' | 'score_over' | 'norm_topk_prob' | 'routed_scaling_factor'>;
  /** router logits (T, E) at logitsOffset */
  logits: BufferArg;
  logitsOffset?: number;
  selectionBias?: BufferArg;
  /** outputs (T, K) at outOffset: expert ids, weights, slots (for down_sum) */
  ids: BufferArg;
  weights: BufferArg;
  slots: BufferArg;
  outOffset?: number;
}

/**
 * Whether expertGateUp can make the choice itself for this layout and E experts: the wide design
 * for its gate + up, 11 storage buffers a stage, E <= 8 threads, and the choice's arrays within
 * workgroup memory.
 */
export function routedGateUpUsable(ctx: GpuContext, layout: ExpertLayout, moe: { num_experts: number; num_experts_per_tok: number }, T: number): boolean {
  const [I, D] = layout.gate.shape;
  const K = moe.num_experts_per_tok;
  const g = geometryFor(ctx, layout.gate.quant, { rows: I, cols: D, problems: T * K, mats: 2 }, 'gate_up');
  const { RC_E, RC_K } = chooseSizes(moe.num_experts, K);
  return (
    fusedMoeUsable(ctx, layout) && (g.design === 'wide' || g.design === 'dp') &&
    ctx.limits.maxStorageBuffersPerShaderStage >= 11 && K <= 64 && moe.num_experts <= 8 * g.wg &&
    8 * RC_E + 8 * RC_K + 16 * g.wg + 4096 <= ctx.limits.maxComputeWorkgroupStorageSize
  );
}

/** a[p] = act(gate_p x + bg, up_p x + bu) for every problem (one dispatch). */
export function expertGateUp(enc: GpuEncoder, a: ExpertGateUpArgs): void {
  const L = a.layout;
  const [I, D] = L.gate.shape;
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('expertGateUp', msg);
  };
  check(fusedMoeUsable(enc.ctx, L), 'needs the fast matvec (subgroups, D and I multiples of 32)');
  check(Number.isInteger(a.problems) && a.problems >= 1 && Number.isInteger(a.xDiv) && a.xDiv >= 1, 'problems and xDiv must be positive integers');
  const xOffset = a.xOffset ?? 0;
  const outOffset = a.outOffset ?? 0;
  check(xOffset % 4 === 0, `xOffset ${xOffset} must be a multiple of 4`);
  check(bindingSize(a.x) >= (xOffset + Math.ceil(a.problems / a.xDiv) * D) * 4, 'x binding too small');
  check(bindingSize(a.out) >= (outOffset + a.problems * I) * 4, 'out binding too small');
  const r = a.route;
  if (r) {
    const E = r.moe.num_experts;
    const K = r.moe.num_experts_per_tok;
    check(routedGateUpUsable(enc.ctx, L, r.moe, a.problems / K), 'the routed gate + up needs the wide design, 11 storage buffers and its workgroup memory');
    check(a.xDiv === K && a.problems % K === 0, `routed: problems ${a.problems} must be T x K (${K}) and xDiv K`);
    const T = a.problems / K;
    check(bindingSize(r.logits) >= ((r.logitsOffset ?? 0) + T * E) * 4, `logits smaller than ${T} x ${E}`);
    check(bindingSize(a.slots) >= ((a.slotsOffset ?? 0) + E) * 4, `slot table smaller than ${E}`);
    for (const [n, b] of [['ids', r.ids], ['weights', r.weights], ['slots', r.slots]] as const)
      check(bindingSize(b) >= ((r.outOffset ?? 0) + T * K) * 4, `${n} smaller than ${T} x ${K}`);
    if (r.selectionBias) check(bindingSize(r.selectionBias) >= E * 4, `selection bias smaller than ${E}`);
  } else check(bindingSize(a.slots) >= ((a.slotsOffset ?? 0) + a.problems) * 4, 'slots binding too small');
  const act = a.activation;
  const clamped = act.kind === 'clamped_swiglu';
  const params = packFastParams({
    rows: I, cols: D, problems: a.problems, w_offset: L.gate.offset / 4, w2_offset: L.up.offset / 4,
    x_offset: xOffset, x_stride: D, x_div: a.xDiv, y_offset: outOffset, y_stride: I,
    has_bias: +!!L.gate_bias, b_offset: (L.gate_bias?.offset ?? 0) / 4, b2_offset: (L.up_bias?.offset ?? 0) / 4,
    indirect: 1, slot_offset: a.slotsOffset ?? 0,
    act: clamped ? 1 : 0, act_alpha: clamped ? act.alpha : 0, act_limit: clamped ? act.limit : 0,
    ...(r && {
      k_experts: r.moe.num_experts_per_tok, r_experts: r.moe.num_experts, r_scaling: r.moe.routed_scaling_factor,
      r_flags: (r.moe.scoring_func === 'softmax' ? 1 : 0) | (r.moe.score_over === 'topk_logits' ? 2 : 0) | (r.moe.norm_topk_prob ? 4 : 0) | (r.selectionBias ? 8 : 0),
      r_l_offset: r.logitsOffset ?? 0, r_out_offset: r.outOffset ?? 0,
    }),
  });
  const shape = { rows: I, cols: D, problems: a.problems, mats: 2 };
  const sizes = r ? chooseSizes(r.moe.num_experts, r.moe.num_experts_per_tok) : undefined;
  const { kernel, rowsPerGroup } = fastKernel(enc.ctx, L.gate.quant, 'gate_up', shape, false, true, undefined, sizes);
  const dummy = enc.ctx.dummy;
  const routing = r ? [null, r.logits, r.selectionBias ?? dummy, r.ids, r.weights, r.slots] : [];
  enc.dispatch(kernel, params, [a.arena, a.x, a.arena, a.slots, a.out, null, null, dummy, ...routing], [Math.ceil(I / rowsPerGroup), a.problems]);
}

export interface ExpertDownSumArgs {
  layout: ExpertLayout;
  /** tokens and experts per token: problems are (t, k), t < T, k < K */
  T: number;
  K: number;
  arena: BufferArg;
  slots: BufferArg;
  slotsOffset?: number;
  /** activations (T K, I) at xOffset */
  x: BufferArg;
  xOffset?: number;
  /** routing weights (T, K) at weightsOffset */
  weights: BufferArg;
  weightsOffset?: number;
  /** output (T, D) at outOffset: overwritten, or updated by the residual epilogue */
  out: BufferArg;
  outOffset?: number;
  residual?: MatvecResidual;
}

/** out[t] (=|+=) sum_k w[t, k] (down_{t,k} a[t K + k] + bd) (one dispatch). */
export function expertDownSum(enc: GpuEncoder, a: ExpertDownSumArgs): void {
  const L = a.layout;
  const [D, I] = L.down.shape;
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('expertDownSum', msg);
  };
  check(fusedMoeUsable(enc.ctx, L), 'needs the fast matvec (subgroups, D and I multiples of 32)');
  check(Number.isInteger(a.T) && a.T >= 1 && Number.isInteger(a.K) && a.K >= 1, 'T and K must be positive integers');
  const xOffset = a.xOffset ?? 0;
  const outOffset = a.outOffset ?? 0;
  check(xOffset % 4 === 0, `xOffset ${xOffset} must be a multiple of 4`);
  check(bindingSize(a.x) >= (xOffset + a.T * a.K * I) * 4, 'x binding too small');
  check(bindingSize(a.out) >= (outOffset + a.T * D) * 4, 'out binding too small');
  check(bindingSize(a.weights) >= ((a.weightsOffset ?? 0) + a.T * a.K) * 4, 'weights binding too small');
  check(bindingSize(a.slots) >= ((a.slotsOffset ?? 0) + a.T * a.K) * 4, 'slots binding too small');
  const r = a.residual;
  const params = packFastParams({
    rows: D, cols: I, problems: a.T, w_offset: L.down.offset / 4, x_offset: xOffset, x_stride: I, x_div: 1,
    y_offset: outOffset, y_stride: D, has_bias: +!!L.down_bias, b_offset: (L.down_bias?.offset ?? 0) / 4,
    indirect: 1, slot_offset: a.slotsOffset ?? 0, k_experts: a.K, wts_offset: a.weightsOffset ?? 0,
    res_mode: r ? (r.from ? 2 : 1) : 0, alpha: r?.alpha ?? 1, beta: r?.beta ?? 1, h_offset: r?.fromOffset ?? outOffset,
  });
  const shape = { rows: D, cols: I, problems: a.T, mats: a.K };
  const { kernel, rowsPerGroup } = fastKernel(enc.ctx, L.down.quant, 'down_sum', shape);
  const dummy = enc.ctx.dummy;
  enc.dispatch(kernel, params, [a.arena, a.x, a.arena, a.slots, a.out, r?.from ?? dummy, a.weights, dummy], [Math.ceil(D / rowsPerGroup), a.T]);
}
