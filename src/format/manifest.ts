// manifest.json of a WebMoE package: the zod schema, the semantic checks zod cannot express, and
// the package file names. Validated before any other byte of the package is read.
//
// Package directory (format "webmoe-package", version 1):
//   manifest.json            this file
//   dense-00000.bin ...      dense tensors (embeddings, attention, norms, routers, LM head),
//                            each at a multiple of 256 bytes, shards capped at ~64 MiB
//                            (a larger tensor gets a shard of its own)
//   experts/L{l}-E{e}.bin    one blob per (layer, expert) in the ExpertLayout byte layout
//   tokenizer.json, tokenizer_config.json, chat_template.jinja, generation_config.json (if any)

import { z } from 'zod';
import { WebMoeError } from './errors.ts';
import { ALIGN, QUANT_KINDS, expertLayout, matrixBytes, type ExpertLayout, type QuantKind } from './quant-layout.ts';
import type { ModelSpec } from './spec.ts';
import { EXPERT_FIELDS } from './weights.ts';

export const PACKAGE_FORMAT = 'webmoe-package';
export const PACKAGE_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

export function denseShardName(i: number): string {
  return `dense-${String(i).padStart(5, '0')}.bin`;
}

export function expertFileName(layer: number, expert: number): string {
  return `experts/L${layer}-E${expert}.bin`;
}

/** manifest.json is missing, is not JSON, fails the schema, or contradicts itself. */
export class ManifestError extends WebMoeError {
  readonly file: string;
  constructor(file: string, message: string) {
    super('manifest_invalid', `${file}: ${message}. Convert the package again with \`webmoe convert\` (or download it again).`);
    this.file = file;
  }
}

// ---- schema -----------------------------------------------------------------------------------

const int = z.number().int().nonnegative();
const pos = z.number().int().positive();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');
const relPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\\'), 'a relative path inside the package');
const quant = z.enum(QUANT_KINDS as [QuantKind, ...QuantKind[]]);

// Spec objects are loose: fields a later ModelSpec adds survive a round trip through the schema.
const ropeSpec = z.looseObject({
  theta: z.number(),
  rotary_dim: pos,
  scaling: z.discriminatedUnion('type', [
    z.looseObject({ type: z.literal('none') }),
    z.looseObject({
      type: z.literal('yarn'),
      factor: z.number(),
      original_max_position_embeddings: z.number(),
      beta_fast: z.number(),
      beta_slow: z.number(),
      truncate: z.boolean(),
      attention_factor: z.number(),
    }),
  ]),
});

const layerSpec = z.looseObject({
  attention: z.discriminatedUnion('kind', [
    z.looseObject({ kind: z.literal('full') }),
    z.looseObject({ kind: z.literal('sliding'), window: pos }),
    z.looseObject({ kind: z.literal('linear'), decay: z.array(z.number()), block_size: pos, out_norm_eps: z.number() }),
  ]),
  rope: ropeSpec.nullable(),
  qk_norm: z.enum(['none', 'per_head', 'whole_projection']),
  attention_bias: z.boolean(),
  sinks: z.boolean(),
  residual: z.looseObject({
    from_normed: z.boolean(),
    attn_alpha: z.number(),
    attn_beta: z.number(),
    mlp_alpha: z.number(),
    mlp_beta: z.number(),
  }),
});

const moeSpec = z.looseObject({
  num_experts: pos,
  num_experts_per_tok: pos,
  moe_intermediate_size: pos,
  scoring_func: z.enum(['softmax', 'sigmoid']),
  score_over: z.enum(['all', 'topk_logits']),
  selection_bias: z.boolean(),
  norm_topk_prob: z.boolean(),
  routed_scaling_factor: z.number(),
  router_bias: z.boolean(),
  activation: z.discriminatedUnion('kind', [
    z.looseObject({ kind: z.literal('swiglu') }),
    z.looseObject({ kind: z.literal('clamped_swiglu'), alpha: z.number(), limit: z.number() }),
  ]),
  expert_bias: z.boolean(),
});

export const ModelSpecSchema = z.looseObject({
  model_type: z.string().min(1),
  hidden_size: pos,
  num_hidden_layers: pos,
  num_attention_heads: pos,
  num_key_value_heads: pos,
  head_dim: pos,
  vocab_size: pos,
  rms_norm_eps: z.number(),
  max_position_embeddings: pos,
  tie_word_embeddings: z.boolean(),
  clip_qkv: z.number().nullable(),
  bos_token_id: int.nullable(),
  eos_token_id: z.array(int),
  layers: z.array(layerSpec),
  moe: moeSpec,
});

const blobSection = z.object({ offset: int, bytes: int, quant, shape: z.array(pos).min(1).max(2) });

const expertLayoutSchema = z.object({
  gate: blobSection,
  up: blobSection,
  down: blobSection,
  gate_bias: blobSection.optional(),
  up_bias: blobSection.optional(),
  down_bias: blobSection.optional(),
  bytes: pos,
});

const denseTensor = z.object({
  /** canonical name: embed_tokens, final_norm, lm_head, layers.{L}.{field} */
  name: z.string().regex(/^(embed_tokens|final_norm|lm_head|layers\.\d+\.[a-z_]+)$/),
  file: relPath,
  offset: int,
  bytes: pos,
  quant,
  shape: z.array(pos).min(1).max(2),
  sha256,
});

const expertEntry = z.object({ layer: int, index: int, file: relPath, bytes: pos, sha256 });

const fileEntry = z.object({ path: relPath, bytes: int, sha256 });

export const ManifestSchema = z.object({
  format: z.literal(PACKAGE_FORMAT),
  version: z.literal(PACKAGE_VERSION),
  spec: ModelSpecSchema,
  /** provenance: HF model_type and the converter's options */
  source: z.looseObject({ model_type: z.string(), converter: z.string() }),
  tokenizer: z.object({
    tokenizer: relPath.nullable(),
    tokenizer_config: relPath.nullable(),
    chat_template: relPath.nullable(),
    generation_config: relPath.nullable(),
  }),
  quantization: z.object({ experts: quant, dense: quant }),
  dense: z.array(denseTensor),
  expert_layout: expertLayoutSchema,
  experts: z.array(expertEntry),
  files: z.array(fileEntry),
});

export type Manifest = z.infer<typeof ManifestSchema> & { spec: ModelSpec; expert_layout: ExpertLayout };
export type DenseEntry = Manifest['dense'][number];
export type ExpertEntry = Manifest['experts'][number];
export type FileEntry = Manifest['files'][number];

// ---- validation -------------------------------------------------------------------------------

/** Parse and check manifest.json text; `file` names it in errors. */
export function parseManifest(text: string, file: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(file, `is not valid JSON (${(e as Error).message})`);
  }
  if (json && typeof json === 'object' && 'format' in json && (json as { format: unknown }).format === PACKAGE_FORMAT) {
    const v = (json as { version?: unknown }).version;
    if (typeof v === 'number' && v > PACKAGE_VERSION)
      throw new ManifestError(file, `package format version ${v} is newer than this WebMoE understands (${PACKAGE_VERSION}); update WebMoE`);
  }
  const r = ManifestSchema.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ManifestError(file, `does not match the webmoe-package v${PACKAGE_VERSION} schema (${issues.join('; ')})`);
  }
  const m = r.data as Manifest;
  checkManifest(m, file);
  return m;
}

/** Cross-field checks: sizes follow from shapes and quant kinds, every reference resolves. */
export function checkManifest(m: Manifest, file: string): void {
  const bad = (msg: string) => {
    throw new ManifestError(file, msg);
  };
  const s = m.spec;
  if (s.layers.length !== s.num_hidden_layers) bad(`spec has ${s.layers.length} layers but num_hidden_layers is ${s.num_hidden_layers}`);
  if (s.moe.num_experts_per_tok > s.moe.num_experts) bad('spec.moe.num_experts_per_tok exceeds num_experts');
  const files = new Map(m.files.map((f) => [f.path, f]));
  if (files.size !== m.files.length) bad('files lists a path twice');
  for (const [k, f] of Object.entries(m.tokenizer)) if (f !== null && !files.has(f)) bad(`tokenizer.${k} "${f}" is not in files`);

  const names = new Set<string>();
  for (const t of m.dense) {
    if (names.has(t.name)) bad(`dense tensor "${t.name}" is listed twice`);
    names.add(t.name);
    const f = files.get(t.file);
    if (!f) bad(`dense tensor "${t.name}" lives in "${t.file}", which is not in files`);
    if (t.offset % ALIGN !== 0) bad(`dense tensor "${t.name}" starts at ${t.offset}, not a multiple of ${ALIGN}`);
    if (t.offset + t.bytes > f!.bytes) bad(`dense tensor "${t.name}" ends at ${t.offset + t.bytes}, past the end of "${t.file}" (${f!.bytes} bytes)`);
    if (t.shape.length === 1 && t.quant !== 'f32') bad(`dense vector "${t.name}" must be f32, not ${t.quant}`);
    const want = t.shape.length === 1 ? t.shape[0] * 4 : matrixBytes(t.quant, t.shape[0], t.shape[1]);
    if (t.bytes !== want) bad(`dense tensor "${t.name}" is ${t.bytes} bytes but ${t.quant}${JSON.stringify(t.shape)} takes ${want}`);
  }
  for (const need of ['embed_tokens', 'final_norm', 'lm_head']) if (!names.has(need)) bad(`dense tensor "${need}" is missing`);

  const L = m.expert_layout;
  const want = expertLayout(m.quantization.experts, s.hidden_size, s.moe.moe_intermediate_size, s.moe.expert_bias);
  if (!sameLayout(L, want))
    bad(`expert_layout does not match ${m.quantization.experts} experts of D=${s.hidden_size}, I=${s.moe.moe_intermediate_size} (expected ${JSON.stringify(want)})`);
  const E = s.moe.num_experts;
  if (m.experts.length !== s.num_hidden_layers * E) bad(`experts lists ${m.experts.length} blobs, expected layers × experts = ${s.num_hidden_layers} × ${E}`);
  const seen = new Set<number>();
  for (const x of m.experts) {
    if (x.layer >= s.num_hidden_layers || x.index >= E) bad(`expert (${x.layer}, ${x.index}) is out of range`);
    const key = x.layer * E + x.index;
    if (seen.has(key)) bad(`expert (${x.layer}, ${x.index}) is listed twice`);
    seen.add(key);
    if (x.bytes !== L.bytes) bad(`expert (${x.layer}, ${x.index}) is ${x.bytes} bytes, the layout says ${L.bytes}`);
    const f = files.get(x.file);
    if (!f || f.bytes !== x.bytes || f.sha256 !== x.sha256) bad(`expert (${x.layer}, ${x.index}) file "${x.file}" is missing from files or disagrees with it`);
  }
}

function sameLayout(a: ExpertLayout, b: ExpertLayout): boolean {
  if (a.bytes !== b.bytes) return false;
  for (const k of EXPERT_FIELDS) {
    const x = a[k];
    const y = b[k];
    if (!x || !y) {
      if (x || y) return false;
      continue;
    }
    if (x.offset !== y.offset || x.bytes !== y.bytes || x.quant !== y.quant || x.shape.join() !== y.shape.join()) return false;
  }
  return true;
}

/** Look up an expert entry (manifest lists them layer-major, but do not rely on it). */
export function expertIndex(m: Manifest): (layer: number, expert: number) => ExpertEntry {
  const E = m.spec.moe.num_experts;
  const table: ExpertEntry[] = new Array(m.experts.length);
  for (const x of m.experts) table[x.layer * E + x.index] = x;
  return (layer, expert) => {
    if (!Number.isInteger(layer) || layer < 0 || layer >= m.spec.num_hidden_layers || !Number.isInteger(expert) || expert < 0 || expert >= E)
      throw new RangeError(`expert (${layer}, ${expert}) out of range: ${m.spec.num_hidden_layers} layers × ${E} experts`);
    return table[layer * E + expert];
  };
}
