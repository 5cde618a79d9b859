// Shared pieces of the HF config adapters: reading typed fields with clear errors, RoPE parameters
// (transformers 4 `rope_theta`/`rope_scaling`, transformers 5 `rope_parameters`, and per-layer-type
// `rope_parameters` keyed by layer type as Gemma 3 does), layer-type lists.

import { ConfigError, UnsupportedModelError } from '../errors.ts';
import type { AttentionKind, LayerSpec, ModelSpec, MoeSpec, QkNorm, RopeSpec } from '../spec.ts';

export type HfConfig = Record<string, unknown>;

export class ConfigReader {
  constructor(
    readonly cfg: HfConfig,
    readonly file = 'config.json',
  ) {}

  has(key: string): boolean {
    return this.cfg[key] !== undefined && this.cfg[key] !== null;
  }

  num(key: string, fallback?: number): number {
    const v = this.cfg[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(this.file, `required field "${key}" is missing`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(this.file, `field "${key}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  }

  int(key: string, fallback?: number): number {
    const v = this.num(key, fallback);
    if (!Number.isInteger(v) || v < 0) throw new ConfigError(this.file, `field "${key}" must be a non-negative integer, got ${v}`);
    return v;
  }

  /** first present key among aliases */
  intOf(keys: string[], fallback?: number): number {
    for (const k of keys) if (this.has(k)) return this.int(k);
    if (fallback !== undefined) return fallback;
    throw new ConfigError(this.file, `required field "${keys[0]}" is missing`);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.cfg[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw new ConfigError(this.file, `field "${key}" must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  str(key: string, fallback: string): string {
    const v = this.cfg[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string') throw new ConfigError(this.file, `field "${key}" must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  list<T>(key: string): T[] | null {
    const v = this.cfg[key];
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v)) throw new ConfigError(this.file, `field "${key}" must be a list`);
    return v as T[];
  }

  obj(key: string): Record<string, unknown> | null {
    const v = this.cfg[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(this.file, `field "${key}" must be an object`);
    return v as Record<string, unknown>;
  }
}

/** The dimensions every family shares. */
export function baseDims(r: ConfigReader) {
  const hidden_size = r.int('hidden_size');
  const num_attention_heads = r.int('num_attention_heads');
  const num_key_value_heads = r.int('num_key_value_heads', num_attention_heads);
  const head_dim = r.has('head_dim') ? r.int('head_dim') : hidden_size / num_attention_heads;
  if (!Number.isInteger(head_dim)) throw new ConfigError(r.file, 'head_dim is absent and hidden_size is not a multiple of num_attention_heads');
  if (num_key_value_heads === 0 || num_attention_heads % num_key_value_heads !== 0)
    throw new ConfigError(r.file, `num_attention_heads (${num_attention_heads}) must be a multiple of num_key_value_heads (${num_key_value_heads})`);
  const eos = r.cfg.eos_token_id;
  const eos_token_id = eos === undefined || eos === null ? [] : Array.isArray(eos) ? (eos as number[]) : [eos as number];
  return {
    hidden_size,
    num_hidden_layers: r.int('num_hidden_layers'),
    num_attention_heads,
    num_key_value_heads,
    head_dim,
    vocab_size: r.int('vocab_size'),
    rms_norm_eps: r.num('rms_norm_eps', 1e-6),
    max_position_embeddings: r.int('max_position_embeddings', 4096),
    tie_word_embeddings: r.bool('tie_word_embeddings', false),
    bos_token_id: r.has('bos_token_id') ? r.int('bos_token_id') : null,
    eos_token_id,
    clip_qkv: r.has('clip_qkv') ? r.num('clip_qkv') : null,
  };
}

const LAYER_TYPE_NAMES = ['full_attention', 'sliding_attention', 'linear_attention'];

/** Resolve one rope-parameter object (HF `rope_parameters` entry or legacy fields) into a RopeSpec. */
function ropeFrom(r: ConfigReader, p: Record<string, unknown> | null, headDim: number, defaultTheta: number, opts: RopeOptions): RopeSpec {
  const get = (k: string) => (p && p[k] !== undefined && p[k] !== null ? p[k] : undefined);
  const theta = Number(get('rope_theta') ?? r.cfg.rope_theta ?? defaultTheta);
  let rotary_dim = headDim;
  const partial = opts.partialRotaryFactor === false ? undefined : (get('partial_rotary_factor') ?? r.cfg.partial_rotary_factor);
  if (partial !== undefined && partial !== null) rotary_dim = Math.round(headDim * Number(partial));
  else if (r.has('rotary_dim')) rotary_dim = r.int('rotary_dim');
  if (rotary_dim <= 0 || rotary_dim > headDim || rotary_dim % 2 !== 0)
    throw new ConfigError(r.file, `rotary dimension ${rotary_dim} must be even and in (0, head_dim=${headDim}]`);
  const type = String(get('rope_type') ?? get('type') ?? 'default');
  if (type === 'default') return { theta, rotary_dim, scaling: { type: 'none' } };
  if (type === 'yarn') {
    const factor = Number(get('factor') ?? 1);
    const mscale = get('attention_factor');
    return {
      theta,
      rotary_dim,
      scaling: {
        type: 'yarn',
        factor,
        original_max_position_embeddings: Number(get('original_max_position_embeddings') ?? r.cfg.original_max_position_embeddings ?? 4096),
        beta_fast: Number(get('beta_fast') ?? 32),
        beta_slow: Number(get('beta_slow') ?? 1),
        truncate: get('truncate') === undefined ? true : Boolean(get('truncate')),
        attention_factor: mscale !== undefined ? Number(mscale) : factor <= 1 ? 1 : 0.1 * Math.log(factor) + 1,
      },
    };
  }
  throw new UnsupportedModelError(`${r.file}: rope_type "${type}" is not supported (supported: default, yarn)`);
}

export interface RopeOptions {
  /** false where HF's module ignores `partial_rotary_factor` (HF-native MiniMax rotates all dims) */
  partialRotaryFactor?: boolean;
}

/**
 * RoPE per layer type. `rope_parameters` may be one object for all layers or (Gemma 3 convention)
 * an object keyed by layer type; legacy configs use `rope_theta` + `rope_scaling`.
 */
export function ropeByLayerType(r: ConfigReader, headDim: number, defaultTheta: number, opts: RopeOptions = {}): (layerType: string) => RopeSpec {
  const rp = r.obj('rope_parameters') ?? r.obj('rope_scaling');
  if (rp && Object.keys(rp).some((k) => LAYER_TYPE_NAMES.includes(k))) {
    const table: Record<string, RopeSpec> = {};
    for (const [k, v] of Object.entries(rp)) table[k] = ropeFrom(r, v as Record<string, unknown>, headDim, defaultTheta, opts);
    return (t) => table[t] ?? table.full_attention ?? Object.values(table)[0];
  }
  const single = ropeFrom(r, rp, headDim, defaultTheta, opts);
  return () => single;
}

/** Validate an explicit `layer_types` list. */
export function layerTypes(r: ConfigReader, n: number): string[] | null {
  const lt = r.list<string>('layer_types');
  if (!lt) return null;
  if (lt.length !== n) throw new ConfigError(r.file, `layer_types has ${lt.length} entries but num_hidden_layers is ${n}`);
  for (const t of lt)
    if (!LAYER_TYPE_NAMES.includes(t)) throw new UnsupportedModelError(`${r.file}: layer type "${t}" is not supported (supported: ${LAYER_TYPE_NAMES.join(', ')})`);
  return lt;
}

export function attentionFor(type: string, window: number | null): AttentionKind {
  if (type === 'sliding_attention') {
    if (!window) throw new UnsupportedModelError('a sliding_attention layer needs "sliding_window" in config.json');
    return { kind: 'sliding', window };
  }
  if (type === 'full_attention') return window ? { kind: 'sliding', window } : { kind: 'full' };
  throw new UnsupportedModelError(`layer type "${type}" cannot be built as softmax attention`);
}

export const PRE_NORM: LayerSpec['residual'] = { from_normed: false, attn_alpha: 1, attn_beta: 1, mlp_alpha: 1, mlp_beta: 1 };

export function softmaxAttentionLayer(
  attention: AttentionKind,
  rope: RopeSpec,
  opts: { qk_norm?: QkNorm; attention_bias?: boolean; sinks?: boolean; residual?: LayerSpec['residual'] } = {},
): LayerSpec {
  return {
    attention,
    rope,
    qk_norm: opts.qk_norm ?? 'none',
    attention_bias: opts.attention_bias ?? false,
    sinks: opts.sinks ?? false,
    residual: opts.residual ?? PRE_NORM,
  };
}

export function checkSpec(spec: ModelSpec, file: string): ModelSpec {
  const m: MoeSpec = spec.moe;
  if (m.num_experts < 1) throw new ConfigError(file, 'the model has no experts (num_local_experts/num_experts is 0): dense models are not MoE models');
  if (m.num_experts_per_tok < 1 || m.num_experts_per_tok > m.num_experts)
    throw new ConfigError(file, `num_experts_per_tok (${m.num_experts_per_tok}) must be in [1, ${m.num_experts}]`);
  if (spec.layers.length !== spec.num_hidden_layers) throw new ConfigError(file, 'layer list length differs from num_hidden_layers');
  return spec;
}
