// Sampling: a pure function of (logits, params, history, rng). Nothing here keeps state between
// calls; the generation loop owns the TokenHistory and the RNG.
//
// Order of transforms on the logits (V):
//   1. logit_bias (OpenAI: added to the logit), banned ids -> -inf
//   2. repetition_penalty (HF: over prompt + generated ids, positive logits / p, negative * p)
//   3. frequency_penalty, presence_penalty (OpenAI: over generated ids,
//      logit -= count * frequency + (count > 0) * presence)
//   4. temperature 0 -> greedy argmax (lowest id on ties); else logits / temperature, softmax
//   5. top_k, then top_p (over the top-k renormalized), then min_p (relative to the top token)
//      — transformers' warper order.
// With a 200k vocabulary nothing sorts the whole vocabulary: candidates are collected above a
// falling probability threshold until they are provably enough for top-k / top-p.

export interface SamplingParams {
  temperature: number;
  top_p: number;
  /** 0 disables */
  top_k: number;
  /** 0 disables */
  min_p: number;
  /** token id -> added bias */
  logit_bias?: Record<number, number>;
  /** tokens that may never be sampled (e.g. EOS with ignore_eos) */
  banned?: number[];
  /** HF semantics, over prompt and generated ids; 1 disables */
  repetition_penalty?: number;
  /** OpenAI semantics, over generated ids; 0 disables */
  frequency_penalty?: number;
  presence_penalty?: number;
}

export const DEFAULT_SAMPLING: SamplingParams = { temperature: 1, top_p: 1, top_k: 0, min_p: 0 };

/** Seeded PRNG (mulberry32): deterministic across platforms for a given seed. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What penalties look at: ids of the prompt and of the generated text so far. */
export class TokenHistory {
  /** prompt and generated ids (repetition_penalty) */
  readonly seen = new Set<number>();
  /** generated id -> count (frequency / presence penalties) */
  readonly generated = new Map<number, number>();

  constructor(promptIds: Iterable<number> = []) {
    for (const id of promptIds) this.seen.add(id);
  }

  push(id: number): void {
    this.seen.add(id);
    this.generated.set(id, (this.generated.get(id) ?? 0) + 1);
  }
}

export function argmax(logits: ArrayLike<number>, banned: number[] = []): number {
  let best = -1;
  for (let i = 0; i < logits.length; i++) {
    if (banned.length && banned.includes(i)) continue;
    if (best < 0 || logits[i] > logits[best]) best = i;
  }
  return best;
}

/** Steps 1-3: the adjusted logits (a copy, f64). */
export function adjustLogits(logitsIn: ArrayLike<number>, p: SamplingParams, history?: TokenHistory): Float64Array {
  const logits = new Float64Array(logitsIn);
  const V = logits.length;
  if (p.logit_bias) for (const [id, b] of Object.entries(p.logit_bias)) if (+id >= 0 && +id < V) logits[+id] += b;
  for (const id of p.banned ?? []) if (id >= 0 && id < V) logits[id] = -Infinity;
  if (history) {
    const rp = p.repetition_penalty ?? 1;
    if (rp !== 1) for (const id of history.seen) if (id < V) logits[id] = logits[id] < 0 ? logits[id] * rp : logits[id] / rp;
    const fp = p.frequency_penalty ?? 0;
    const pp = p.presence_penalty ?? 0;
    if (fp !== 0 || pp !== 0) for (const [id, n] of history.generated) if (id < V) logits[id] -= n * fp + (n > 0 ? pp : 0);
  }
  return logits;
}

/** The distribution sampling draws from: ids (best first when truncated) and their probabilities. */
export interface Distribution {
  ids: Int32Array;
  probs: Float64Array;
}

/**
 * Steps 1-5 as an explicit distribution. Temperature 0 gives the one greedy token with
 * probability 1. Probabilities sum to 1.
 */
export function distribution(logitsIn: ArrayLike<number>, p: SamplingParams, history?: TokenHistory): Distribution {
  const logits = adjustLogits(logitsIn, p, history);
  const V = logits.length;
  if (p.temperature === 0 || p.top_k === 1) {
    const best = argmax(logits);
    return { ids: Int32Array.of(best), probs: Float64Array.of(1) };
  }
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) throw new RangeError('every token is banned or has logit -inf: nothing can be sampled');
  // w[i] = exp((l_i - max) / T), so the top token has weight 1 and min_p is a threshold on w.
  const w = new Float64Array(V);
  let total = 0;
  for (let i = 0; i < V; i++) total += w[i] = Math.exp((logits[i] - max) / p.temperature);
  const topK = p.top_k > 0 && p.top_k < V ? p.top_k : 0;
  const topP = p.top_p < 1 ? p.top_p : 1;
  const minP = p.min_p > 0 ? p.min_p : 0;

  if (!topK && topP === 1) {
    // No ranking needed: keep every token above min_p, in id order.
    const ids: number[] = [];
    for (let i = 0; i < V; i++) if (w[i] > 0 && w[i] >= minP) ids.push(i);
    return normalize(ids, w);
  }

  // Ranked candidates: all tokens with w >= t, lowering t until they cover top-k / top-p.
  let ranked: number[] = [];
  let mass = 0;
  for (let t = 1e-3; ; t *= 1e-4) {
    if (t < 1e-300) t = 0;
    ranked = [];
    mass = 0;
    for (let i = 0; i < V; i++)
      if (w[i] > 0 && w[i] >= t) {
        ranked.push(i);
        mass += w[i];
      }
    const enoughK = topK ? ranked.length >= topK : true;
    const enoughP = topK ? true : mass >= topP * total;
    if ((enoughK && enoughP) || t === 0) break;
  }
  ranked.sort((a, b) => w[b] - w[a] || a - b);
  let norm = total;
  if (topK) {
    ranked = ranked.slice(0, topK);
    norm = 0;
    for (const i of ranked) norm += w[i];
  }
  if (topP < 1) {
    // keep token j while the mass before it is < top_p (transformers' TopP warper, ascending form)
    let cum = 0;
    let keep = 0;
    while (keep < ranked.length && cum < topP * norm) cum += w[ranked[keep++]];
    ranked = ranked.slice(0, Math.max(1, keep));
  }
  if (minP > 0) ranked = ranked.filter((i) => w[i] >= minP);
  return normalize(ranked, w);
}

function normalize(ids: number[], w: Float64Array): Distribution {
  const probs = new Float64Array(ids.length);
  let s = 0;
  for (let k = 0; k < ids.length; k++) s += probs[k] = w[ids[k]];
  for (let k = 0; k < ids.length; k++) probs[k] /= s;
  return { ids: Int32Array.from(ids), probs };
}

/** Inverse-CDF draw with one uniform number from `rng`. */
export function draw(d: Distribution, rng: () => number): number {
  if (d.ids.length === 1) return d.ids[0];
  let r = rng();
  for (let k = 0; k < d.ids.length; k++) {
    r -= d.probs[k];
    if (r < 0) return d.ids[k];
  }
  return d.ids[d.ids.length - 1];
}

/** Sample the next token. Greedy (no RNG draw) at temperature 0. */
export function sample(logits: ArrayLike<number>, p: SamplingParams, rng: () => number, history?: TokenHistory): number {
  return draw(distribution(logits, p, history), rng);
}
