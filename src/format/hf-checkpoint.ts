// An HF checkpoint directory (config.json + *.safetensors) as a WeightSource: canonical tensors,
// read lazily tensor by tensor, normalized at load time.
//
// Both expert layouts load: released per-expert tensors (`block_sparse_moe.experts.E.w1/w2/w3`,
// `mlp.experts.E.gate_proj/up_proj/down_proj`; FP8 e4m3 with block `weight_scale_inv`) and the
// fused layout transformers 5 writes (`mlp.experts.gate_up_proj` [E, 2I, D] gate rows then up rows,
// `down_proj` [E, D, I]; gpt-oss: [E, D, 2I] with gate/up interleaved, or MXFP4 `_blocks`/`_scales`).

import { applyBlockScales, decodeToF32, dequantMxfp4 } from './dtypes.ts';
import { CheckpointError, ConfigError, MissingTensorError } from './errors.ts';
import { SafetensorsFile, type TensorInfo } from './safetensors.ts';
import type { DirSource } from './source.ts';
import type { ModelSpec } from './spec.ts';
import {
  expertFieldShape,
  layerFieldShape,
  layerFieldsPresent,
  type ExpertWeights,
  type GlobalWeights,
  type LayerField,
  type LayerWeights,
  type WeightSource,
} from './weights.ts';
import { adapterFor, type Adapter } from './adapters/index.ts';
import { ConfigReader, type HfConfig } from './adapters/common.ts';

/** Candidate checkpoint names (relative to `model.layers.L.`) of each canonical layer field. */
const LAYER_NAMES: Record<LayerField, string[]> = {
  input_norm: ['input_layernorm.weight'],
  post_norm: ['post_attention_layernorm.weight'],
  q_proj: ['self_attn.q_proj.weight'],
  k_proj: ['self_attn.k_proj.weight'],
  v_proj: ['self_attn.v_proj.weight'],
  o_proj: ['self_attn.o_proj.weight', 'self_attn.out_proj.weight'],
  q_bias: ['self_attn.q_proj.bias'],
  k_bias: ['self_attn.k_proj.bias'],
  v_bias: ['self_attn.v_proj.bias'],
  o_bias: ['self_attn.o_proj.bias'],
  q_norm: ['self_attn.q_norm.weight'],
  k_norm: ['self_attn.k_norm.weight'],
  sinks: ['self_attn.sinks'],
  attn_gate: ['self_attn.output_gate.weight'],
  attn_out_norm: ['self_attn.norm.weight'],
  router: ['block_sparse_moe.gate.weight', 'mlp.gate.weight', 'mlp.router.weight'],
  router_bias: ['mlp.router.bias', 'block_sparse_moe.gate.bias', 'mlp.gate.bias'],
  selection_bias: [
    'block_sparse_moe.e_score_correction_bias',
    'mlp.e_score_correction_bias',
    'mlp.gate.e_score_correction_bias',
    'block_sparse_moe.gate.e_score_correction_bias',
  ],
};

const MOE_PREFIXES = ['block_sparse_moe.', 'mlp.'];
const PER_EXPERT_NAMES = [
  { gate: 'w1', up: 'w3', down: 'w2' },
  { gate: 'gate_proj', up: 'up_proj', down: 'down_proj' },
];

/** One MXFP4 matrix as HF stores it: (rows, G, 16) E2M1 nibble bytes and (rows, G) E8M0 scales. */
export interface Mxfp4Matrix {
  rows: number;
  cols: number;
  blocks: Uint8Array; // (rows, G, 16)
  scales: Uint8Array; // (rows, G)
}

export interface Mxfp4Expert extends Pick<ExpertWeights, 'gate_bias' | 'up_bias' | 'down_bias'> {
  gate: Mxfp4Matrix; // (I, D)
  up: Mxfp4Matrix; // (I, D)
  down: Mxfp4Matrix; // (D, I)
}

export async function readHfConfig(dir: DirSource): Promise<HfConfig> {
  const text = await dir.readText('config.json');
  if (text === null) throw new ConfigError(`${dir.name}/config.json`, 'not found: a checkpoint directory needs config.json next to its *.safetensors');
  try {
    const cfg = JSON.parse(text);
    if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new Error('not an object');
    return cfg as HfConfig;
  } catch (e) {
    throw new ConfigError(`${dir.name}/config.json`, `is not valid JSON (${(e as Error).message})`);
  }
}

export class HfCheckpoint implements WeightSource {
  private constructor(
    readonly dir: DirSource,
    readonly config: HfConfig,
    readonly spec: ModelSpec,
    readonly adapter: Adapter,
    private readonly index: Map<string, SafetensorsFile>,
  ) {}

  static async open(dir: DirSource): Promise<HfCheckpoint> {
    const config = await readHfConfig(dir);
    const adapter = adapterFor(config, `${dir.name}/config.json`);
    const spec = adapter.toSpec(new ConfigReader(config, `${dir.name}/config.json`));
    const files = (await dir.list()).filter((f) => f.endsWith('.safetensors')).sort();
    if (files.length === 0) throw new CheckpointError(dir.name, 'no *.safetensors files in the directory');
    const index = new Map<string, SafetensorsFile>();
    for (const f of files) {
      const st = await SafetensorsFile.open(await dir.open(f));
      for (const name of st.tensors.keys()) index.set(name, st);
    }
    return new HfCheckpoint(dir, config, spec, adapter, index);
  }

  has(name: string): boolean {
    return this.index.has(name);
  }

  info(name: string): TensorInfo {
    const f = this.index.get(name);
    if (!f) throw new MissingTensorError(name, this.dir.name);
    return f.tensors.get(name)!;
  }

  fileOf(name: string): string {
    return this.index.get(name)?.source.name ?? this.dir.name;
  }

  private first(cands: string[]): string | null {
    for (const c of cands) if (this.index.has(c)) return c;
    return null;
  }

  /** Whole tensor as f32; FP8 weights get their block `weight_scale_inv` applied. */
  async tensor(name: string): Promise<Float32Array> {
    const info = this.info(name);
    const raw = await this.index.get(name)!.readRaw(name);
    const out = decodeToF32(info.dtype, raw);
    if (info.dtype === 'F8_E4M3') return this.applyFp8Scale(name, info.shape, out);
    return out;
  }

  /** Slice `index` along dim 0 of a stacked tensor, as f32. */
  async slice0(name: string, index: number): Promise<Float32Array> {
    const info = this.info(name);
    const raw = await this.index.get(name)!.readSlice0(name, index);
    if (info.dtype === 'F8_E4M3') throw new CheckpointError(this.fileOf(name), 'stacked FP8 tensors are not supported', name);
    return decodeToF32(info.dtype, raw);
  }

  private async applyFp8Scale(name: string, shape: number[], w: Float32Array): Promise<Float32Array> {
    const scaleName = name.endsWith('.weight') ? `${name}_scale_inv` : `${name}.weight_scale_inv`;
    if (!this.index.has(scaleName))
      throw new CheckpointError(this.fileOf(name), `FP8 weight without its block scale "${scaleName}"`, name);
    const q = (this.config.quantization_config ?? {}) as { weight_block_size?: number[] };
    const block = q.weight_block_size?.[0] ?? 128;
    const [rows, cols] = shape.length === 2 ? shape : [1, shape[0]];
    const sInfo = this.info(scaleName);
    const want = [Math.ceil(rows / block), Math.ceil(cols / block)];
    if (sInfo.shape.length !== 2 || sInfo.shape[0] !== want[0] || sInfo.shape[1] !== want[1])
      throw new CheckpointError(this.fileOf(scaleName), `block scale shape ${JSON.stringify(sInfo.shape)} does not match weight ${JSON.stringify(shape)} with block ${block} (want ${JSON.stringify(want)})`, scaleName);
    return applyBlockScales(w, rows, cols, await this.tensor(scaleName), block);
  }

  private checkShape(name: string, got: number[], want: number[]): void {
    const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
    if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
      // 1-D vs [1, n] etc. are not tolerated: a wrong shape means a wrong config.
      if (!(n(got) === n(want) && got.length !== want.length && want.length === 1))
        throw new CheckpointError(this.fileOf(name), `shape ${JSON.stringify(got)} does not match the config (expected ${JSON.stringify(want)})`, name);
    }
  }

  async globals(): Promise<GlobalWeights> {
    const D = this.spec.hidden_size;
    const V = this.spec.vocab_size;
    const embedName = this.first(['model.embed_tokens.weight', 'embed_tokens.weight']) ?? 'model.embed_tokens.weight';
    this.checkShape(embedName, this.info(embedName).shape, [V, D]);
    const embed_tokens = await this.tensor(embedName);
    const normName = this.first(['model.norm.weight', 'norm.weight']) ?? 'model.norm.weight';
    this.checkShape(normName, this.info(normName).shape, [D]);
    const final_norm = await this.tensor(normName);
    let lm_head = embed_tokens;
    if (!this.spec.tie_word_embeddings || this.has('lm_head.weight')) {
      this.checkShape('lm_head.weight', this.info('lm_head.weight').shape, [V, D]);
      lm_head = await this.tensor('lm_head.weight');
    }
    return { embed_tokens, final_norm, lm_head };
  }

  async layer(L: number): Promise<LayerWeights> {
    const p = `model.layers.${L}.`;
    const spec = this.spec;
    const out: Partial<LayerWeights> = {};
    const linear = spec.layers[L].attention.kind === 'linear';
    for (const field of layerFieldsPresent(spec, L)) {
      const want = layerFieldShape(spec, L, field);
      if (linear && (field === 'q_proj' || field === 'k_proj' || field === 'v_proj')) {
        if (!out.q_proj) Object.assign(out, await this.splitPackedQkv(L));
        continue;
      }
      const name = this.first(LAYER_NAMES[field].map((n) => p + n));
      if (!name) throw new MissingTensorError(p + LAYER_NAMES[field][0], this.dir.name);
      this.checkShape(name, this.info(name).shape, want);
      out[field] = await this.tensor(name);
    }
    return out as LayerWeights;
  }

  /** Text-01 lightning layers pack q|k|v per head: rows [h*3hd, h*3hd+hd) are q of head h, etc. */
  private async splitPackedQkv(L: number): Promise<Pick<LayerWeights, 'q_proj' | 'k_proj' | 'v_proj'>> {
    const name = `model.layers.${L}.self_attn.qkv_proj.weight`;
    const { num_attention_heads: H, head_dim: hd, hidden_size: D } = this.spec;
    this.checkShape(name, this.info(name).shape, [3 * H * hd, D]);
    const w = await this.tensor(name); // (H*3*hd, D)
    const q = new Float32Array(H * hd * D); // (H*hd, D)
    const k = new Float32Array(H * hd * D);
    const v = new Float32Array(H * hd * D);
    for (let h = 0; h < H; h++) {
      const base = h * 3 * hd * D;
      q.set(w.subarray(base, base + hd * D), h * hd * D);
      k.set(w.subarray(base + hd * D, base + 2 * hd * D), h * hd * D);
      v.set(w.subarray(base + 2 * hd * D, base + 3 * hd * D), h * hd * D);
    }
    return { q_proj: q, k_proj: k, v_proj: v };
  }

  async expert(L: number, e: number): Promise<ExpertWeights> {
    const spec = this.spec;
    const { num_experts: E } = spec.moe;
    if (e < 0 || e >= E) throw new RangeError(`expert ${e} out of range [0, ${E})`);
    const p = `model.layers.${L}.`;
    for (const moe of MOE_PREFIXES) {
      for (const names of PER_EXPERT_NAMES) {
        const base = `${p}${moe}experts.${e}.`;
        if (!this.has(`${base}${names.gate}.weight`)) continue;
        const w: ExpertWeights = { gate: new Float32Array(), up: new Float32Array(), down: new Float32Array() };
        for (const f of ['gate', 'up', 'down'] as const) {
          const name = `${base}${names[f]}.weight`;
          this.checkShape(name, this.info(name).shape, expertFieldShape(spec, f));
          w[f] = await this.tensor(name);
          if (spec.moe.expert_bias) w[`${f}_bias`] = await this.tensor(`${base}${names[f]}.bias`);
        }
        return w;
      }
      const fused = `${p}${moe}experts.gate_up_proj`;
      if (this.has(fused) || this.has(`${fused}_blocks`)) return this.fusedExpert(`${p}${moe}experts.`, e);
    }
    throw new MissingTensorError(`${p}block_sparse_moe.experts.${e}.w1.weight (or mlp.experts.gate_up_proj)`, this.dir.name);
  }

  /** One expert from the fused transformers-5 layout (bf16/f32 or MXFP4 blocks). */
  private async fusedExpert(p: string, e: number): Promise<ExpertWeights> {
    const { hidden_size: D, moe } = this.spec;
    const I = moe.moe_intermediate_size;
    const E = moe.num_experts;
    const interleaved = this.adapter.quirks.fusedGateUpInterleaved;
    let gu: Float32Array; // (2I, D) rows: [gate; up] or interleaved
    let down: Float32Array; // (D, I)
    if (this.has(`${p}gate_up_proj_blocks`)) {
      gu = await this.mxfp4Rows(`${p}gate_up_proj`, e, 2 * I, D);
      down = await this.mxfp4Rows(`${p}down_proj`, e, D, I);
    } else {
      const guName = `${p}gate_up_proj`;
      const gs = this.info(guName).shape;
      const raw = await this.slice0(guName, e);
      if (gs.length === 3 && gs[0] === E && gs[1] === 2 * I && gs[2] === D) gu = raw;
      else if (gs.length === 3 && gs[0] === E && gs[1] === D && gs[2] === 2 * I) gu = transpose(raw, D, 2 * I);
      else throw new CheckpointError(this.fileOf(guName), `shape ${JSON.stringify(gs)} is neither [E, 2I, D] nor [E, D, 2I] with E=${E}, I=${I}, D=${D}`, guName);
      const dName = `${p}down_proj`;
      const ds = this.info(dName).shape;
      const rawD = await this.slice0(dName, e);
      // [E, D, I] (out, in) for most families; gpt-oss stores [E, I, D] (in, out).
      if (ds.length === 3 && ds[0] === E && ds[1] === D && ds[2] === I && !(interleaved && D === I)) down = rawD;
      else if (ds.length === 3 && ds[0] === E && ds[1] === I && ds[2] === D) down = transpose(rawD, I, D);
      else throw new CheckpointError(this.fileOf(dName), `shape ${JSON.stringify(ds)} is neither [E, D, I] nor [E, I, D] with E=${E}, I=${I}, D=${D}`, dName);
    }
    const w: ExpertWeights = { gate: new Float32Array(I * D), up: new Float32Array(I * D), down };
    for (let j = 0; j < I; j++) {
      const gRow = interleaved ? 2 * j : j;
      const uRow = interleaved ? 2 * j + 1 : I + j;
      w.gate.set(gu.subarray(gRow * D, gRow * D + D), j * D);
      w.up.set(gu.subarray(uRow * D, uRow * D + D), j * D);
    }
    if (moe.expert_bias) Object.assign(w, await this.fusedBiases(p, e));
    return w;
  }

  /** gate/up/down biases of expert e in the fused layout (gate/up de-interleaved). */
  private async fusedBiases(p: string, e: number): Promise<Pick<ExpertWeights, 'gate_bias' | 'up_bias' | 'down_bias'>> {
    const I = this.spec.moe.moe_intermediate_size;
    const interleaved = this.adapter.quirks.fusedGateUpInterleaved;
    const gub = await this.slice0(`${p}gate_up_proj_bias`, e); // (2I)
    const gate_bias = new Float32Array(I);
    const up_bias = new Float32Array(I);
    for (let j = 0; j < I; j++) {
      gate_bias[j] = gub[interleaved ? 2 * j : j];
      up_bias[j] = gub[interleaved ? 2 * j + 1 : I + j];
    }
    return { gate_bias, up_bias, down_bias: await this.slice0(`${p}down_proj_bias`, e) };
  }

  /**
   * Expert e of layer L as raw MXFP4 bytes, for packages that keep them as is (no requantization):
   * gate/up rows de-interleaved into canonical (I, D) order, down (D, I). Null when layer L's
   * experts are not stored as MXFP4 `_blocks`/`_scales`.
   */
  async mxfp4Expert(L: number, e: number): Promise<Mxfp4Expert | null> {
    const { hidden_size: D, moe } = this.spec;
    const I = moe.moe_intermediate_size;
    const p = MOE_PREFIXES.map((m) => `model.layers.${L}.${m}experts.`).find((q) => this.has(`${q}gate_up_proj_blocks`));
    if (!p) return null;
    if (e < 0 || e >= moe.num_experts) throw new RangeError(`expert ${e} out of range [0, ${moe.num_experts})`);
    const interleaved = this.adapter.quirks.fusedGateUpInterleaved;
    const gu = await this.mxfp4Raw(`${p}gate_up_proj`, e, 2 * I, D); // rows (2I): [gate; up] or interleaved
    const Gd = Math.ceil(D / 32);
    const gate: Mxfp4Matrix = { rows: I, cols: D, blocks: new Uint8Array(I * Gd * 16), scales: new Uint8Array(I * Gd) };
    const up: Mxfp4Matrix = { rows: I, cols: D, blocks: new Uint8Array(I * Gd * 16), scales: new Uint8Array(I * Gd) };
    for (let j = 0; j < I; j++) {
      const gRow = interleaved ? 2 * j : j;
      const uRow = interleaved ? 2 * j + 1 : I + j;
      gate.blocks.set(gu.blocks.subarray(gRow * Gd * 16, (gRow + 1) * Gd * 16), j * Gd * 16);
      up.blocks.set(gu.blocks.subarray(uRow * Gd * 16, (uRow + 1) * Gd * 16), j * Gd * 16);
      gate.scales.set(gu.scales.subarray(gRow * Gd, (gRow + 1) * Gd), j * Gd);
      up.scales.set(gu.scales.subarray(uRow * Gd, (uRow + 1) * Gd), j * Gd);
    }
    const out: Mxfp4Expert = { gate, up, down: await this.mxfp4Raw(`${p}down_proj`, e, D, I) };
    if (moe.expert_bias) Object.assign(out, await this.fusedBiases(p, e));
    return out;
  }

  /** Shape-checked raw `name_blocks` / `name_scales` slices of expert e. */
  private async mxfp4Raw(name: string, e: number, rows: number, cols: number): Promise<Mxfp4Matrix> {
    const bName = `${name}_blocks`;
    const sName = `${name}_scales`;
    const G = Math.ceil(cols / 32);
    const bs = this.info(bName).shape;
    if (bs.length !== 4 || bs[1] !== rows || bs[2] !== G || bs[3] !== 16)
      throw new CheckpointError(this.fileOf(bName), `MXFP4 blocks shape ${JSON.stringify(bs)}, expected [E, ${rows}, ${G}, 16]`, bName);
    const ss = this.info(sName).shape;
    if (ss.length !== 3 || ss[1] !== rows || ss[2] !== G)
      throw new CheckpointError(this.fileOf(sName), `MXFP4 scales shape ${JSON.stringify(ss)}, expected [E, ${rows}, ${G}]`, sName);
    const blocks = await this.index.get(bName)!.readSlice0(bName, e);
    const scales = await this.index.get(sName)!.readSlice0(sName, e);
    return { rows, cols, blocks, scales };
  }

  /** MXFP4 `name_blocks` [E, rows, G, 16] + `name_scales` [E, rows, G] -> expert e as (rows, cols). */
  private async mxfp4Rows(name: string, e: number, rows: number, cols: number): Promise<Float32Array> {
    const G = Math.ceil(cols / 32);
    const { blocks, scales } = await this.mxfp4Raw(name, e, rows, cols);
    const full = dequantMxfp4(blocks, scales, rows, G); // (rows, G*32)
    if (G * 32 === cols) return full;
    const out = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) out.set(full.subarray(r * G * 32, r * G * 32 + cols), r * cols);
    return out;
  }
}

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols); // (cols, rows)
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j];
  return out;
}
