// Sampling: a pure function of (logits, params, rng). Temperature 0 is greedy (argmax, lowest id
// on ties). Order of transforms: logit_bias, penalties, temperature, top-k, top-p, min-p.

export interface SamplingParams {
  temperature: number;
  top_p: number;
  top_k: number;
  min_p: number;
  /** token id -> added bias */
  logit_bias?: Record<number, number>;
  /** tokens that may never be sampled (e.g. EOS with ignore_eos) */
  banned?: number[];
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

export function argmax(logits: ArrayLike<number>, banned: number[] = []): number {
  let best = -1;
  for (let i = 0; i < logits.length; i++) {
    if (banned.length && banned.includes(i)) continue;
    if (best < 0 || logits[i] > logits[best]) best = i;
  }
  return best;
}

export function sample(logitsIn: Float32Array, p: SamplingParams, rng: () => number): number {
  const logits = Float64Array.from(logitsIn);
  if (p.logit_bias) for (const [id, b] of Object.entries(p.logit_bias)) if (+id < logits.length) logits[+id] += b;
  for (const id of p.banned ?? []) if (id < logits.length) logits[id] = -Infinity;
  if (p.temperature === 0) return argmax(logits);
  const n = logits.length;
  let idx = Array.from({ length: n }, (_, i) => i).filter((i) => logits[i] > -Infinity);
  idx.sort((a, b) => logits[b] - logits[a] || a - b);
  if (p.top_k > 0) idx = idx.slice(0, p.top_k);
  const m = logits[idx[0]];
  let probs = idx.map((i) => Math.exp((logits[i] - m) / p.temperature));
  let total = probs.reduce((s, x) => s + x, 0);
  probs = probs.map((x) => x / total);
  if (p.top_p < 1) {
    let cum = 0;
    let keep = 0;
    while (keep < probs.length && (keep === 0 || cum < p.top_p)) cum += probs[keep++];
    idx = idx.slice(0, keep);
    probs = probs.slice(0, keep);
  }
  if (p.min_p > 0) {
    const cut = probs[0] * p.min_p;
    const k = probs.filter((x) => x >= cut).length;
    idx = idx.slice(0, k);
    probs = probs.slice(0, k);
  }
  total = probs.reduce((s, x) => s + x, 0);
  let r = rng() * total;
  for (let i = 0; i < idx.length; i++) {
    r -= probs[i];
    if (r < 0) return idx[i];
  }
  return idx[idx.length - 1];
}
