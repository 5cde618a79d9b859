// Dense weights resident on the GPU (embeddings, attention, norms, routers, LM head), one buffer
// per tensor in its packed layout (src/format/quant-layout.ts), plus per-layer constants the
// kernels read (lightning decay rates).

import type { MatmulQkvArgs } from '../kernels/matvec/matmul-tiled.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { BufferArg } from '../gpu/encoder.ts';
import { alignUp, type PackedModel, type PackedTensor, type QuantKind } from '../format/quant-layout.ts';
import type { LayerField } from '../format/weights.ts';
import { layerFieldsPresent } from '../format/weights.ts';

export interface GpuTensor {
  buffer: GPUBuffer;
  quant: QuantKind;
  shape: number[];
  /** byte offset inside `buffer` (tensors packed together; a multiple of 256) */
  offset?: number;
  bytes?: number;
}

/** A bias or vector tensor as matvec's bias argument: its buffer and float offset. */
export function floatArg(t: GpuTensor | undefined): { buffer: GPUBuffer; offset: number } | undefined {
  return t && { buffer: t.buffer, offset: (t.offset ?? 0) / 4 };
}

/** The binding of a tensor: the whole buffer, or its range (16-byte padded) when it shares one. */
export function bindTensor(t: GpuTensor): BufferArg {
  if (t.offset === undefined) return t.buffer;
  return { buffer: t.buffer, offset: t.offset, size: Math.min(alignUp(t.bytes!, 16), t.buffer.size - t.offset) };
}

/** matmulTiledQkv's weight and bias arguments for a layer whose q, k, v are packed (`qkv`'s table). */
export function qkvTiledArgs(lw: GpuLayer, pack: QkvPack): Pick<MatmulQkvArgs, 'kind' | 'w' | 'wOffsets' | 'rows' | 'bias'> {
  const [q, k, v] = pack.mats;
  return {
    kind: lw.q_proj!.quant, w: lw.q_proj!.buffer, wOffsets: [q.wOffset * 4, k.wOffset * 4, v.wOffset * 4], rows: [q.rows, k.rows, v.rows],
    bias: lw.q_bias && { buffer: lw.q_bias.buffer, offsets: [q.biasOffset, k.biasOffset, v.biasOffset] },
  };
}

/**
 * q, k and v projections packed in one buffer (each in its own layout at a 256-byte offset; their
 * biases likewise), with the matvecSegments table that makes them one product of rows qw + 2 kw.
 */
export interface QkvPack {
  /** per matrix: word offset, rows, output offset (q, then k, then v, contiguous), bias offset */
  mats: { wOffset: number; rows: number; yOffset: number; biasOffset: number }[];
  /** the same table on the GPU (4 u32 per matrix) */
  table: GPUBuffer;
}

export type GpuLayer = Partial<Record<LayerField, GpuTensor>> & { decay?: GPUBuffer; qkv?: QkvPack };

/** Several packed tensors in one GPU buffer at 256-byte offsets. */
function packTogether(ctx: GpuContext, ts: PackedTensor[], label: string): { buffer: GPUBuffer; offsets: number[] } {
  const offsets: number[] = [];
  let size = 0;
  for (const t of ts) {
    offsets.push(size);
    size = alignUp(size + t.data.byteLength);
  }
  const all = new Uint8Array(size);
  ts.forEach((t, i) => all.set(t.data, offsets[i]));
  return { buffer: ctx.upload(all, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label), offsets };
}

export class GpuWeights {
  private constructor(
    readonly embed: GpuTensor,
    readonly finalNorm: GpuTensor,
    readonly lmHead: GpuTensor,
    readonly layers: GpuLayer[],
    readonly bytes: number,
  ) {}

  static async upload(ctx: GpuContext, pm: PackedModel, onProgress?: (done: number, total: number) => void): Promise<GpuWeights> {
    const spec = pm.spec;
    let bytes = 0;
    const names = pm.denseNames();
    let done = 0;
    const up = async (name: string): Promise<GpuTensor> => {
      const t = await pm.dense(name);
      const buffer = ctx.upload(t.data, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, name);
      bytes += buffer.size;
      onProgress?.(++done, names.length);
      return { buffer, quant: t.quant, shape: t.shape };
    };
    const embed = await up('embed_tokens');
    const finalNorm = await up('final_norm');
    const lmHead = names.includes('lm_head') ? await up('lm_head') : embed;
    const layers: GpuLayer[] = [];
    for (let L = 0; L < spec.num_hidden_layers; L++) {
      const layer: GpuLayer = {};
      const fields = layerFieldsPresent(spec, L);
      const qkv = ['q_proj', 'k_proj', 'v_proj'] as const;
      const biases = ['q_bias', 'k_bias', 'v_bias'] as const;
      const nb = biases.filter((f) => fields.includes(f)).length;
      const packed = qkv.every((f) => fields.includes(f)) && (nb === 0 || nb === 3) ? await Promise.all(qkv.map((f) => pm.dense(`layers.${L}.${f}`))) : null;
      if (packed && packed.every((t) => t.quant === packed[0].quant && t.shape[1] === packed[0].shape[1])) {
        // q, k, v in one buffer (one product for decode), biases in another
        const w = packTogether(ctx, packed, `layers.${L}.qkv`);
        bytes += w.buffer.size;
        qkv.forEach((f, i) => (layer[f] = { buffer: w.buffer, quant: packed[i].quant, shape: packed[i].shape, offset: w.offsets[i], bytes: packed[i].data.byteLength }));
        const hasBias = nb === 3;
        let bOffsets = [0, 0, 0];
        if (hasBias) {
          const bs = await Promise.all(biases.map((f) => pm.dense(`layers.${L}.${f}`)));
          const b = packTogether(ctx, bs, `layers.${L}.qkv_bias`);
          bytes += b.buffer.size;
          bOffsets = b.offsets;
          biases.forEach((f, i) => (layer[f] = { buffer: b.buffer, quant: bs[i].quant, shape: bs[i].shape, offset: b.offsets[i], bytes: bs[i].data.byteLength }));
        }
        let y = 0;
        const mats = packed.map((t, i) => {
          const m = { wOffset: w.offsets[i] / 4, rows: t.shape[0], yOffset: y, biasOffset: bOffsets[i] / 4 };
          y += t.shape[0];
          return m;
        });
        const table = ctx.upload(Uint32Array.from(mats.flatMap((m) => [m.wOffset, m.rows, m.yOffset, m.biasOffset])), GPUBufferUsage.STORAGE, `layers.${L}.qkv_table`);
        layer.qkv = { mats, table };
        done += hasBias ? 6 : 3;
        onProgress?.(done, names.length);
      }
      for (const f of fields) if (!layer[f]) layer[f] = await up(`layers.${L}.${f}`);
      const att = spec.layers[L].attention;
      if (att.kind === 'linear') layer.decay = ctx.upload(Float32Array.from(att.decay), GPUBufferUsage.STORAGE, `layers.${L}.decay`);
      layers.push(layer);
    }
    return new GpuWeights(embed, finalNorm, lmHead, layers, bytes);
  }

  destroy(): void {
    const seen = new Set<GPUBuffer>();
    const kill = (b?: GPUBuffer) => {
      if (b && !seen.has(b)) {
        seen.add(b);
        b.destroy();
      }
    };
    kill(this.embed.buffer);
    kill(this.finalNorm.buffer);
    kill(this.lmHead.buffer);
    for (const l of this.layers) {
      for (const [k, t] of Object.entries(l)) kill(k === 'qkv' ? (t as QkvPack).table : ((t as GpuTensor).buffer ?? (t as GPUBuffer)));
    }
  }
}
