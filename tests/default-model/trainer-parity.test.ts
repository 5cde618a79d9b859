// The embedded default model (tools/train/, issue 7) against its trainer: the CPU reference, fed the
// committed HF directory, must reproduce the PyTorch logits recorded at training time
// (tests/fixtures/default-model/expected.json), in f32 and at the package's quantization (experts
// q4, dense matrices q8, through src/format/quant.ts), and the trainer's greedy tokens.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HfCheckpoint } from '../../src/format/hf-checkpoint.ts';
import { dequantizeMatrix, quantizeMatrix } from '../../src/format/quant.ts';
import type { QuantKind } from '../../src/format/quant-layout.ts';
import { ReferenceModel, greedy } from '../../src/reference/forward.ts';
import { nodeDir } from '../../src/store/node-dir.ts';
import { relError } from '../helpers/fixtures.ts';
import { DEFAULT_MODEL_DIR } from './model-dir.ts';

const ROOT = join(import.meta.dirname, '..', '..');

interface PromptCase {
  tokens: number[];
  /** logits[i] belong to position from + i */
  from: number;
  logits: number[][];
  logits_q4q8: number[][];
}

interface Expected {
  prompts: PromptCase[];
  greedy_prompt: number[];
  greedy: number[];
  greedy_q4q8: number[];
}

const expected: Expected = JSON.parse(readFileSync(join(ROOT, 'tests', 'fixtures', 'default-model', 'expected.json'), 'utf8'));

async function loadF32(): Promise<ReferenceModel> {
  return ReferenceModel.load(await HfCheckpoint.open(nodeDir(DEFAULT_MODEL_DIR)));
}

/** Round trip through our codec: what the package's dequantized weights are. */
function q(kind: QuantKind, w: Float32Array, rows: number, cols: number): Float32Array {
  return dequantizeMatrix(kind, quantizeMatrix(kind, w, rows, cols), rows, cols);
}

/** The f32 model with the package's default quantization applied (experts q4, dense q8). */
function quantized(m: ReferenceModel): ReferenceModel {
  const s = m.spec;
  const D = s.hidden_size;
  const qOut = s.num_attention_heads * s.head_dim;
  const kvOut = s.num_key_value_heads * s.head_dim;
  const I = s.moe.moe_intermediate_size;
  const V = s.vocab_size;
  const globals = { ...m.globals, embed_tokens: q('q8', m.globals.embed_tokens, V, D), lm_head: q('q8', m.globals.lm_head, V, D) };
  const layers = m.layers.map((w) => ({
    ...w,
    q_proj: q('q8', w.q_proj, qOut, D),
    k_proj: q('q8', w.k_proj, kvOut, D),
    v_proj: q('q8', w.v_proj, kvOut, D),
    o_proj: q('q8', w.o_proj, D, qOut),
  }));
  const experts = m.experts.map((row) => row.map((e) => ({ gate: q('q4', e.gate, I, D), up: q('q4', e.up, I, D), down: q('q4', e.down, D, I) })));
  return new ReferenceModel(s, globals, layers, experts);
}

function logitsFrom(m: ReferenceModel, p: PromptCase): Float32Array[] {
  return m.forward(m.newState(p.tokens.length), p.tokens).slice(p.from);
}

describe('default model: CPU reference vs the trainer (PyTorch)', () => {
  it('is the hybrid MiniMax-M2 the issue asks for', async () => {
    const ck = await HfCheckpoint.open(nodeDir(DEFAULT_MODEL_DIR));
    const kinds = new Set(ck.spec.layers.map((l) => l.attention.kind));
    expect([...kinds].sort()).toEqual(['full', 'sliding']);
    expect(ck.spec.moe.scoring_func).toBe('sigmoid');
    expect(ck.spec.moe.selection_bias).toBe(true);
    expect(ck.spec.moe.num_experts).toBeGreaterThanOrEqual(8);
    expect(ck.spec.moe.num_experts_per_tok).toBeGreaterThanOrEqual(2);
    expect(ck.spec.layers.every((l) => l.qk_norm === 'whole_projection' && l.rope !== null && l.rope.rotary_dim < ck.spec.head_dim)).toBe(true);
    const thetas = new Set(ck.spec.layers.map((l) => l.rope!.theta));
    expect(thetas.size).toBe(2); // each layer kind has its own RoPE
    // the long prompt runs past the sliding window
    const window = Math.min(...ck.spec.layers.map((l) => (l.attention.kind === 'sliding' ? l.attention.window : Infinity)));
    expect(Math.max(...expected.prompts.map((p) => p.tokens.length))).toBeGreaterThan(window);
  });

  it('f32 logits within 1e-4 relative of the trainer', async () => {
    const m = await loadF32();
    for (const p of expected.prompts) expect(relError(logitsFrom(m, p), p.logits)).toBeLessThan(1e-4);
  });

  it('q4/q8 logits (quant.ts codecs) within 1e-4 relative of the trainer simulating them', async () => {
    const m = quantized(await loadF32());
    for (const p of expected.prompts) expect(relError(logitsFrom(m, p), p.logits_q4q8)).toBeLessThan(1e-4);
  });

  it('greedy tokens equal the trainer, f32 and q4/q8', async () => {
    const m = await loadF32();
    expect(greedy(m, expected.greedy_prompt, expected.greedy.length, { ignoreEos: true, eos: [] })).toEqual(expected.greedy);
    const mq = quantized(m);
    expect(greedy(mq, expected.greedy_prompt, expected.greedy_q4q8.length, { ignoreEos: true, eos: [] })).toEqual(expected.greedy_q4q8);
  });
});
