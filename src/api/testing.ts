// Tiny WebMoE packages for engine tests (Node only): a model built in code, written through the
// real package writer (f32, so the package computes exactly what the in-memory model does), with
// a tokenizer.json, tokenizer_config.json and chat template next to it.
//
//   storyPackage  random 2-layer MoE, byte-level tokenizer (256 ids), the story template: plain
//                 continuation, never stops on its own (no EOS) — for sampling and interrupts
//   m2Package     a model with an exact reply in MiniMax-M2's chat format: reasoning "Plan",
//                 content "Sure", then a get_weather(city="Oslo") tool call, then EOS

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WeightSource } from '../format/weights.ts';
import { writePackage } from '../format/package-write.ts';
import { nodeSink } from '../cli/convert.ts';
import { byteLevelTokenizerJson, m2Chain, m2TokenizerJson, successorModel, tinyRandomModel } from '../generate/testing.ts';
import { tokenizerFromJson } from '../generate/tokenizer.ts';
import type { ReferenceModel } from '../reference/forward.ts';
import { nodeDir } from '../store/node-dir.ts';

const TEMPLATES = join(import.meta.dirname, '../../tests/fixtures/templates');

export function templateText(name: 'story.jinja' | 'minimax-m2.jinja'): string {
  return readFileSync(join(TEMPLATES, name), 'utf8');
}

/** A ReferenceModel's weights as a WeightSource (what the package writer reads). */
export function weightsOf(m: ReferenceModel): WeightSource {
  return {
    spec: m.spec,
    globals: async () => m.globals,
    layer: async (l) => m.layers[l],
    expert: async (l, e) => m.experts[l][e],
  };
}

export interface PackageExtras {
  tokenizerJson: object;
  tokenizerConfig: Record<string, unknown>;
  /** written as chat_template.jinja */
  chatTemplate?: string;
  generationConfig?: Record<string, unknown>;
}

/** Write `model` as an f32 package into `out` (created) with the extras; returns `out`. */
export async function writeTinyPackage(out: string, model: ReferenceModel, extras: PackageExtras): Promise<string> {
  const side = mkdtempSync(join(tmpdir(), 'webmoe-extras-'));
  writeFileSync(join(side, 'tokenizer.json'), JSON.stringify(extras.tokenizerJson));
  writeFileSync(join(side, 'tokenizer_config.json'), JSON.stringify(extras.tokenizerConfig));
  if (extras.chatTemplate !== undefined) writeFileSync(join(side, 'chat_template.jinja'), extras.chatTemplate);
  if (extras.generationConfig) writeFileSync(join(side, 'generation_config.json'), JSON.stringify(extras.generationConfig));
  mkdirSync(out, { recursive: true });
  try {
    await writePackage(weightsOf(model), nodeSink(out), { quant: 'f32', denseQuant: 'f32', extras: nodeDir(side), converter: 'webmoe api tests' });
  } finally {
    rmSync(side, { recursive: true, force: true });
  }
  return out;
}

export const STORY_VOCAB = 256;

/** Random model + byte-level tokenizer + story template. */
export function storyPackage(out: string, seed = 3): Promise<string> {
  return writeTinyPackage(out, tinyRandomModel(STORY_VOCAB, seed), {
    tokenizerJson: byteLevelTokenizerJson([], []),
    tokenizerConfig: {},
    chatTemplate: templateText('story.jinja'),
  });
}

export const WEATHER_TOOL = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

export function m2Package(out: string): Promise<string> {
  const json = m2TokenizerJson();
  const tok = tokenizerFromJson(json, { eos_token: '[e~[' });
  return writeTinyPackage(out, successorModel(tok.vocabSize, m2Chain(tok)), {
    tokenizerJson: json,
    tokenizerConfig: { eos_token: '[e~[', bos_token: ']~!b[' },
    chatTemplate: templateText('minimax-m2.jinja'),
  });
}
