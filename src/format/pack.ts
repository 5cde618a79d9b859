// Canonical f32 weights -> the packed form the engine consumes (PackedModel): dense tensors by
// canonical name, one blob per expert in the ExpertLayout byte layout. Shared by the package
// writer (package-write.ts) and by packInMemory, which lets the GPU engine run an HF checkpoint
// without writing a package.
//
// Precision: `quant` applies to expert matrices; `denseQuant` to the dense matrices (q/k/v/o
// projections, attn_gate, embed_tokens, lm_head). Norms, routers, biases, sinks, selection
// biases and q/k norms always stay f32. MXFP4 experts of an HF checkpoint are kept byte for byte
// when the expert quant is mxfp4 (the default for such checkpoints); any other expert quant
// dequantizes them first.

import type { Mxfp4Expert } from './hf-checkpoint.ts';
import { dequantTensor, mxfp4FromHf, packTensor, quantizeMatrix } from './quant.ts';
import { expertLayout, type BlobSection, type ExpertLayout, type PackedModel, type PackedTensor, type QuantKind } from './quant-layout.ts';
import type { ModelSpec } from './spec.ts';
import {
  EXPERT_FIELDS,
  expertFieldsPresent,
  expertFieldShape,
  layerFieldShape,
  layerFieldsPresent,
  type ExpertWeights,
  type GlobalWeights,
  type LayerField,
  type LayerWeights,
  type WeightSource,
} from './weights.ts';

export interface PackOptions {
  /** expert matrices; default mxfp4 for MXFP4 checkpoints, else q4 */
  quant?: QuantKind;
  /** dense matrices; default q8 */
  denseQuant?: QuantKind;
}

export const DEFAULT_EXPERT_QUANT: QuantKind = 'q4';
export const DEFAULT_DENSE_QUANT: QuantKind = 'q8';

/** Layer fields stored at the dense quant; every other layer field stays f32. */
export const DENSE_MATRIX_FIELDS: ReadonlySet<LayerField> = new Set(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'attn_gate']);

export interface NamedTensor {
  name: string;
  tensor: PackedTensor;
}

export function layerTensorName(layer: number, field: LayerField): string {
  return `layers.${layer}.${field}`;
}

/** A source that can hand out MXFP4 experts without dequantizing them (HfCheckpoint). */
export interface RawMxfp4Source {
  mxfp4Expert(layer: number, expert: number): Promise<Mxfp4Expert | null>;
}

function rawMxfp4(src: WeightSource): RawMxfp4Source | null {
  const r = src as Partial<RawMxfp4Source>;
  return typeof r.mxfp4Expert === 'function' ? (src as unknown as RawMxfp4Source) : null;
}

/** mxfp4 when the source's experts are MXFP4 already, else q4. */
export async function defaultExpertQuant(src: WeightSource): Promise<QuantKind> {
  const raw = rawMxfp4(src);
  if (raw && (await raw.mxfp4Expert(0, 0)) !== null) return 'mxfp4';
  return DEFAULT_EXPERT_QUANT;
}

export function expertLayoutFor(spec: ModelSpec, quant: QuantKind): ExpertLayout {
  return expertLayout(quant, spec.hidden_size, spec.moe.moe_intermediate_size, spec.moe.expert_bias);
}

// ---- dense ------------------------------------------------------------------------------------

/** embed_tokens, final_norm, lm_head. lm_head is the same object as embed_tokens when tied. */
export function packGlobals(spec: ModelSpec, g: GlobalWeights, denseQuant: QuantKind): NamedTensor[] {
  const V = spec.vocab_size;
  const D = spec.hidden_size;
  const embed = packTensor(denseQuant, g.embed_tokens, [V, D]);
  const tied = g.lm_head === g.embed_tokens || sameValues(g.lm_head, g.embed_tokens);
  return [
    { name: 'embed_tokens', tensor: embed },
    { name: 'final_norm', tensor: packTensor('f32', g.final_norm, [D]) },
    { name: 'lm_head', tensor: tied ? embed : packTensor(denseQuant, g.lm_head, [V, D]) },
  ];
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/** Every present field of layer L, matrices at denseQuant where DENSE_MATRIX_FIELDS says so. */
export function packLayer(spec: ModelSpec, layer: number, w: LayerWeights, denseQuant: QuantKind): NamedTensor[] {
  return layerFieldsPresent(spec, layer).map((field) => {
    const v = w[field];
    if (!v) throw new RangeError(`layer ${layer}: weight source gave no "${field}"`);
    const shape = layerFieldShape(spec, layer, field);
    return { name: layerTensorName(layer, field), tensor: packTensor(DENSE_MATRIX_FIELDS.has(field) ? denseQuant : 'f32', v, shape) };
  });
}

// ---- experts ----------------------------------------------------------------------------------

/** Quantize one expert's canonical weights into a blob of layout.bytes bytes. */
export function packExpert(layout: ExpertLayout, w: ExpertWeights): Uint8Array {
  const blob = new Uint8Array(layout.bytes);
  for (const field of EXPERT_FIELDS) {
    const sec = layout[field];
    const v = w[field];
    if (!sec) continue;
    if (!v) throw new RangeError(`expert weights lack "${field}", which the layout has`);
    const [rows, cols] = sec.shape.length === 2 ? sec.shape : [1, sec.shape[0]];
    if (v.length !== rows * cols) throw new RangeError(`expert "${field}" has ${v.length} values, the layout wants ${sec.shape.join('x')}`);
    blob.set(quantizeMatrix(sec.quant, v, rows, cols), sec.offset);
  }
  return blob;
}

/** An MXFP4 expert straight from the checkpoint's bytes (layout.quant must be mxfp4). */
export function packMxfp4Expert(layout: ExpertLayout, raw: Mxfp4Expert): Uint8Array {
  const blob = new Uint8Array(layout.bytes);
  for (const field of ['gate', 'up', 'down'] as const) {
    const sec = layout[field];
    const m = raw[field];
    if (sec.quant !== 'mxfp4') throw new RangeError(`packMxfp4Expert: layout "${field}" is ${sec.quant}, not mxfp4`);
    if (m.rows !== sec.shape[0] || m.cols !== sec.shape[1]) throw new RangeError(`MXFP4 "${field}" is ${m.rows}x${m.cols}, the layout wants ${sec.shape.join('x')}`);
    blob.set(mxfp4FromHf(m.blocks, m.scales, m.rows, m.cols), sec.offset);
  }
  for (const field of ['gate_bias', 'up_bias', 'down_bias'] as const) {
    const sec = layout[field];
    if (!sec) continue;
    const v = raw[field];
    if (!v) throw new RangeError(`MXFP4 expert lacks "${field}", which the layout has`);
    blob.set(quantizeMatrix('f32', v, 1, v.length), sec.offset);
  }
  return blob;
}

/** Blob of expert (layer, e) from any WeightSource, keeping MXFP4 bytes when both sides are mxfp4. */
export async function expertBlobFrom(src: WeightSource, layout: ExpertLayout, layer: number, e: number): Promise<Uint8Array> {
  if (layout.gate.quant === 'mxfp4') {
    const raw = await rawMxfp4(src)?.mxfp4Expert(layer, e);
    if (raw) return packMxfp4Expert(layout, raw);
  }
  return packExpert(layout, await src.expert(layer, e));
}

function section(blob: Uint8Array, sec: BlobSection): PackedTensor {
  if (sec.offset + sec.bytes > blob.byteLength) throw new RangeError(`expert blob of ${blob.byteLength} bytes is too short for a section ending at ${sec.offset + sec.bytes}`);
  return { quant: sec.quant, shape: sec.shape, data: blob.subarray(sec.offset, sec.offset + sec.bytes) };
}

/** Dequantize an expert blob back into canonical f32 weights. */
export function unpackExpert(spec: ModelSpec, layout: ExpertLayout, blob: Uint8Array): ExpertWeights {
  if (blob.byteLength !== layout.bytes) throw new RangeError(`expert blob is ${blob.byteLength} bytes, the layout says ${layout.bytes}`);
  const out: Partial<ExpertWeights> = {};
  for (const field of expertFieldsPresent(spec)) {
    const sec = layout[field];
    if (!sec) throw new RangeError(`expert layout has no "${field}" section but the spec needs it`);
    const want = expertFieldShape(spec, field);
    if (want.join() !== sec.shape.join()) throw new RangeError(`expert layout "${field}" is ${sec.shape.join('x')}, the spec wants ${want.join('x')}`);
    out[field] = dequantTensor(section(blob, sec));
  }
  return out as ExpertWeights;
}

// ---- in memory ---------------------------------------------------------------------------------

export interface InMemoryOptions extends PackOptions {
  /** keep packed expert blobs after the first request (default true) */
  cacheExperts?: boolean;
}

/**
 * Pack a WeightSource (typically an HfCheckpoint) in memory: dense tensors now, experts on first
 * request. Same bytes a package converted with the same options would hold.
 */
export async function packInMemory(src: WeightSource, opts: InMemoryOptions = {}): Promise<PackedModel> {
  const spec = src.spec;
  const denseQuant = opts.denseQuant ?? DEFAULT_DENSE_QUANT;
  const layout = expertLayoutFor(spec, opts.quant ?? (await defaultExpertQuant(src)));
  const dense = new Map<string, PackedTensor>();
  for (const t of packGlobals(spec, await src.globals(), denseQuant)) dense.set(t.name, t.tensor);
  for (let L = 0; L < spec.num_hidden_layers; L++)
    for (const t of packLayer(spec, L, await src.layer(L), denseQuant)) dense.set(t.name, t.tensor);
  const cache = new Map<number, Promise<Uint8Array>>();
  const E = spec.moe.num_experts;
  return {
    spec,
    expertLayout: layout,
    denseNames: () => [...dense.keys()],
    async dense(name) {
      const t = dense.get(name);
      if (!t) throw new RangeError(`no dense tensor "${name}" (have: ${[...dense.keys()].slice(0, 8).join(', ')}, ...)`);
      return t;
    },
    expertBlob(layer, e) {
      if (!Number.isInteger(layer) || layer < 0 || layer >= spec.num_hidden_layers || !Number.isInteger(e) || e < 0 || e >= E)
        return Promise.reject(new RangeError(`expert (${layer}, ${e}) out of range: ${spec.num_hidden_layers} layers × ${E} experts`));
      const key = layer * E + e;
      const hit = cache.get(key);
      if (hit) return hit;
      const p = expertBlobFrom(src, layout, layer, e);
      if (opts.cacheExperts ?? true) {
        cache.set(key, p);
        p.catch(() => cache.delete(key));
      }
      return p;
    },
  };
}

/** Canonical f32 weights of a PackedModel (dequantized): the CPU reference runs on this. */
export function packedWeights(pm: PackedModel): WeightSource {
  const spec = pm.spec;
  const get = async (name: string) => dequantTensor(await pm.dense(name));
  const names = new Set(pm.denseNames());
  return {
    spec,
    async globals() {
      return { embed_tokens: await get('embed_tokens'), final_norm: await get('final_norm'), lm_head: await get('lm_head') };
    },
    async layer(L) {
      if (!Number.isInteger(L) || L < 0 || L >= spec.num_hidden_layers) throw new RangeError(`layer ${L} out of range [0, ${spec.num_hidden_layers})`);
      const out: Partial<LayerWeights> = {};
      for (const field of layerFieldsPresent(spec, L)) {
        const name = layerTensorName(L, field);
        if (!names.has(name)) throw new RangeError(`packed model has no "${name}" although layer ${L} needs it`);
        out[field] = await get(name);
      }
      return out as LayerWeights;
    },
    async expert(L, e) {
      return unpackExpert(spec, pm.expertLayout, await pm.expertBlob(L, e));
    },
  };
}
