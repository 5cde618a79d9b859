// A small deterministic WebMoE package for store and downloader tests: seeded random bytes for
// every dense tensor and expert blob, and a manifest.json that passes the real schema and its
// cross-field checks (src/format/manifest.ts). The bytes are not a trained model; they only have
// to be the right sizes and hash to the recorded sha256. Same options + seed => same bytes.

import { ManifestSchema, MANIFEST_FILE, PACKAGE_FORMAT, PACKAGE_VERSION, checkManifest, denseShardName, expertFileName, type Manifest } from '../../format/manifest.ts';
import { alignUp, expertLayout, type QuantKind } from '../../format/quant-layout.ts';
import { sha256Hex } from '../../format/sha256.ts';
import type { ModelSpec } from '../../format/spec.ts';

export interface TestPackageOptions {
  seed?: number;
  layers?: number;
  experts?: number;
  topK?: number;
  /** D */
  hidden?: number;
  /** I */
  intermediate?: number;
  vocab?: number;
  quant?: QuantKind;
}

export interface TestPackage {
  manifest: Manifest;
  /** every file including manifest.json, by package-relative path */
  files: Map<string, Uint8Array>;
  /** bytes of the files the manifest lists (manifest.json excluded) */
  totalBytes: number;
}

/** mulberry32 stream of bytes; the seed mixes the package seed and the file path. */
export function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i += 4) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    t = (t ^ (t >>> 14)) >>> 0;
    for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (t >>> (8 * k)) & 0xff;
  }
  return out;
}

function hashString(s: string, seed: number): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function testSpec(o: Required<TestPackageOptions>): ModelSpec {
  const heads = 2;
  return {
    model_type: 'qwen3_moe',
    hidden_size: o.hidden,
    num_hidden_layers: o.layers,
    num_attention_heads: heads,
    num_key_value_heads: 1,
    head_dim: o.hidden / heads,
    vocab_size: o.vocab,
    rms_norm_eps: 1e-6,
    max_position_embeddings: 256,
    tie_word_embeddings: false,
    clip_qkv: null,
    bos_token_id: null,
    eos_token_id: [0],
    layers: Array.from({ length: o.layers }, () => ({
      attention: { kind: 'full' as const },
      rope: { theta: 10000, rotary_dim: o.hidden / heads, scaling: { type: 'none' as const } },
      qk_norm: 'per_head' as const,
      attention_bias: false,
      sinks: false,
      residual: { from_normed: false, attn_alpha: 1, attn_beta: 1, mlp_alpha: 1, mlp_beta: 1 },
    })),
    moe: {
      num_experts: o.experts,
      num_experts_per_tok: o.topK,
      moe_intermediate_size: o.intermediate,
      scoring_func: 'softmax',
      score_over: 'all',
      selection_bias: false,
      norm_topk_prob: true,
      routed_scaling_factor: 1,
      router_bias: false,
      activation: { kind: 'swiglu' },
      expert_bias: false,
    },
  };
}

export async function makeTestPackage(options: TestPackageOptions = {}): Promise<TestPackage> {
  const o: Required<TestPackageOptions> = {
    seed: 1,
    layers: 2,
    experts: 8,
    topK: 2,
    hidden: 256,
    intermediate: 256,
    vocab: 512,
    quant: 'q4',
    ...options,
  };
  const spec = testSpec(o);
  const files = new Map<string, Uint8Array>();
  const fileEntries: Manifest['files'] = [];
  const addFile = async (path: string, bytes: Uint8Array) => {
    files.set(path, bytes);
    const sha256 = await sha256Hex(bytes);
    fileEntries.push({ path, bytes: bytes.byteLength, sha256 });
    return sha256;
  };

  // Dense: f32 tensors, embed_tokens alone in shard 0, final_norm + lm_head in shard 1.
  const D = o.hidden;
  const V = o.vocab;
  const dense: Manifest['dense'] = [];
  const shards: { name: string; shape: number[] }[][] = [
    [{ name: 'embed_tokens', shape: [V, D] }],
    [
      { name: 'final_norm', shape: [D] },
      { name: 'lm_head', shape: [V, D] },
    ],
  ];
  for (let s = 0; s < shards.length; s++) {
    const file = denseShardName(s);
    const parts: Uint8Array[] = [];
    let pos = 0;
    for (const t of shards[s]) {
      const offset = alignUp(pos);
      if (offset > pos) parts.push(new Uint8Array(offset - pos));
      const bytes = randomBytes(t.shape.reduce((a, b) => a * b, 4), hashString(`${file}:${t.name}`, o.seed));
      parts.push(bytes);
      pos = offset + bytes.byteLength;
      dense.push({ name: t.name, file, offset, bytes: bytes.byteLength, quant: 'f32', shape: t.shape, sha256: await sha256Hex(bytes) });
    }
    const shard = new Uint8Array(pos);
    let at = 0;
    for (const p of parts) {
      shard.set(p, at);
      at += p.byteLength;
    }
    await addFile(file, shard);
  }

  const layout = expertLayout(o.quant, D, o.intermediate, false);
  const experts: Manifest['experts'] = [];
  for (let l = 0; l < o.layers; l++)
    for (let e = 0; e < o.experts; e++) {
      const file = expertFileName(l, e);
      const sha256 = await addFile(file, randomBytes(layout.bytes, hashString(file, o.seed)));
      experts.push({ layer: l, index: e, file, bytes: layout.bytes, sha256 });
    }

  const manifest = ManifestSchema.parse({
    format: PACKAGE_FORMAT,
    version: PACKAGE_VERSION,
    spec,
    source: { model_type: spec.model_type, converter: 'webmoe test package', seed: o.seed },
    tokenizer: { tokenizer: null, tokenizer_config: null, chat_template: null, generation_config: null },
    quantization: { experts: o.quant, dense: 'f32' },
    dense,
    expert_layout: layout,
    experts,
    files: fileEntries,
  }) as Manifest;
  checkManifest(manifest, MANIFEST_FILE);
  files.set(MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(manifest, null, 1) + '\n'));
  return { manifest, files, totalBytes: fileEntries.reduce((a, f) => a + f.bytes, 0) };
}
