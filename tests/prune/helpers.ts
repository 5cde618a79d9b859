// Shared by the pruning tests: fixture checkpoints converted to packages in temp dirs, and the
// masked reference a pruned package must equal.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeSink } from '../../src/cli/convert.ts';
import { HfCheckpoint } from '../../src/format/hf-checkpoint.ts';
import { openPackage, type WebMoePackage } from '../../src/format/package.ts';
import { writePackage, type WriteOptions } from '../../src/format/package-write.ts';
import { byteLevelTokenizerJson } from '../../src/generate/testing.ts';
import { ReferenceModel } from '../../src/reference/forward.ts';
import { nodeDir } from '../../src/store/node-dir.ts';
import { fixtureDir } from '../helpers/fixtures.ts';
import { scratchDir } from '../package/tiny-checkpoint.ts';

/** A tokenizer.json whose ids are the UTF-8 bytes (fits the fixtures' 256-id vocabularies). */
export function byteTokenizerDir(): string {
  const d = scratchDir('tok');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'tokenizer.json'), JSON.stringify(byteLevelTokenizerJson([], [])));
  return d;
}

/** Convert the HF fixture `name` into a package in a fresh temp dir. */
export async function fixturePackage(name: string, opts: WriteOptions = {}): Promise<{ dir: string; pkg: WebMoePackage }> {
  const dir = scratchDir(`prune-${name}`);
  await writePackage(await HfCheckpoint.open(nodeDir(fixtureDir(name))), nodeSink(dir), opts);
  return { dir, pkg: await openPackage(nodeDir(dir)) };
}

/**
 * The original model with the removed experts masked out of the router: their router logits are
 * -inf before scoring (router_bias = -inf; softmax gives them 0, sigmoid 0, top-k over logits
 * never picks them) and their selection bias is -inf, so even a sigmoid router with
 * e_score_correction_bias can never select them. Weights renormalize over the survivors exactly
 * as the model's own rule says.
 */
export function maskedModel(m: ReferenceModel, removed: number[][]): ReferenceModel {
  const E = m.spec.moe.num_experts;
  const layers = m.layers.map((w, L) => {
    const router_bias = w.router_bias ? Float32Array.from(w.router_bias) : new Float32Array(E); // (E)
    for (const e of removed[L]) router_bias[e] = -Infinity;
    let selection_bias = w.selection_bias;
    if (selection_bias) {
      selection_bias = Float32Array.from(selection_bias); // (E)
      for (const e of removed[L]) selection_bias[e] = -Infinity;
    }
    return { ...w, router_bias, selection_bias };
  });
  return new ReferenceModel(m.spec, m.globals, layers, m.experts);
}

/** Which experts of each layer the model routes `tokens` to. */
export function routedExperts(m: ReferenceModel, tokens: number[]): Set<number>[] {
  const used = m.spec.layers.map(() => new Set<number>());
  const prev = m.observer;
  m.observer = (L, _t, r) => r.experts.forEach((e) => used[L].add(e));
  try {
    m.forward(m.newState(tokens.length), tokens);
  } finally {
    m.observer = prev;
  }
  return used;
}
