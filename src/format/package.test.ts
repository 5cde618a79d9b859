// The package writer and reader with no file system at all (as in a browser): a canonical
// WeightSource -> in-memory sink -> in-memory DirSource -> PackedModel / WeightSource.

import { describe, expect, it } from 'vitest';
import { adapterFor } from './adapters/index.ts';
import { ConfigReader } from './adapters/common.ts';
import { parseManifest } from './manifest.ts';
import { expertLayoutFor } from './pack.ts';
import { openPackage } from './package.ts';
import { writePackage, type PackageSink } from './package-write.ts';
import { sha256Hex } from './sha256.ts';
import { bytesSource, type DirSource } from './source.ts';
import type { ModelSpec } from './spec.ts';
import { expertFieldShape, expertFieldsPresent, layerFieldShape, layerFieldsPresent, type ExpertWeights, type LayerWeights, type WeightSource } from './weights.ts';

function memoryStore(): { sink: PackageSink; dir: DirSource; files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  const sink: PackageSink = {
    async create(path) {
      const parts: Uint8Array[] = [];
      return {
        async write(b) {
          parts.push(b.slice());
        },
        async close() {
          const all = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
          let o = 0;
          for (const p of parts) {
            all.set(p, o);
            o += p.byteLength;
          }
          files.set(path, all);
          return { bytes: all.byteLength, sha256: await sha256Hex(all) };
        },
      };
    },
  };
  const dir: DirSource = {
    name: 'mem:',
    list: async () => [...files.keys()],
    readText: async (p) => (files.has(p) ? new TextDecoder().decode(files.get(p)) : null),
    open: async (p) => {
      const f = files.get(p);
      if (!f) throw Object.assign(new Error(`${p}: not found`), { code: 'ENOENT' });
      return bytesSource(`mem:${p}`, f);
    },
  };
  return { sink, dir, files };
}

/** Random canonical weights for a spec (deterministic per tensor). */
function randomSource(spec: ModelSpec): WeightSource {
  const fill = (n: number, seed: number) => {
    let s = seed >>> 0 || 1;
    return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.2);
  };
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  return {
    spec,
    async globals() {
      const V = spec.vocab_size;
      const D = spec.hidden_size;
      return { embed_tokens: fill(V * D, 1), final_norm: fill(D, 2), lm_head: fill(V * D, 3) };
    },
    async layer(L) {
      const out: Partial<LayerWeights> = {};
      layerFieldsPresent(spec, L).forEach((f, i) => (out[f] = fill(size(layerFieldShape(spec, L, f)), 100 * L + i + 10)));
      return out as LayerWeights;
    },
    async expert(L, e) {
      const out: Partial<ExpertWeights> = {};
      expertFieldsPresent(spec).forEach((f, i) => (out[f] = fill(size(expertFieldShape(spec, f)), 10_000 * L + 100 * e + i + 7)));
      return out as ExpertWeights;
    },
  };
}

const config = {
  model_type: 'gpt_oss',
  hidden_size: 48, // not a multiple of 32 anywhere: every grouped codec pads
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 8,
  vocab_size: 40,
  num_local_experts: 3,
  num_experts_per_tok: 2,
  layer_types: ['sliding_attention', 'full_attention'],
  sliding_window: 4,
};
const spec = adapterFor(config, 'config.json').toSpec(new ConfigReader(config));

describe('package in memory (no file system)', () => {
  it('f32 round trip is exact; manifest parses back', async () => {
    const src = randomSource(spec);
    const { sink, dir, files } = memoryStore();
    const m = await writePackage(src, sink, { quant: 'f32', denseQuant: 'f32' });
    expect(parseManifest(new TextDecoder().decode(files.get('manifest.json')!), 'manifest.json')).toEqual(m);
    const pkg = await openPackage(dir);
    const w = pkg.weights();
    expect(Array.from((await w.globals()).lm_head)).toEqual(Array.from((await src.globals()).lm_head));
    const [a, b] = [await w.layer(1), await src.layer(1)];
    for (const f of layerFieldsPresent(spec, 1)) expect(Array.from(a[f]!), f).toEqual(Array.from(b[f]!));
    const [x, y] = [await w.expert(1, 2), await src.expert(1, 2)];
    for (const f of expertFieldsPresent(spec)) expect(Array.from(x[f]!), f).toEqual(Array.from(y[f]!));
  });

  it('q4 experts / q8 dense: blob size from the layout, biases exact, matrices within the codec bound', async () => {
    const src = randomSource(spec);
    const { sink, dir, files } = memoryStore();
    await writePackage(src, sink, { quant: 'q4', denseQuant: 'q8' });
    const pkg = await openPackage(dir);
    expect(pkg.expertLayout).toEqual(expertLayoutFor(spec, 'q4'));
    expect(files.get('experts/L0-E1.bin')!.byteLength).toBe(pkg.expertLayout.bytes);
    const [x, y] = [await pkg.weights().expert(0, 1), await src.expert(0, 1)];
    expect(Array.from(x.down_bias!)).toEqual(Array.from(y.down_bias!));
    const maxErr = (p: Float32Array, q: Float32Array) => p.reduce((m, v, i) => Math.max(m, Math.abs(v - q[i])), 0);
    expect(maxErr(x.gate, y.gate)).toBeLessThanOrEqual((0.1 / 7 / 2) * 1.001);
    const l = await pkg.weights().layer(0);
    expect(maxErr(l.q_proj, (await src.layer(0)).q_proj)).toBeLessThanOrEqual((0.1 / 127 / 2) * 1.001);
    expect(Array.from(l.sinks!)).toEqual(Array.from((await src.layer(0)).sinks!));
  });

  it('rejects out-of-range experts and unknown dense names', async () => {
    const { sink, dir } = memoryStore();
    await writePackage(randomSource(spec), sink, { quant: 'q8' });
    const pkg = await openPackage(dir);
    await expect(pkg.expertBlob(2, 0)).rejects.toThrow(RangeError);
    await expect(pkg.expertBlob(0, 3)).rejects.toThrow(RangeError);
    await expect(pkg.dense('layers.0.nope')).rejects.toThrow(/no dense tensor/);
  });
});
