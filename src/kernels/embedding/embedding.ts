// Embedding gather over a packed table. See embedding.wgsl.

import { bindingSize, type BufferArg, type GpuEncoder } from '../../gpu/encoder.ts';
import { KernelShapeError } from '../../gpu/errors.ts';
import { Params } from '../../gpu/params.ts';
import { matrixBytes, type QuantKind } from '../../format/quant-layout.ts';
import { KIND_ID } from '../matvec/matvec.ts';
import code from './embedding.wgsl?raw';

const SRC = { label: 'embedding', code };
const WG = 64;

export interface EmbeddingArgs {
  kind: QuantKind;
  vocab: number;
  dim: number;
  /** packed (vocab, dim) table at byte `wOffset` (multiple of 4) */
  table: BufferArg;
  wOffset?: number;
  /** u32 token ids (T) at entry `tokensOffset` */
  tokens: BufferArg;
  tokensOffset?: number;
  T: number;
  /** output (T, yStride) f32 at element yOffset */
  y: BufferArg;
  yOffset?: number;
  yStride?: number;
}

/** Record Y[t] = table[tokens[t]] (dequantized to f32). */
export function embedding(enc: GpuEncoder, a: EmbeddingArgs): void {
  const name = `embedding(${a.kind})`;
  const wOffset = a.wOffset ?? 0;
  const yStride = a.yStride ?? a.dim;
  const yOffset = a.yOffset ?? 0;
  const tokOff = a.tokensOffset ?? 0;
  const check = (ok: boolean, msg: string) => {
    if (!ok) throw new KernelShapeError(name, msg);
  };
  check(KIND_ID[a.kind] !== undefined, `unknown quant kind "${a.kind}"`);
  for (const [k, v] of Object.entries({ vocab: a.vocab, dim: a.dim, T: a.T }))
    check(Number.isInteger(v) && v >= 1, `${k} must be a positive integer, got ${v}`);
  check(wOffset % 4 === 0, `wOffset ${wOffset} must be a multiple of 4`);
  check(yStride >= a.dim, `yStride ${yStride} < dim ${a.dim}`);
  check(bindingSize(a.table) >= wOffset + matrixBytes(a.kind, a.vocab, a.dim), `table binding smaller than a ${a.kind} ${a.vocab}x${a.dim} matrix`);
  check(bindingSize(a.tokens) >= (tokOff + a.T) * 4, `tokens binding smaller than ${a.T} ids`);
  check(bindingSize(a.y) >= (yOffset + (a.T - 1) * yStride + a.dim) * 4, `y binding smaller than (${a.T}, ${a.dim})`);
  const kernel = enc.ctx.pipelines.get(SRC, 'main', { KIND: KIND_ID[a.kind], WG });
  const params = new Params().u32(a.vocab).u32(a.dim).u32(a.T).u32(wOffset / 4).u32(tokOff).u32(yOffset).u32(yStride).buffer;
  enc.dispatch(kernel, params, [a.table, a.tokens, a.y], [Math.ceil(a.dim / WG), a.T]);
}
