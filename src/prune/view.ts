// A pruned model as a view over the original PackedModel: nothing is re-quantized.
//
//   spec.moe.num_experts           E -> E'
//   layers.{L}.router              (E, D) -> (E', D)   rows kept[L]
//   layers.{L}.router_bias         (E) -> (E')
//   layers.{L}.selection_bias      (E) -> (E')         e_score_correction_bias
//   expert blob (L, e')            = original blob (L, kept[L][e']), bytes unchanged
//
// Survivors keep their own router rows (no merging) and top-k is unchanged, so the pruned model
// is the original one with the removed experts' router logits at -inf (see tests/prune/).
// Router tensors are f32 in every package (pack.ts), so slicing rows is exact.

import type { PackedModel, PackedTensor } from '../format/quant-layout.ts';
import type { ModelSpec } from '../format/spec.ts';
import { PruneError } from './errors.ts';

const ROUTER_TENSOR = /^layers\.(\d+)\.(router|router_bias|selection_bias)$/;

/** The spec of the pruned model: only moe.num_experts changes. */
export function prunedSpec(spec: ModelSpec, expertsPerLayer: number): ModelSpec {
  return { ...spec, moe: { ...spec.moe, num_experts: expertsPerLayer } };
}

function checkKept(spec: ModelSpec, kept: number[][]): number {
  const E = spec.moe.num_experts;
  if (kept.length !== spec.num_hidden_layers) throw new PruneError(`survivor lists for ${kept.length} layers, the model has ${spec.num_hidden_layers}`);
  const n = kept[0].length;
  kept.forEach((row, L) => {
    if (row.length !== n) throw new PruneError(`layer ${L} keeps ${row.length} experts, layer 0 keeps ${n}: every layer must keep the same number`);
    row.forEach((e, i) => {
      if (!Number.isInteger(e) || e < 0 || e >= E || (i > 0 && e <= row[i - 1]))
        throw new PruneError(`layer ${L}: survivors must be ascending distinct expert indices in [0, ${E}), got [${row.join(', ')}]`);
    });
  });
  if (n < spec.moe.num_experts_per_tok) throw new PruneError(`${n} experts per layer are fewer than top-k = ${spec.moe.num_experts_per_tok}`);
  return n;
}

/** Rows `rows` of an f32 tensor whose first dimension is the expert index. */
function sliceRows(name: string, t: PackedTensor, rows: number[]): PackedTensor {
  if (t.quant !== 'f32') throw new PruneError(`${name} is ${t.quant}; pruning needs the router tensors in f32 (convert the package again)`);
  const width = t.shape.length === 2 ? t.shape[1] : 1;
  const src = new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
  const out = new Float32Array(rows.length * width); // (E', width)
  rows.forEach((r, i) => out.set(src.subarray(r * width, (r + 1) * width), i * width));
  return { quant: 'f32', shape: t.shape.length === 2 ? [rows.length, width] : [rows.length], data: new Uint8Array(out.buffer) };
}

/** `pm` with only the experts kept[L] of each layer, renumbered 0..E'-1 in ascending order. */
export function prunedView(pm: PackedModel, kept: number[][]): PackedModel {
  const n = checkKept(pm.spec, kept);
  const spec = prunedSpec(pm.spec, n);
  return {
    spec,
    expertLayout: pm.expertLayout,
    denseNames: () => pm.denseNames(),
    async dense(name) {
      const t = await pm.dense(name);
      const m = ROUTER_TENSOR.exec(name);
      if (!m) return t;
      const L = Number(m[1]);
      const data = t.data.byteOffset % 4 === 0 ? t : { ...t, data: t.data.slice() };
      return sliceRows(name, data, kept[L]);
    },
    expertBlob(layer, e) {
      if (!Number.isInteger(layer) || layer < 0 || layer >= spec.num_hidden_layers || !Number.isInteger(e) || e < 0 || e >= n)
        return Promise.reject(new RangeError(`expert (${layer}, ${e}) out of range: ${spec.num_hidden_layers} layers × ${n} experts`));
      return pm.expertBlob(layer, kept[layer][e]);
    },
  };
}
