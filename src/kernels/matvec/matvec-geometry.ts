// Which fast matvec kernel a product gets: the geometries (threads, rows and lanes a team, design,
// decoder) tuned per weight kind and size (`matvecTuning`, filled by the bench), shrunk for small
// products and within the device's limits. matvec.ts builds the pipelines from them.

import { matrixBytes, type QuantKind } from '../../format/quant-layout.ts';
import type { GpuContext } from '../../gpu/device.ts';

/**
 * Geometry of the fast variant: WG threads per workgroup, RPT rows per team of lanes, UNR units
 * per lane per step, DQ the q4 / mxfp4 decoder (0 arithmetic, 1 subgroup-shuffle table, used when
 * the subgroup has >= 16 lanes; 2 mxfp4 through f16 bit patterns, where f16 subnormals are kept,
 * else 1). Defaults from bench/results; `byKind` overrides per weight kind
 * and `small` per kind for products of at most `smallBytes` bytes of weights (the bench sweeps
 * both and fills them).
 */
export interface FastGeometry {
  wg: number;
  rpt: number;
  dq: number;
  unr: number;
  /**
   * 'unit': matvec-fast.wgsl (a load per lane per unit); 'sx': matvec-sx.wgsl (x staged in
   * workgroup memory, 16-byte weight loads); 'wide': matvec-wide.wgsl (16-byte units, x from memory);
   * 'dp': q4 products (mv) through packed integer dot products against x's digit planes
   * (x-digits.wgsl + matvec-dp.wgsl; 'wide' for everything else)
   */
  design?: 'unit' | 'sx' | 'wide' | 'dp';
  /** sx: x floats staged per chunk (default: what the device's workgroup memory allows, <= 8192) */
  xc?: number;
  /** wide: 1 = load the next unit before decoding this one */
  pf?: number;
  /** wide down_sum: 1 = the K experts of a token inside the unit loop (their loads in flight together) */
  kx?: number;
  /** wide gate_up (even rpt): 1 = a team's rpt rows are rpt / 2 gate rows and their up rows, one unit loop */
  gu?: number;
  /** wide down_sum: 1 = a workgroup of K teams, one per expert (wg ignored: K teams), summed in workgroup memory */
  kt?: number;
  /** wide: lanes per row team (a power of two, at most the subgroup's; default the subgroup's up to 32) */
  tpr?: number;
}
export const matvecTuning: FastGeometry & {
  byKind: Partial<Record<QuantKind, FastGeometry>>;
  small: Partial<Record<QuantKind, FastGeometry>>;
  /** the fused down + combine (down_sum) per kind, when measured apart */
  downSum: Partial<Record<QuantKind, FastGeometry>>;
  smallBytes: number;
  minGroups: number;
} = {
  wg: 256,
  rpt: 4,
  dq: 1,
  unr: 2,
  // the H100 run of bench/results/2026-11-22-nvidia-h100-80gb-hbm3-round3.json: the kernel sweep
  // for large products, its decode geometry tuning (bench/decode-tune.ts) for small q8 / mxfp4 ones
  // (the bench replaces these with its own measurements; other adapters use them until measured)
  byKind: {
    f32: { wg: 256, rpt: 1, unr: 2, dq: 0, design: 'unit' },
    f16: { wg: 256, rpt: 1, unr: 2, dq: 0, design: 'unit' },
    q8: { wg: 256, rpt: 4, unr: 1, dq: 0, pf: 1, design: 'wide' },
    q4: { wg: 64, rpt: 4, unr: 1, dq: 0, design: 'dp' }, // without packed dots: the wide design at this geometry
    mxfp4: { wg: 256, rpt: 8, unr: 1, dq: 2, pf: 1, design: 'wide' }, // round 10 (f16-bit codes)
  },
  small: {
    // round 11 (same-call decode A/Bs): gate + up rows in one unit loop (gu), teams of 16 lanes
    // (a 2880-column mxfp4 row is 90 units: 6 a lane, not 3), 64-thread groups: gpt-oss +5%
    mxfp4: { wg: 64, rpt: 8, unr: 1, dq: 2, pf: 1, design: 'wide', gu: 1, tpr: 16 },
    q4: { wg: 64, rpt: 8, unr: 1, dq: 0, pf: 1, design: 'wide', gu: 1, tpr: 16 }, // round 11: with downSum's, MiniMax-M2 +5%, Qwen3 +2%
    q8: { wg: 128, rpt: 4, unr: 1, dq: 0, pf: 1, design: 'wide' },
  },
  // round 11: a team per expert (kt; 4-8x the threads of one team summing its K experts in turn):
  // gpt-oss down + combine in a cold dispatch chain 27.3 -> 18.0 us, decode +5% (Qwen3 +3%, MiniMax-M2 +5%)
  downSum: {
    mxfp4: { wg: 256, rpt: 4, unr: 1, dq: 2, pf: 1, design: 'wide', kt: 1 },
    q4: { wg: 256, rpt: 8, unr: 1, dq: 0, pf: 1, design: 'wide', kt: 1, tpr: 16 },
  },
  smallBytes: 48 << 20,
  /** workgroups below which a product cannot fill a large GPU: small matrices take smaller groups */
  minGroups: 264,
};

function geometry(kind: QuantKind, bytes: number): FastGeometry {
  return (bytes <= matvecTuning.smallBytes ? matvecTuning.small[kind] : undefined) ?? matvecTuning.byKind[kind] ?? matvecTuning;
}

/**
 * A fast-variant product: `problems` workgroup rows (grid y) of `rows` x `cols`, each reading
 * `mats` matrices (gate_up: 2; down_sum: K) — the weight bytes choose the tuning.
 */
export interface FastShape {
  rows: number;
  cols: number;
  problems: number;
  mats?: number;
}

/** The geometry for one product: the tuned one, shrunk (fewer rows per team, then smaller groups) for small matrices. */
export function geometryFor(ctx: GpuContext, kind: QuantKind, sh: FastShape, entry: 'mv' | 'gate_up' | 'down_sum' = 'mv'): FastGeometry {
  const { rows, problems } = sh;
  const g = (entry === 'down_sum' ? matvecTuning.downSum[kind] : undefined) ?? geometry(kind, matrixBytes(kind, rows, sh.cols) * problems * (sh.mats ?? 1));
  const groups = (c: FastGeometry) => Math.ceil(rows / ((ktTeams(ctx, entry, c, sh) ? 1 : c.wg / teamOf(ctx, c)) * c.rpt)) * problems;
  // within the device's workgroup size (the defaults come from a GPU that allows 1024 threads)
  let c = g.wg > ctx.limits.maxComputeInvocationsPerWorkgroup ? { ...g, wg: 2 ** Math.floor(Math.log2(ctx.limits.maxComputeInvocationsPerWorkgroup)) } : g;
  for (const next of [{ rpt: 4 }, { rpt: 2 }, { rpt: 1 }, { rpt: 1, wg: 128 }, { rpt: 1, wg: 64 }]) {
    if (groups(c) >= matvecTuning.minGroups) break;
    const cand = { ...c, ...next };
    if (cand.wg % teamOf(ctx, cand) !== 0 || cand.rpt > c.rpt || cand.wg > c.wg) continue;
    c = cand;
  }
  return c;
}

/** Lanes per row team for the fast variant on this device (0: not available). */
export function fastTeamSize(ctx: GpuContext): number {
  if (!ctx.caps.subgroups || ctx.caps.subgroupMinSize < 4) return 0;
  return Math.min(32, 2 ** Math.floor(Math.log2(ctx.caps.subgroupMinSize)));
}

/** Lanes per row team of geometry g: its tpr (wide design) within the device's team size. */
export function teamOf(ctx: GpuContext, g: FastGeometry): number {
  const t = fastTeamSize(ctx);
  return g.design === 'wide' && g.tpr && g.tpr >= 1 && (g.tpr & (g.tpr - 1)) === 0 ? Math.min(g.tpr, t) : t;
}

/** Whether the fast variant can run this product: subgroups, cols % 32, aligned matrix and x. */
export function fastMatvecPlan(ctx: GpuContext, a: { cols: number; wOffset?: number; xOffset?: number; xStride?: number }): boolean {
  const tpr = fastTeamSize(ctx);
  return (
    tpr > 0 &&
    matvecTuning.wg % tpr === 0 &&
    Object.values(matvecTuning.byKind).every((g) => g.wg % tpr === 0) &&
    Object.values(matvecTuning.small).every((g) => g.wg % tpr === 0) &&
    Object.values(matvecTuning.downSum).every((g) => g.wg % tpr === 0) &&
    a.cols % 32 === 0 &&
    (a.wOffset ?? 0) % 16 === 0 &&
    (a.xOffset ?? 0) % 4 === 0 &&
    (a.xStride ?? a.cols) % 4 === 0
  );
}

/** x floats the shared-x design stages per chunk on this device (a power of two, 32..8192). */
export function stagedFloats(ctx: GpuContext): number {
  let n = 8192;
  while (n > 32 && n * 4 + 1024 > ctx.limits.maxComputeWorkgroupStorageSize) n /= 2;
  return n;
}

/**
 * The q4 / mxfp4 decoder a geometry's `dq` gets on this device: 2 (mxfp4 through f16 bit
 * patterns) where unpack2x16float keeps f16 subnormals, else 1 (shuffle table) where subgroups
 * have >= 16 lanes, else 0 (arithmetic).
 */
export function decoder(ctx: GpuContext, kind: QuantKind, dq: number): number {
  if (dq === 2 && kind === 'mxfp4' && ctx.caps.f16Subnormals) return 2;
  if (dq >= 1 && (kind === 'mxfp4' || kind === 'q4') && ctx.caps.subgroupMinSize >= 16) return 1;
  return 0;
}

/** down_sum with one team per expert (geometry kt, K <= 8 teams within the workgroup limit): K, else 0. */
export function ktTeams(ctx: GpuContext, entry: string, g: FastGeometry, sh: FastShape): number {
  const K = sh.mats ?? 1;
  const ok = entry === 'down_sum' && g.kt === 1 && g.design === 'wide' && K <= 8 && K * teamOf(ctx, g) <= ctx.limits.maxComputeInvocationsPerWorkgroup;
  return ok ? K : 0;
}
