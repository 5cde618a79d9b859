// The routed experts of one MoE layer for a run of tokens, recorded as kernel dispatches, once
// the per-(token, k) slot offsets are on the GPU: gate/up -> activation -> down -> weighted
// combine -> residual. Two recordings of the same math:
//   fused   expertGateUp + expertDownSum (2 dispatches; fast matvec variant, subgroups); with
//           every expert resident, the gate + up may also make the routing choice (route)
//   simple  matvec, matvec, swiglu, matvec, combine, residual (6 dispatches; every adapter)
//
//   grouped prefill: moePlan groups the problems by expert on the GPU, then groupedGateUp and
//           groupedDown run tiled matmuls per expert (each weight read once per tile of that
//           expert's tokens), combine, residual (5 dispatches)
//
// Legend: T tokens, D hidden, K experts per token, I expert width, E experts; problems p = t K + k.

import type { GpuEncoder } from '../gpu/encoder.ts';
import type { ExpertLayout } from '../format/quant-layout.ts';
import type { LayerSpec, MoeSpec } from '../format/spec.ts';
import { matvec, type MatvecVariant } from '../kernels/matvec/matvec.ts';
import { expertDownSum, expertGateUp, routedGateUpUsable } from '../kernels/matvec/moe-fused.ts';
import { routeTuning } from '../kernels/router/router.ts';
import type { GpuContext } from '../gpu/device.ts';
import { swiglu } from '../kernels/swiglu/swiglu.ts';
import { combine } from '../kernels/combine/combine.ts';
import { residual } from '../kernels/residual/residual.ts';
import { groupedDown, groupedGateUp, groupedTile, moePlan, tileShape } from '../kernels/matvec/matmul-tiled.ts';
import { dpRoute } from '../kernels/matvec/matmul-dp.ts';
import { hmmaRoute } from '../kernels/matvec/matmul-hmma.ts';

/** Scratch buffers of the forward pass the experts read and write (sized for maxChunk tokens). */
export interface ExpertBuffers {
  x: GPUBuffer; // (T, D) residual stream, updated
  h: GPUBuffer; // (T, D) normed input of the MoE block
  slots: GPUBuffer; // (T, K) blob word offsets
  wts: GPUBuffer; // (T, K) routing weights
  eg: GPUBuffer; // (T K, I)
  eu: GPUBuffer; // (T K, I)
  ea: GPUBuffer; // (T K, I)
  ey: GPUBuffer; // (T K, D)
  a: GPUBuffer; // (T, D)
  ids: GPUBuffer; // (T, K) routed experts
  plan: GPUBuffer; // moe-plan output, planWords(E, T K, 16)
  order: GPUBuffer; // (T K) problems by expert
}

export interface ExpertLayer {
  moe: MoeSpec;
  layout: ExpertLayout;
  D: number;
  /** the expert-cache buffer holding this layer's slots */
  arena: GPUBuffer;
  residual: LayerSpec['residual'];
  /** record the fused form (the caller checked fusedMoeUsable) */
  fused: boolean;
  /** tiled per-expert matmuls when the run has at least this many problems per expert (0: never) */
  groupedFrom: number;
  variant: MatvecVariant;
  /**
   * Every expert resident and the choice not yet made (routesInGateUp): the fused gate + up
   * chooses from the router logits (T, E) and maps through the layer's slot table at tableOffset
   */
  route?: { logits: GPUBuffer; selectionBias?: GPUBuffer; table: GPUBuffer; tableOffset: number };
}

/** Whether recordExperts of nTok tokens can take the choice into the fused gate + up (ExpertLayer.route). */
export function routesInGateUp(ctx: GpuContext, l: ExpertLayer, nTok: number): boolean {
  const small = l.moe.num_experts <= routeTuning.inGateUpMaxE;
  return routeTuning.inGateUp && small && l.fused && !grouped(l, nTok) && routedGateUpUsable(ctx, l.layout, l.moe, nTok);
}

/** The run of nTok tokens goes through the grouped (tiled, per expert) products. */
function grouped(l: ExpertLayer, nTok: number): boolean {
  return l.groupedFrom > 0 && nTok * l.moe.num_experts_per_tok >= l.groupedFrom * l.moe.num_experts;
}

/** Experts, combine and residual of tokens [t0, t0 + nTok): x[t] = alpha r[t] + beta sum_k w (expert_k h[t]). */
export function recordExperts(e: GpuEncoder, l: ExpertLayer, b: ExpertBuffers, t0: number, nTok: number): void {
  const { layout, D, arena } = l;
  const K = l.moe.num_experts_per_tok;
  const I = l.moe.moe_intermediate_size;
  const n = nTok * K;
  const p0 = t0 * K;
  const r = l.residual;
  const E = l.moe.num_experts;
  if (grouped(l, nTok)) {
    const q = layout.gate.quant;
    const route = hmmaRoute(e.ctx, q, 32, D) ? 'hmma' : dpRoute(e.ctx, q, 32, nTok) ? 'dp' : 'f32';
    // the f16 copy of x (hmma) within a binding: gate_up reads D columns, down I
    const bt = tileShape(e.ctx, groupedTile(n, E, route, Math.floor(e.ctx.limits.maxStorageBufferBindingSize / (2 * Math.max(D, I))))).bt;
    const common = { layout, n, K, E, bt, plan: b.plan, order: b.order, arena, slots: b.slots, slotsOffset: p0 };
    moePlan(e, { n, E, bt, ids: b.ids, idsOffset: p0, plan: b.plan, order: b.order });
    groupedGateUp(e, { ...common, activation: l.moe.activation, x: b.h, xOffset: t0 * D, out: b.ea, outOffset: p0 * I });
    groupedDown(e, { ...common, x: b.ea, xOffset: p0 * I, out: b.ey, outOffset: p0 * D });
  } else if (l.fused) {
    const rt = l.route;
    const route = rt && { moe: l.moe, logits: rt.logits, logitsOffset: t0 * E, selectionBias: rt.selectionBias, ids: b.ids, weights: b.wts, slots: b.slots, outOffset: p0 };
    const slots = rt ? { slots: rt.table, slotsOffset: rt.tableOffset } : { slots: b.slots, slotsOffset: p0 };
    expertGateUp(e, { layout, activation: l.moe.activation, problems: n, xDiv: K, arena, ...slots, x: b.h, xOffset: t0 * D, out: b.ea, outOffset: p0 * I, route });
    expertDownSum(e, {
      layout, T: nTok, K, arena, slots: b.slots, slotsOffset: p0, x: b.ea, xOffset: p0 * I, weights: b.wts, weightsOffset: p0,
      out: b.x, outOffset: t0 * D, residual: { alpha: r.mlp_alpha, beta: r.mlp_beta, from: r.from_normed ? b.h : undefined, fromOffset: t0 * D },
    });
    return;
  } else {
    simpleExperts(e, l, b, t0, nTok);
  }
  combine(e, { T: nTok, K, D, y: b.ey, yOffset: p0 * D, weights: b.wts, weightsOffset: p0, out: b.a, outOffset: t0 * D });
  residual(e, { n: nTok * D, x: b.x, xOffset: t0 * D, sub: b.a, subOffset: t0 * D, normed: r.from_normed ? b.h : undefined, normedOffset: t0 * D, alpha: r.mlp_alpha, beta: r.mlp_beta });
}

/** gate, up (matvec), activation, down (matvec) into ey. */
function simpleExperts(e: GpuEncoder, l: ExpertLayer, b: ExpertBuffers, t0: number, nTok: number): void {
  const { layout, D, arena } = l;
  const K = l.moe.num_experts_per_tok;
  const I = l.moe.moe_intermediate_size;
  const n = nTok * K;
  const p0 = t0 * K;
  const mv = (sec: 'gate' | 'up', out: GPUBuffer) =>
    matvec(e, {
      kind: layout[sec].quant, rows: I, cols: D, w: arena, wOffset: layout[sec].offset,
      x: b.h, xOffset: t0 * D, xDiv: K, y: out, yOffset: p0 * I, problems: n,
      slots: { buffer: b.slots, offset: p0 },
      bias: layout[`${sec}_bias`] ? { buffer: arena, offset: layout[`${sec}_bias`]!.offset / 4 } : undefined,
      variant: l.variant,
    });
  mv('gate', b.eg);
  mv('up', b.eu);
  swiglu(e, { activation: l.moe.activation, n: I, problems: n, gate: b.eg, gateOffset: p0 * I, up: b.eu, upOffset: p0 * I, out: b.ea, outOffset: p0 * I });
  matvec(e, {
    kind: layout.down.quant, rows: D, cols: I, w: arena, wOffset: layout.down.offset,
    x: b.ea, xOffset: p0 * I, y: b.ey, yOffset: p0 * D, problems: n,
    slots: { buffer: b.slots, offset: p0 },
    bias: layout.down_bias ? { buffer: arena, offset: layout.down_bias.offset / 4 } : undefined,
    variant: l.variant,
  });
}

/**
 * Streaming: split a chunk's routed ids (T, K) into runs of consecutive tokens whose union of
 * experts fits the layer's `slots` (a single token always forms a run, K <= slots), so any budget
 * down to K slots a layer can serve a long chunk. Each run: tokens [t0, t1) and its experts.
 */
export function slotRuns(ids: Uint32Array, T: number, K: number, slots: number): { t0: number; t1: number; experts: number[] }[] {
  const runs: { t0: number; t1: number; experts: number[] }[] = [];
  for (let t0 = 0; t0 < T; ) {
    const union = new Set<number>();
    const added: number[] = [];
    let t1 = t0;
    for (; t1 < T; t1++) {
      added.length = 0;
      for (let k = 0; k < K; k++) {
        const id = ids[t1 * K + k];
        if (!union.has(id)) {
          union.add(id);
          added.push(id);
        }
      }
      if (union.size > slots && t1 > t0) {
        for (const id of added) union.delete(id); // token t1 starts the next run
        break;
      }
    }
    runs.push({ t0, t1, experts: [...union] });
    t0 = t1;
  }
  return runs;
}
