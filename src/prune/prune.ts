// REAP expert pruning of a package: calibrate on the CPU reference, choose survivors, write a new
// package whose experts, router rows and biases are the survivors' (bytes copied, not re-packed).
//
//   package ─ weights() ─► ReferenceModel ─ calibration windows ─► ExpertStats ─► saliency (L, E)
//           ─► survivors kept[L] ─► prunedView ─► writePackedModel ─► pruned package
//
// The app calls prunePackage in a worker with CALIBRATION_TEXT (./calibration.ts) and its own
// PackageSink; the CLI (`webmoe prune`) with a file or token ids and a directory sink.

import type { Manifest } from '../format/manifest.ts';
import type { WebMoePackage } from '../format/package.ts';
import { writePackedModel, type PackageSink, type WriteProgress } from '../format/package-write.ts';
import { loadTokenizer, type TextTokenizer } from '../generate/tokenizer.ts';
import { ReferenceModel } from '../reference/forward.ts';
import { PruneError } from './errors.ts';
import { calibrationWindows, collectExpertStats, saliencyOf, type CalibrationProgress, type PruneMethod } from './saliency.ts';
import { chooseSurvivors, prunedCount } from './select.ts';
import { prunedView } from './view.ts';

export type Calibration = { text: string } | { tokens: number[] };

export interface PruneOptions {
  /** fraction of each layer's experts to remove; round(ratio * E) experts go */
  ratio: number;
  /** 'reap' (default) or the 'frequency' baseline */
  method?: PruneMethod;
  /** text (through the package's tokenizer, windows start with BOS) or explicit token ids */
  calibration: Calibration;
  /** tokens per calibration window (default min(max_position_embeddings, 512)) */
  window?: number;
  /** tokenizer for a text calibration (default: the package's own) */
  tokenizer?: TextTokenizer;
  /** an already loaded reference model of this package (saves loading it twice) */
  model?: ReferenceModel;
  onProgress?: (p: PruneProgress) => void;
}

export type PruneProgress =
  | { phase: 'load' }
  | ({ phase: 'calibrate' } & CalibrationProgress)
  | ({ phase: 'write' } & WriteProgress);

export interface PrunePlan {
  method: PruneMethod;
  ratio: number;
  expertsBefore: number;
  /** experts per layer after pruning (E') */
  expertsAfter: number;
  calibration: { tokens: number; windows: number };
  /** (L, E') surviving original indices, ascending (new index = position) */
  kept: number[][];
  /** (L, E - E') removed original indices, ascending */
  removed: number[][];
  /** (L, E) saliency of every original expert (higher = kept first) */
  saliency: number[][];
  /** (L, E) how many calibration tokens routed to each expert */
  counts: number[][];
}

export const DEFAULT_CALIBRATION_WINDOW = 512;

/** Token windows of a calibration source for this package's model. */
export async function calibrationTokens(pkg: WebMoePackage, cal: Calibration, window?: number, tokenizer?: TextTokenizer): Promise<number[][]> {
  const spec = pkg.spec;
  const ctx = window ?? Math.min(spec.max_position_embeddings, DEFAULT_CALIBRATION_WINDOW);
  if (!Number.isInteger(ctx) || ctx < 2 || ctx > spec.max_position_embeddings)
    throw new PruneError(`calibration window must be an integer in [2, ${spec.max_position_embeddings}] (the model's context), got ${ctx}`);
  if ('tokens' in cal) {
    for (const t of cal.tokens)
      if (!Number.isInteger(t) || t < 0 || t >= spec.vocab_size) throw new PruneError(`calibration token id ${t} is outside the vocabulary [0, ${spec.vocab_size})`);
    return calibrationWindows(cal.tokens, ctx);
  }
  const tok = tokenizer ?? (await loadTokenizer(pkg.dir));
  if (!tok) throw new PruneError(`${pkg.dir.name} has no tokenizer.json, so a calibration text cannot be tokenized; give calibration token ids instead`);
  const ids = tok.encode(cal.text, false);
  return calibrationWindows(ids, ctx, spec.bos_token_id === null ? [] : [spec.bos_token_id]);
}

/** Calibrate and choose the survivors; writes nothing. */
export async function planPrune(pkg: WebMoePackage, opts: PruneOptions): Promise<PrunePlan> {
  const method = opts.method ?? 'reap';
  const spec = pkg.spec;
  const E = spec.moe.num_experts;
  const remove = prunedCount(E, spec.moe.num_experts_per_tok, opts.ratio);
  const windows = await calibrationTokens(pkg, opts.calibration, opts.window, opts.tokenizer);
  opts.onProgress?.({ phase: 'load' });
  const model = opts.model ?? (await ReferenceModel.load(pkg.weights()));
  const stats = collectExpertStats(model, windows, (p) => opts.onProgress?.({ phase: 'calibrate', ...p }));
  const saliency = saliencyOf(stats, method);
  const { kept, removed } = chooseSurvivors(saliency, remove);
  return {
    method,
    ratio: opts.ratio,
    expertsBefore: E,
    expertsAfter: E - remove,
    calibration: { tokens: stats.tokens, windows: windows.length },
    kept,
    removed,
    saliency: saliency.map((s) => Array.from(s)),
    counts: stats.count.map((c) => Array.from(c)),
  };
}

/** Original indices (in the first unpruned ancestor) of this package's experts, if it was pruned before. */
function originalIndices(m: Manifest): number[][] | null {
  const p = (m.source as { pruned?: { kept_original?: unknown } }).pruned;
  const k = p?.kept_original;
  return Array.isArray(k) && k.length === m.spec.num_hidden_layers && k.every((r) => Array.isArray(r) && r.length === m.spec.moe.num_experts) ? (k as number[][]) : null;
}

/** Write the pruned package of a plan through `sink` (manifest.json last). */
export async function writePruned(pkg: WebMoePackage, plan: PrunePlan, sink: PackageSink, onProgress?: (p: PruneProgress) => void): Promise<Manifest> {
  const prev = originalIndices(pkg.manifest);
  return writePackedModel(prunedView(pkg, plan.kept), sink, {
    extras: pkg.dir,
    converter: `webmoe prune --method ${plan.method} --ratio ${plan.ratio}`,
    source: {
      pruned: {
        method: plan.method,
        ratio: plan.ratio,
        experts_before: plan.expertsBefore,
        calibration_tokens: plan.calibration.tokens,
        from_converter: pkg.manifest.source.converter,
        kept: plan.kept,
        kept_original: prev ? plan.kept.map((row, L) => row.map((e) => prev[L][e])) : plan.kept,
      },
    },
    onProgress: (p) => onProgress?.({ phase: 'write', ...p }),
  });
}

/** planPrune + writePruned. */
export async function prunePackage(pkg: WebMoePackage, sink: PackageSink, opts: PruneOptions): Promise<{ plan: PrunePlan; manifest: Manifest }> {
  const plan = await planPrune(pkg, opts);
  return { plan, manifest: await writePruned(pkg, plan, sink, opts.onProgress) };
}
