import { describe, expect, it } from 'vitest';
import { TokenHistory, adjustLogits, distribution, makeRng, sample, type SamplingParams } from './sampler.ts';

const P = (o: Partial<SamplingParams> = {}): SamplingParams => ({ temperature: 1, top_p: 1, top_k: 0, min_p: 0, ...o });

/** Reference: full softmax, full sort, HF warper order — slow and obvious. */
function bruteForce(logits: number[], p: SamplingParams): Map<number, number> {
  const V = logits.length;
  const m = Math.max(...logits);
  const w = logits.map((l) => Math.exp((l - m) / p.temperature));
  let ids = [...Array(V).keys()].sort((a, b) => w[b] - w[a] || a - b);
  if (p.top_k > 0) ids = ids.slice(0, p.top_k);
  const z = ids.reduce((s, i) => s + w[i], 0);
  if (p.top_p < 1) {
    const keep: number[] = [];
    let cum = 0;
    for (const i of ids) {
      if (cum >= p.top_p * z) break;
      keep.push(i);
      cum += w[i];
    }
    ids = keep;
  }
  if (p.min_p > 0) ids = ids.filter((i) => w[i] >= p.min_p * w[ids[0]]);
  const s = ids.reduce((a, i) => a + w[i], 0);
  return new Map(ids.map((i) => [i, w[i] / s]));
}

function asMap(d: ReturnType<typeof distribution>): Map<number, number> {
  return new Map([...d.ids].map((id, k) => [id, d.probs[k]]));
}

function expectSameDist(a: Map<number, number>, b: Map<number, number>) {
  expect([...a.keys()].sort((x, y) => x - y)).toEqual([...b.keys()].sort((x, y) => x - y));
  for (const [id, p] of a) expect(p).toBeCloseTo(b.get(id)!, 12);
}

/** Pearson chi-square of `n` draws against the distribution's probabilities. */
function chiSquare(d: ReturnType<typeof distribution>, draws: number[]): number {
  const counts = new Map<number, number>();
  for (const id of draws) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const id of counts.keys()) if (!d.ids.includes(id)) return Infinity; // drew an excluded token
  let chi = 0;
  d.ids.forEach((id, k) => {
    const e = d.probs[k] * draws.length;
    chi += ((counts.get(id) ?? 0) - e) ** 2 / e;
  });
  return chi;
}

// chi-square critical values at p = 0.001
const CHI_CRIT: Record<number, number> = { 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52, 6: 22.46, 7: 24.32 };

describe('sampler', () => {
  const logits = Float32Array.from([2.0, 1.0, 0.5, 0.0, -1.0, -3.0, 1.5, 0.2]);

  it('temperature 0 is argmax (lowest id on ties), after logit_bias and bans', () => {
    const rng = makeRng(1);
    expect(sample(logits, P({ temperature: 0 }), rng)).toBe(0);
    expect(sample(Float32Array.from([1, 3, 3, 0]), P({ temperature: 0 }), rng)).toBe(1);
    expect(sample(logits, P({ temperature: 0, logit_bias: { 6: 1 } }), rng)).toBe(6);
    expect(sample(logits, P({ temperature: 0, banned: [0] }), rng)).toBe(6);
    expect(sample(logits, P({ temperature: 0, logit_bias: { 0: -100 } }), rng)).toBe(6);
  });

  it('distribution matches the brute-force reference for every warper combination', () => {
    const rng = makeRng(7);
    const V = 3000;
    const l = Array.from({ length: V }, () => (rng() - 0.5) * 12);
    for (const p of [
      P(),
      P({ temperature: 0.7 }),
      P({ top_k: 40 }),
      P({ top_p: 0.9 }),
      P({ temperature: 1.3, top_p: 0.5 }),
      P({ min_p: 0.05 }),
      P({ top_k: 40, top_p: 0.95, min_p: 0.1, temperature: 0.8 }),
      P({ top_p: 1e-9 }),
    ])
      expectSameDist(asMap(distribution(l, p)), bruteForce(l, p));
  });

  it('repetition_penalty (HF): positive logits divided, negative multiplied, over prompt and generated ids', () => {
    const h = new TokenHistory([0, 4]);
    h.push(1);
    const adj = adjustLogits(logits, P({ repetition_penalty: 2 }), h);
    expect(adj[0]).toBeCloseTo(1.0); // 2.0 / 2
    expect(adj[4]).toBeCloseTo(-2.0); // -1.0 * 2
    expect(adj[1]).toBeCloseTo(0.5);
    expect(adj[2]).toBeCloseTo(0.5); // unseen: unchanged
  });

  it('frequency and presence penalties (OpenAI): over generated ids only, by count', () => {
    const h = new TokenHistory([2]);
    h.push(0);
    h.push(0);
    h.push(3);
    const adj = adjustLogits(logits, P({ frequency_penalty: 0.5, presence_penalty: 0.25 }), h);
    expect(adj[0]).toBeCloseTo(2.0 - 2 * 0.5 - 0.25);
    expect(adj[3]).toBeCloseTo(0.0 - 0.5 - 0.25);
    expect(adj[2]).toBeCloseTo(0.5); // prompt-only: untouched
    const neg = adjustLogits(logits, P({ frequency_penalty: -1 }), h); // negative penalties encourage
    expect(neg[0]).toBeCloseTo(4.0);
  });

  it('logit_bias of -100 / +100 effectively bans / forces a token', () => {
    const d = distribution(logits, P({ logit_bias: { 5: 100 } }));
    expect(d.ids[d.probs.indexOf(Math.max(...d.probs))]).toBe(5);
    expect(Math.max(...d.probs)).toBeGreaterThan(0.999999);
    const d2 = asMap(distribution(logits, P({ logit_bias: { 0: -100 } })));
    expect(d2.get(0)!).toBeLessThan(1e-40);
  });

  it('draws follow the distribution (chi-square, fixed seed) and truncated tokens never appear', () => {
    const N = 20000;
    for (const p of [P(), P({ temperature: 0.6 }), P({ top_k: 3 }), P({ top_p: 0.8 }), P({ min_p: 0.2 }), P({ temperature: 1.5, top_k: 5, top_p: 0.9 })]) {
      const d = distribution(logits, p);
      const rng = makeRng(1234);
      const draws = Array.from({ length: N }, () => sample(logits, p, rng));
      const df = d.ids.length - 1;
      expect(chiSquare(d, draws), JSON.stringify(p)).toBeLessThan(CHI_CRIT[df] ?? 30);
    }
    // the same check rejects draws made at another temperature: the test has power
    const rng = makeRng(1234);
    const hot = Array.from({ length: N }, () => sample(logits, P({ temperature: 1.3 }), rng));
    expect(chiSquare(distribution(logits, P()), hot)).toBeGreaterThan(CHI_CRIT[7]);
  });

  it('a seed makes sampling deterministic', () => {
    const p = P({ temperature: 0.9, top_p: 0.95 });
    const seq = (seed: number) => {
      const rng = makeRng(seed);
      return Array.from({ length: 50 }, () => sample(logits, p, rng));
    };
    expect(seq(42)).toEqual(seq(42));
    expect(seq(42)).not.toEqual(seq(43));
  });

  it('a 200k vocabulary samples in milliseconds without sorting it whole', () => {
    const V = 200064;
    const rng = makeRng(3);
    const l = new Float32Array(V);
    for (let i = 0; i < V; i++) l[i] = (rng() - 0.5) * 20;
    const p = P({ temperature: 1, top_p: 0.95, top_k: 40 });
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) sample(l, p, rng);
    const d = distribution(l, P({ top_p: 0.95 }));
    expect(d.ids.length).toBeLessThan(V);
    expect(performance.now() - t0).toBeLessThan(5000); // generous: shared 2-core machine
  });
});
