// Attention mixers of the CPU reference, one function per kind, each processing a chunk of T new
// tokens against its per-layer state (T = 1 is decode):
//   softmax attention (full or sliding window, optional sinks) over a KV cache that is a ring
//   buffer of `window` entries on sliding layers;
//   lightning attention: recurrence for one token, block-parallel form for a chunk, both updating
//   the same f32 state KV (per head, hd x hd).

import type { AttentionKind } from '../format/spec.ts';

/** Softmax-attention cache of one layer: (capacity, Hkv*hd) keys and values. */
export interface KvCache {
  kind: 'kv';
  capacity: number;
  /** tokens seen so far (absolute position of the next token) */
  length: number;
  k: Float32Array; // (capacity, Hkv*hd)
  v: Float32Array; // (capacity, Hkv*hd)
}

/** Lightning-attention state of one layer: KV[h] = sum_j exp(-s_h (t-j)) k_j^T v_j. */
export interface LinearState {
  kind: 'linear';
  length: number;
  kv: Float64Array; // (H, hd, hd)
}

export type LayerState = KvCache | LinearState;

export function newLayerState(att: AttentionKind, maxLen: number, nHeads: number, nKv: number, hd: number): LayerState {
  if (att.kind === 'linear') return { kind: 'linear', length: 0, kv: new Float64Array(nHeads * hd * hd) };
  const capacity = att.kind === 'sliding' ? att.window : maxLen;
  return { kind: 'kv', capacity, length: 0, k: new Float32Array(capacity * nKv * hd), v: new Float32Array(capacity * nKv * hd) };
}

/**
 * Softmax attention for T new tokens whose q (T, Hq*hd), k, v (T, Hkv*hd) are already projected,
 * normed and rotated. Appends k, v to the cache token by token; query t sees keys
 * max(0, p - W + 1) .. p (sliding) or 0 .. p (full), where p is its absolute position.
 * Sinks (per query head) take probability mass but add no value. Returns (T, Hq*hd).
 */
export function softmaxAttention(
  cache: KvCache,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  T: number,
  nHeads: number,
  nKv: number,
  hd: number,
  window: number | null,
  sinks?: Float32Array,
): Float32Array {
  const kvw = nKv * hd;
  const out = new Float32Array(T * nHeads * hd); // (T, Hq*hd)
  const group = nHeads / nKv;
  const scale = 1 / Math.sqrt(hd);
  for (let t = 0; t < T; t++) {
    const p = cache.length;
    if (p >= cache.capacity && window === null) throw new RangeError(`context length ${cache.capacity} exceeded`);
    const slot = p % cache.capacity;
    cache.k.set(k.subarray(t * kvw, (t + 1) * kvw), slot * kvw);
    cache.v.set(v.subarray(t * kvw, (t + 1) * kvw), slot * kvw);
    cache.length = p + 1;
    const first = window === null ? 0 : Math.max(0, p - window + 1);
    const n = p - first + 1;
    const scores = new Float64Array(n);
    for (let h = 0; h < nHeads; h++) {
      const kvh = Math.floor(h / group);
      const qo = t * nHeads * hd + h * hd;
      let m = -Infinity;
      for (let j = 0; j < n; j++) {
        const ko = ((first + j) % cache.capacity) * kvw + kvh * hd;
        let s = 0;
        for (let d = 0; d < hd; d++) s += q[qo + d] * cache.k[ko + d];
        scores[j] = s * scale;
        m = Math.max(m, scores[j]);
      }
      if (sinks) m = Math.max(m, sinks[h]);
      let denom = sinks ? Math.exp(sinks[h] - m) : 0;
      for (let j = 0; j < n; j++) {
        scores[j] = Math.exp(scores[j] - m);
        denom += scores[j];
      }
      const oo = t * nHeads * hd + h * hd;
      for (let d = 0; d < hd; d++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += scores[j] * cache.v[((first + j) % cache.capacity) * kvw + kvh * hd + d];
        out[oo + d] = acc / denom;
      }
    }
  }
  return out;
}

/**
 * Lightning attention for T new tokens. q, k, v: (T, H*hd), already through SiLU. decay: s_h.
 * T == 1 (or blockSize <= 0) uses the recurrence KV = exp(-s) KV + k^T v, o = q KV.
 * Otherwise the block-parallel form over blocks of `blockSize`, for in-block 1-based i, j:
 *   O = ((Q K^T) .* D) V + (Q .* exp(-s i)) KV_prev,  D[i,j] = exp(-s (i-j)) for i >= j else 0,
 *   KV_new = exp(-s n) KV_prev + (K .* exp(-s (n-j)))^T V.
 * Returns (T, H*hd).
 */
export function lightningAttention(
  state: LinearState,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  T: number,
  nHeads: number,
  hd: number,
  decay: number[],
  blockSize: number,
): Float32Array {
  const w = nHeads * hd;
  const out = new Float32Array(T * w); // (T, H*hd)
  for (let h = 0; h < nHeads; h++) {
    const s = decay[h];
    const KV = state.kv.subarray(h * hd * hd, (h + 1) * hd * hd); // (hd, hd): KV[a][c]
    if (T === 1) {
      const ratio = Math.exp(-s);
      for (let a = 0; a < hd; a++)
        for (let c = 0; c < hd; c++) KV[a * hd + c] = ratio * KV[a * hd + c] + k[h * hd + a] * v[h * hd + c];
      for (let c = 0; c < hd; c++) {
        let acc = 0;
        for (let a = 0; a < hd; a++) acc += q[h * hd + a] * KV[a * hd + c];
        out[h * hd + c] = acc;
      }
      continue;
    }
    for (let start = 0; start < T; start += blockSize) {
      const n = Math.min(blockSize, T - start);
      for (let i = 1; i <= n; i++) {
        const qo = (start + i - 1) * w + h * hd;
        const o = out.subarray(qo, qo + hd);
        // inter: (q * exp(-s i)) KV_prev
        const qd = Math.exp(-s * i);
        for (let c = 0; c < hd; c++) {
          let acc = 0;
          for (let a = 0; a < hd; a++) acc += q[qo + a] * KV[a * hd + c];
          o[c] = acc * qd;
        }
        // intra: sum_{j <= i} exp(-s (i - j)) (q_i . k_j) v_j
        for (let j = 1; j <= i; j++) {
          const ko = (start + j - 1) * w + h * hd;
          let dot = 0;
          for (let a = 0; a < hd; a++) dot += q[qo + a] * k[ko + a];
          const f = dot * Math.exp(-s * (i - j));
          for (let c = 0; c < hd; c++) o[c] += f * v[ko + c];
        }
      }
      // state update
      const bd = Math.exp(-s * n);
      for (let x = 0; x < hd * hd; x++) KV[x] *= bd;
      for (let j = 1; j <= n; j++) {
        const ko = (start + j - 1) * w + h * hd;
        const kd = Math.exp(-s * (n - j));
        for (let a = 0; a < hd; a++) {
          const ka = k[ko + a] * kd;
          for (let c = 0; c < hd; c++) KV[a * hd + c] += ka * v[ko + c];
        }
      }
    }
  }
  state.length += T;
  return out;
}
