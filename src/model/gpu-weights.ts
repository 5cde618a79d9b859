// Dense weights resident on the GPU (embeddings, attention, norms, routers, LM head), one buffer
// per tensor in its packed layout (src/format/quant-layout.ts), plus per-layer constants the
// kernels read (lightning decay rates).

import type { GpuContext } from '../gpu/device.ts';
import type { PackedModel, QuantKind } from '../format/quant-layout.ts';
import type { LayerField } from '../format/weights.ts';
import { layerFieldsPresent } from '../format/weights.ts';

export interface GpuTensor {
  buffer: GPUBuffer;
  quant: QuantKind;
  shape: number[];
}

export type GpuLayer = Partial<Record<LayerField, GpuTensor>> & { decay?: GPUBuffer };

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
      for (const f of layerFieldsPresent(spec, L)) layer[f] = await up(`layers.${L}.${f}`);
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
      for (const t of Object.values(l)) kill((t as GpuTensor).buffer ?? (t as GPUBuffer));
    }
  }
}
