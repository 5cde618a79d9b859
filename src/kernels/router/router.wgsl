// router: per-token expert choice from router logits (reference/moe.ts `route`), and the map
// from chosen experts to their expert-cache slots.
//
// Math (`route`, per token t, logits z (E) at l_offset + t l_tstride):
//   p_e = softmax(z)_e (max-subtracted) | sigmoid(z_e) (overflow-safe)      [scoring]
//   choose K experts by decreasing key, ties to the lower index, where key =
//     z_e                    when topk_logits, or when there is no selection bias (p is monotone in z)
//     p_e + SB[e]            with a selection bias (used for the choice only)
//   weights: topk_logits: softmax (or sigmoid) of the chosen logits;
//            else p_chosen, divided by their sum when `norm`;
//            then times `scaling` (routed_scaling_factor).
//   Selection is K passes over E, each taking the best key strictly after the previous pick in
//   (key desc, index asc) order, so no per-expert flags are needed.
// Math (`expert_slots`): SLOTS[s_offset + i] = TABLE[t_offset + IDS[i_offset + i]] for i < n, the
//   word offset of each chosen expert's blob in the expert cache (see matvec `slots`).
//
// Bindings:
//   0 P: Params (uniform)
//   1 L: array<f32>      logits (T, l_tstride)                              (route)
//   2 SB: array<f32>     selection bias (E), read only when has_sel_bias    (route)
//   3 IDS: array<u32>    chosen experts (T, K) at out_offset                (route writes, expert_slots reads)
//   4 WTS: array<f32>    routing weights (T, K) at out_offset               (route)
//   5 TABLE: array<u32>  expert -> blob word offset                          (expert_slots)
//   6 SLOTS: array<u32>  per (token, k) blob word offsets                    (expert_slots)
//
// Dispatch: route: one thread per token, grid linearGrid(T, WG); expert_slots: one thread per
//   entry, grid linearGrid(n, WG). Workgroup (WG, 1, 1).

override WG: u32 = 64u;
const NEG_BIG: f32 = -3.0e38;

struct Params {
  tokens: u32,
  experts: u32,
  k: u32,
  softmax: u32,
  topk_logits: u32,
  norm: u32,
  has_sel_bias: u32,
  scaling: f32,
  l_offset: u32,
  l_tstride: u32,
  out_offset: u32,
  // expert_slots
  n: u32,
  i_offset: u32,
  t_offset: u32,
  s_offset: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> L: array<f32>;
@group(0) @binding(2) var<storage, read> SB: array<f32>;
@group(0) @binding(3) var<storage, read_write> IDS: array<u32>;
@group(0) @binding(4) var<storage, read_write> WTS: array<f32>;
@group(0) @binding(5) var<storage, read> TABLE: array<u32>;
@group(0) @binding(6) var<storage, read_write> SLOTS: array<u32>;

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x)); // never overflows
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

fn flat_id(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

@compute @workgroup_size(WG)
fn route(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = flat_id(wid, nwg, lid);
  if (t >= P.tokens) { return; }
  let base = P.l_offset + t * P.l_tstride;
  let E = P.experts;
  let K = P.k;
  let out = P.out_offset + t * K;
  // softmax statistics over all experts
  var m = NEG_BIG;
  for (var e = 0u; e < E; e++) { m = max(m, L[base + e]); }
  var sum = 0.0;
  if (P.softmax != 0u) {
    for (var e = 0u; e < E; e++) { sum += exp(L[base + e] - m); }
  }
  let biased = P.has_sel_bias != 0u && P.topk_logits == 0u;
  // top-k
  var prev_key = 0.0;
  var prev_idx = 0u;
  for (var kk = 0u; kk < K; kk++) {
    var best_key = NEG_BIG;
    var best = E;
    for (var e = 0u; e < E; e++) {
      let z = L[base + e];
      var key = z;
      if (biased) {
        var p = 0.0;
        if (P.softmax != 0u) { p = exp(z - m) / sum; } else { p = sigmoid(z); }
        key = p + SB[e];
      }
      let after = kk == 0u || key < prev_key || (key == prev_key && e > prev_idx);
      if (after && (best == E || key > best_key)) {
        best = e;
        best_key = key;
      }
    }
    IDS[out + kk] = best;
    prev_key = best_key;
    prev_idx = best;
  }
  // weights
  var total = 0.0;
  if (P.topk_logits != 0u) {
    let m1 = L[base + IDS[out]]; // the largest chosen logit
    for (var kk = 0u; kk < K; kk++) {
      let z = L[base + IDS[out + kk]];
      var w = 0.0;
      if (P.softmax != 0u) { w = exp(z - m1); } else { w = sigmoid(z); }
      WTS[out + kk] = w;
      total += w;
    }
    if (P.softmax == 0u) { total = 1.0; }
  } else {
    for (var kk = 0u; kk < K; kk++) {
      let z = L[base + IDS[out + kk]];
      var w = 0.0;
      if (P.softmax != 0u) { w = exp(z - m) / sum; } else { w = sigmoid(z); }
      WTS[out + kk] = w;
      total += w;
    }
    if (P.norm == 0u) { total = 1.0; }
  }
  let f = P.scaling / total;
  for (var kk = 0u; kk < K; kk++) { WTS[out + kk] = WTS[out + kk] * f; }
}

@compute @workgroup_size(WG)
fn expert_slots(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flat_id(wid, nwg, lid);
  if (i >= P.n) { return; }
  SLOTS[P.s_offset + i] = TABLE[P.t_offset + IDS[P.i_offset + i]];
}
