// Softmax attention (decode and prefill; full or sliding; sinks; GQA). See attention.wgsl, and
// attention-fast.wgsl for the variant with a workgroup per (token, head), attention-tiled.wgsl for
// the one with a workgroup per (tile of tokens, heads of one kv head) that reads each key once a
// tile. 'auto' on GPUs: tiled for chunks of >= TILED_MIN_T tokens where its shape fits, else fast;
// the one-thread-per-(token, head) kernel stays for CPU adapters and as the reference twin.

import { bindingSize, linearGrid, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import type { GpuContext } from '../../gpu/device.ts';
import code from './attention.wgsl?raw';
import fastCode from './attention-fast.wgsl?raw';
import decodeCode from './attention-decode.wgsl?raw';
import tiledCode from './attention-tiled.wgsl?raw';

const SRC = { label: 'attention', code };
const FAST = { label: 'attention-fast', code: fastCode };
const DECODE = { label: 'attention-decode', code: decodeCode };
const TILED = { label: 'attention-tiled', code: tiledCode };
const FAST_WG = 128;
// attention-decode: 256 threads (the least maxComputeInvocationsPerWorkgroup an adapter may offer,
// and >= MAX_HD, which its norm and rotation assume); at 128 decode was 1.5-2% slower (H100)
const DECODE_WG = 256;
const TILED_WG = 128;
/** keys a block in attention-tiled.wgsl (B) */
const TILED_B = 16;
/** 'auto' takes the tiled kernel from this many tokens a chunk */
export const TILED_MIN_T = 8;
const WG = 64;
const MAX_HD = 256;

export interface AttentionArgs {
  T: number;
  nHeads: number;
  nKv: number;
  hd: number;
  /** absolute position of the chunk's first token (= tokens already in the cache) */
  pos0: number;
  /** rows of kCache / vCache */
  capacity: number;
  /** sliding window (keys i - window < j <= i), or null for full attention */
  window: number | null;
  /** queries (T, qStride) at qOffset, already normed and rotated */
  q: BufferArg;
  qOffset?: number;
  qStride?: number;
  /** the chunk's keys and values (T, kvStride) */
  k: BufferArg;
  kOffset?: number;
  v: BufferArg;
  vOffset?: number;
  kvStride?: number;
  kCache: BufferArg;
  vCache: BufferArg;
  /** (nHeads) sink logits */
  sinks?: BufferArg;
  /** output (T, outStride) at outOffset */
  out: BufferArg;
  outOffset?: number;
  outStride?: number;
  /** default 1 / sqrt(hd) */
  scale?: number;
  /** 'auto' (default): tiled or fast (see the header) unless the adapter is a CPU one */
  variant?: 'auto' | 'simple' | 'fast' | 'tiled';
}

/** Record attention of the chunk's queries; then record kvWrite for the same chunk. */
export function attention(enc: GpuEncoder, a: AttentionArgs): void {
  const qStride = a.qStride ?? a.nHeads * a.hd;
  const kvStride = a.kvStride ?? a.nKv * a.hd;
  const outStride = a.outStride ?? a.nHeads * a.hd;
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('attention', msg);
  };
  for (const [k, v] of Object.entries({ T: a.T, nHeads: a.nHeads, nKv: a.nKv, hd: a.hd, capacity: a.capacity }))
    check(Number.isInteger(v) && v >= 1, `${k} must be a positive integer, got ${v}`);
  check(a.hd <= MAX_HD, `head_dim ${a.hd} > ${MAX_HD}`);
  check(a.nHeads % a.nKv === 0, `nHeads ${a.nHeads} is not a multiple of nKv ${a.nKv}`);
  check(Number.isInteger(a.pos0) && a.pos0 >= 0, `pos0 must be a non-negative integer, got ${a.pos0}`);
  if (a.window === null) check(a.pos0 + a.T <= a.capacity, `full attention: ${a.pos0} + ${a.T} tokens exceed the cache capacity ${a.capacity}`);
  else check(a.window >= 1 && a.capacity >= a.window - 1, `sliding window ${a.window} needs capacity >= window - 1, got ${a.capacity}`);
  check(qStride >= a.nHeads * a.hd && outStride >= a.nHeads * a.hd && kvStride >= a.nKv * a.hd, 'strides smaller than a token row');
  const need = (off: number, stride: number, w: number) => (off + (a.T - 1) * stride + w) * 4;
  check(bindingSize(a.q) >= need(a.qOffset ?? 0, qStride, a.nHeads * a.hd), 'q binding too small');
  check(bindingSize(a.k) >= need(a.kOffset ?? 0, kvStride, a.nKv * a.hd), 'k binding too small');
  check(bindingSize(a.v) >= need(a.vOffset ?? 0, kvStride, a.nKv * a.hd), 'v binding too small');
  check(bindingSize(a.out) >= need(a.outOffset ?? 0, outStride, a.nHeads * a.hd), 'out binding too small');
  const cacheBytes = a.capacity * a.nKv * a.hd * 4;
  check(bindingSize(a.kCache) >= cacheBytes && bindingSize(a.vCache) >= cacheBytes, `cache smaller than ${a.capacity} x ${a.nKv * a.hd}`);
  if (a.sinks) check(bindingSize(a.sinks) >= a.nHeads * 4, `sinks binding smaller than ${a.nHeads}`);
  const variant = a.variant ?? 'auto';
  const aligned = a.hd % 4 === 0 && a.hd / 4 <= FAST_WG && [a.kOffset ?? 0, a.vOffset ?? 0, kvStride].every((v) => v % 4 === 0);
  if (variant === 'fast') check(aligned, 'fast attention needs hd % 4 == 0 and k/v offsets and strides % 4 == 0');
  const caps = enc.ctx.caps;
  const gpu = !caps.fallbackAdapter;
  const tile = aligned && caps.subgroups ? tiledShape(a.hd, a.nHeads / a.nKv, enc.ctx.limits.maxComputeWorkgroupStorageSize, caps.subgroupMinSize) : null;
  if (variant === 'tiled') check(tile !== null, `tiled attention needs subgroups, aligned k/v rows, hd / 4 = S x DPT4 with S a power of two within the subgroup and DPT4 <= 16, and its workgroup memory within the device limit (hd ${a.hd}, ${a.nHeads / a.nKv} heads a kv head)`);
  const tiled = tile !== null && (variant === 'tiled' || (variant === 'auto' && gpu && a.T >= TILED_MIN_T));
  const fast = !tiled && aligned && (variant === 'fast' || (variant === 'auto' && gpu));
  const kernel = tiled
    ? enc.ctx.pipelines.get(TILED, 'main', { WG: TILED_WG, S: tile!.S, DPT4: tile!.DPT4, HPW: tile!.HPW })
    : fast ? enc.ctx.pipelines.get(FAST, 'main', { WG: FAST_WG }) : enc.ctx.pipelines.get(SRC, 'main', { WG });
  const params = new Params()
    .u32(a.T)
    .u32(a.nHeads)
    .u32(a.nKv)
    .u32(a.hd)
    .u32(a.pos0)
    .u32(a.capacity)
    .u32(a.window ?? 0)
    .bool(!!a.sinks)
    .f32(a.scale ?? 1 / Math.sqrt(a.hd))
    .u32(a.qOffset ?? 0)
    .u32(qStride)
    .u32(a.kOffset ?? 0)
    .u32(a.vOffset ?? 0)
    .u32(kvStride)
    .u32(a.outOffset ?? 0)
    .u32(outStride).buffer;
  const grid: [number, number] = tiled ? [Math.ceil(a.T / tile!.TQ), a.nHeads / tile!.HPW] : fast ? [a.nHeads, a.T] : linearGrid(a.T * a.nHeads, WG);
  enc.dispatch(kernel, params, [a.q, a.k, a.v, a.kCache, a.vCache, a.sinks ?? enc.ctx.dummy, a.out], grid);
}

/**
 * attention-tiled.wgsl's shape for head_dim `hd` and `G` query heads a kv head on a device whose
 * subgroups have at least `sgMin` lanes: S lanes a query row keeping DPT4 vec4s each (8 where the
 * subgroup allows), HPW heads and TQ tokens a workgroup; null where it does not apply.
 */
export function tiledShape(hd: number, G: number, maxWorkgroupBytes: number, sgMin: number): { S: number; DPT4: number; HPW: number; TQ: number } | null {
  const hd4 = hd / 4;
  if (!Number.isInteger(hd4)) return null;
  const pow2 = (n: number) => (n & (n - 1)) === 0;
  const order = [8, 4, 16, 12, 10, 6, 5, 7, 9, 11, 13, 14, 15, 3, 2, 1];
  const DPT4 = order.find((d) => hd4 % d === 0 && pow2(hd4 / d) && hd4 / d <= Math.min(sgMin, TILED_WG));
  if (DPT4 === undefined) return null;
  const S = hd4 / DPT4;
  const rows = TILED_WG / S;
  let HPW = Math.min(G, rows);
  while (G % HPW !== 0) HPW--;
  const bytes = 2 * TILED_B * hd4 * 16 + 16;
  if (bytes > maxWorkgroupBytes) return null;
  return { S, DPT4, HPW, TQ: Math.floor(rows / HPW) };
}

export interface AttentionDecodeArgs extends Omit<AttentionArgs, 'T' | 'variant'> {
  /** cos/sin (from ropeCosSin) of this position at entry csRow */
  cs: BufferArg;
  csRow?: number;
  rotaryDim: number;
  /**
   * q / k RMSNorm before the rotation (the spec's qk_norm): per head (weights of hd) or over the
   * whole q and k rows (weights of nHeads hd and nKv hd); check attentionDecodeNormUsable first
   */
  qkNorm?: { mode: 'per_head' | 'whole_projection'; eps: number; q: BufferArg; k: BufferArg };
}

/** Whether attentionDecode can fold the q / k norms in: 10 storage buffers per stage. */
export function attentionDecodeNormUsable(ctx: GpuContext): boolean {
  return ctx.limits.maxStorageBuffersPerShaderStage >= 10;
}

/** Whether attentionDecode applies (a GPU adapter; aligned heads and rows). */
export function attentionDecodeUsable(enc: GpuEncoder, a: { hd: number; rotaryDim: number; kOffset?: number; vOffset?: number; kvStride?: number }): boolean {
  return (
    !enc.ctx.caps.fallbackAdapter &&
    a.hd % 4 === 0 && a.hd <= MAX_HD && a.rotaryDim / 2 <= FAST_WG && a.hd / 4 <= FAST_WG &&
    [a.kOffset ?? 0, a.vOffset ?? 0].every((v) => v % 4 === 0)
  );
}

/**
 * attention-decode.wgsl's layouts for head_dim `hd`: LPK lanes a key (a power of two) with CPT
 * vec4 chunks each (<= 8, the registers it keeps), KB = DECODE_WG / LPK keys a block, PARTS key
 * parts of the value layout with VPT keys each a block (<= 8).
 */
export function decodeShape(hd: number): { WG: number; HD4: number; LPK: number; CPT: number; KB: number; PARTS: number; VPT: number } {
  const HD4 = hd / 4;
  let LPK = 1;
  while (Math.ceil(HD4 / LPK) > 8) LPK *= 2;
  const KB = DECODE_WG / LPK;
  const PARTS = Math.floor(DECODE_WG / HD4);
  return { WG: DECODE_WG, HD4, LPK, CPT: Math.ceil(HD4 / LPK), KB, PARTS, VPT: Math.ceil(KB / PARTS) };
}

/** Index of the u32 params word holding pos0 in attentionDecode's params (a replayed decode step rewrites it). */
export const ATTENTION_DECODE_POS_WORD = 4;

/**
 * One decode step (T = 1): rope of q and the new key, the ring write and attention in one dispatch
 * (attention-decode.wgsl). Record it instead of ropeKv + attention (+ kvWrite).
 */
export function attentionDecode(enc: GpuEncoder, a: AttentionDecodeArgs, force = false): void {
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('attentionDecode', msg);
  };
  check(force || attentionDecodeUsable(enc, a), 'needs a GPU adapter, hd % 4 == 0, hd <= 256 and aligned k/v offsets');
  check(a.hd % 4 === 0 && a.rotaryDim % 2 === 0 && a.rotaryDim <= a.hd, `rotaryDim ${a.rotaryDim} must be even and <= hd ${a.hd}`);
  check(a.nHeads % a.nKv === 0, `nHeads ${a.nHeads} is not a multiple of nKv ${a.nKv}`);
  if (a.window === null) check(a.pos0 + 1 <= a.capacity, `position ${a.pos0} beyond the cache capacity ${a.capacity}`);
  else check(a.capacity >= Math.min(a.window, a.pos0 + 1), `sliding window ${a.window} needs capacity >= window`);
  const kvw = a.nKv * a.hd;
  check(bindingSize(a.kCache) >= a.capacity * kvw * 4 && bindingSize(a.vCache) >= a.capacity * kvw * 4, `cache smaller than ${a.capacity} x ${kvw}`);
  const n = a.qkNorm;
  if (n) {
    check(attentionDecodeNormUsable(enc.ctx), 'the q / k norms need 10 storage buffers per shader stage');
    const whole = n.mode === 'whole_projection';
    check(bindingSize(n.q) >= (whole ? a.nHeads : 1) * a.hd * 4 && bindingSize(n.k) >= (whole ? a.nKv : 1) * a.hd * 4, `q / k norm weights smaller than ${n.mode} needs`);
  }
  const half = a.rotaryDim / 2;
  const params = new Params()
    .u32(1).u32(a.nHeads).u32(a.nKv).u32(a.hd).u32(a.pos0).u32(a.capacity).u32(a.window ?? 0).bool(!!a.sinks)
    .f32(a.scale ?? 1 / Math.sqrt(a.hd)).u32(a.qOffset ?? 0).u32(a.qStride ?? a.nHeads * a.hd).u32(a.kOffset ?? 0).u32(a.vOffset ?? 0)
    .u32(a.kvStride ?? kvw).u32(a.outOffset ?? 0).u32(a.outStride ?? a.nHeads * a.hd).u32((a.csRow ?? 0) * half * 2).u32(half)
    .u32(n ? (n.mode === 'per_head' ? 1 : 2) : 0).f32(n?.eps ?? 0).buffer;
  const kernel = enc.ctx.pipelines.get(DECODE, n ? 'main_norm' : 'main', decodeShape(a.hd));
  const buffers = [a.q, a.k, a.v, a.kCache, a.vCache, a.sinks ?? enc.ctx.dummy, a.out, a.cs];
  enc.dispatch(kernel, params, n ? [...buffers, n.q, n.k] : buffers, [a.nHeads, 1]);
}
