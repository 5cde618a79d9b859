// Lightning attention: recurrent decode and block-parallel prefill. See lightning.wgsl.

import { bindingSize, linearGrid, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import code from './lightning.wgsl?raw';

const SRC = { label: 'lightning', code };
const WG = 64;

export interface LightningArgs {
  T: number;
  nHeads: number;
  hd: number;
  /** q, k, v after SiLU: (T, inStride) with head h at h * hd; offsets in elements */
  q: BufferArg;
  qOffset?: number;
  k: BufferArg;
  kOffset?: number;
  v: BufferArg;
  vOffset?: number;
  inStride?: number;
  /** (nHeads) decay rates s_h, f32 */
  decay: BufferArg;
  /** (nHeads, hd, hd) f32 state, updated in place */
  state: BufferArg;
  out: BufferArg;
  outOffset?: number;
  outStride?: number;
  /**
   * 'recurrent': token by token (decode); 'block': block-parallel prefill with `blockSize`;
   * 'auto' (default): recurrent for T = 1, block otherwise — the reference's choice.
   */
  mode?: 'auto' | 'recurrent' | 'block';
  /** block length of the block form (the model's block_size) */
  blockSize?: number;
}

/** Record lightning attention for T tokens; updates `state`. */
export function lightning(enc: GpuEncoder, a: LightningArgs): void {
  const hd = a.hd;
  const H = a.nHeads;
  const inStride = a.inStride ?? H * hd;
  const outStride = a.outStride ?? H * hd;
  const B = a.blockSize ?? 256;
  const mode = a.mode === 'recurrent' || a.mode === 'block' ? a.mode : a.T === 1 ? 'recurrent' : 'block';
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError('lightning', msg);
  };
  for (const [k, v] of Object.entries({ T: a.T, nHeads: H, hd, blockSize: B }))
    check(Number.isInteger(v) && v >= 1, `${k} must be a positive integer, got ${v}`);
  check(inStride >= H * hd && outStride >= H * hd, 'strides smaller than a token row');
  const need = (off: number, stride: number) => (off + (a.T - 1) * stride + H * hd) * 4;
  check(bindingSize(a.q) >= need(a.qOffset ?? 0, inStride), 'q binding too small');
  check(bindingSize(a.k) >= need(a.kOffset ?? 0, inStride), 'k binding too small');
  check(bindingSize(a.v) >= need(a.vOffset ?? 0, inStride), 'v binding too small');
  check(bindingSize(a.out) >= need(a.outOffset ?? 0, outStride), 'out binding too small');
  check(bindingSize(a.decay) >= H * 4, `decay binding smaller than ${H}`);
  check(bindingSize(a.state) >= H * hd * hd * 4, `state binding smaller than (${H}, ${hd}, ${hd})`);
  const params = (start: number, len: number) =>
    new Params()
      .u32(a.T)
      .u32(H)
      .u32(hd)
      .u32(a.qOffset ?? 0)
      .u32(a.kOffset ?? 0)
      .u32(a.vOffset ?? 0)
      .u32(inStride)
      .u32(a.outOffset ?? 0)
      .u32(outStride)
      .u32(start)
      .u32(len)
      .u32(B).buffer;
  const pipe = (entry: string) => enc.ctx.pipelines.get(SRC, entry, { WG });
  if (mode === 'recurrent') {
    enc.dispatch(pipe('recurrent'), params(0, a.T), [a.q, a.k, a.v, a.decay, a.state, null, a.out], linearGrid(H * hd, WG));
    return;
  }
  // scratch is only live between the dispatches below, so it can go back to the pool at once:
  // later users are ordered after these dispatches.
  const scratch = enc.ctx.pool.acquire(H * B * B * 4, GPUBufferUsage.STORAGE, 'lightning-scores');
  for (let start = 0; start < a.T; start += B) {
    const n = Math.min(B, a.T - start);
    const p = params(start, n);
    enc.dispatch(pipe('block_scores'), p, [a.q, a.k, null, a.decay, null, scratch, null], linearGrid(H * n * n, WG));
    enc.dispatch(pipe('block_output'), p, [a.q, null, a.v, a.decay, a.state, scratch, a.out], linearGrid(H * n * hd, WG));
    enc.dispatch(pipe('block_state'), p, [null, a.k, a.v, a.decay, a.state, null, null], linearGrid(H * hd * hd, WG));
  }
  enc.ctx.pool.release(scratch);
}
