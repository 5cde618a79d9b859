// Bits per byte of a text under the CPU reference: the yardstick for pruned models (and any
// package). Same windows as tools/train/eval_bpb.py's "stream" metric, so the numbers compare:
//
//   ids = encode(text) (no special tokens); windows [BOS] + ids[s : s + ctx - 1], s advancing by
//   (ctx - 1) - half, half = floor((ctx - 1) / 2); each id is scored once, every window after the
//   first scores only its second half (>= half ids of context).
//   bpb = sum over scored ids of -log2 p(id | context) / UTF-8 bytes of the text.

import type { TextTokenizer } from '../generate/tokenizer.ts';
import type { ReferenceModel } from '../reference/forward.ts';
import { PruneError } from './errors.ts';

export interface ScoredWindow {
  /** prefix + chunk of ids */
  tokens: number[];
  /** index into tokens of the first scored target (targets are tokens[first..], each from logits[t - 1]) */
  first: number;
}

export interface BpbResult {
  bpb: number;
  natsPerToken: number;
  /** scored tokens */
  tokens: number;
  /** UTF-8 bytes of the text */
  bytes: number;
  windows: number;
}

export function streamWindows(ids: number[], ctx: number, prefix: number[] = []): ScoredWindow[] {
  const body = ctx - prefix.length;
  if (!Number.isInteger(ctx) || body < 2) throw new PruneError(`evaluation context of ${ctx} tokens is too short`);
  const half = Math.floor(body / 2);
  const out: ScoredWindow[] = [];
  for (let s = 0; ; s += body - half) {
    const chunk = ids.slice(s, s + body);
    const first = prefix.length + (s === 0 ? 0 : half);
    out.push({ tokens: [...prefix, ...chunk], first: Math.max(first, 1) });
    if (s + body >= ids.length) break;
  }
  return out;
}

/** -ln p(target) from a logits row, in f64 with the max subtracted. */
function nll(logits: Float32Array, target: number): number {
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > m) m = logits[i];
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += Math.exp(logits[i] - m);
  return Math.log(s) + m - logits[target];
}

/** Total nats and scored count over windows (fresh model state per window). */
export function nllOfWindows(model: ReferenceModel, windows: ScoredWindow[], onWindow?: (done: number, total: number) => void): { nats: number; count: number } {
  let nats = 0;
  let count = 0;
  windows.forEach((w, i) => {
    if (w.tokens.length > w.first) {
      const input = w.tokens.slice(0, -1);
      const logits = model.forward(model.newState(input.length), input); // (T - 1, V)
      for (let t = w.first; t < w.tokens.length; t++) {
        nats += nll(logits[t - 1], w.tokens[t]);
        count++;
      }
    }
    onWindow?.(i + 1, windows.length);
  });
  return { nats, count };
}

export function bitsPerByte(
  model: ReferenceModel,
  tokenizer: TextTokenizer,
  text: string,
  opts: { ctx?: number; onWindow?: (done: number, total: number) => void } = {},
): BpbResult {
  const spec = model.spec;
  const ctx = opts.ctx ?? Math.min(spec.max_position_embeddings, 512);
  if (ctx > spec.max_position_embeddings) throw new PruneError(`context ${ctx} exceeds the model's ${spec.max_position_embeddings} positions`);
  const bytes = new TextEncoder().encode(text).byteLength;
  if (bytes === 0) throw new PruneError('the evaluation text is empty');
  const ids = tokenizer.encode(text, false);
  const windows = streamWindows(ids, ctx, spec.bos_token_id === null ? [] : [spec.bos_token_id]);
  const { nats, count } = nllOfWindows(model, windows, opts.onWindow);
  return { bpb: nats / Math.LN2 / bytes, natsPerToken: nats / count, tokens: count, bytes, windows: windows.length };
}
