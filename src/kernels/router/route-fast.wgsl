// route (fast variant): router.wgsl's `route` math (read its header: scores, selection bias,
// top-k by (key desc, index asc), weights, renormalization, scaling) with one WORKGROUP per token
// instead of one thread, plus expert_slots' table lookup, in one dispatch.
//
// How it parallelizes: threads stride over the E experts; the logits' max and the softmax sum
// come from workgroup tree reductions; each expert's key goes to workgroup memory and each
// thread counts, for its experts, how many keys rank above (rank = #{e' : key' > key, or equal
// with e' < e}); an expert with rank < K is the rank-th choice. Threads k < K then compute the
// weights and sum the K of them in k order, as the reference does.
//
// Bindings: 0 P, 1 L logits (T, l_tstride), 2 SB selection bias, 3 IDS (T, K) out, 4 WTS (T, K)
//   out, 5 TABLE expert -> blob word offset (read when has_table), 6 SLOTS (T, K) out.
// Dispatch: workgroup (WG, 1, 1); grid (T, 1). E <= MAX_E, K <= MAX_K.

override WG: u32 = 128u;
const MAX_E: u32 = 1024u;
const MAX_K: u32 = 64u;
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
  has_table: u32,
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

var<workgroup> keys: array<f32, MAX_E>;
var<workgroup> red: array<f32, WG>;
var<workgroup> sel: array<u32, MAX_K>;
var<workgroup> wsel: array<f32, MAX_K>;

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

fn reduce(i: u32, v: f32, is_max: bool) -> f32 {
  red[i] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (i < s) { red[i] = select(red[i] + red[i + s], max(red[i], red[i + s]), is_max); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let t = wid.x;
  let base = P.l_offset + t * P.l_tstride;
  let E = P.experts;
  let K = P.k;
  var lm = NEG_BIG;
  for (var e = i; e < E; e += WG) { lm = max(lm, L[base + e]); }
  let m = reduce(i, lm, true);
  var ls = 0.0;
  if (P.softmax != 0u) {
    for (var e = i; e < E; e += WG) { ls += exp(L[base + e] - m); }
  }
  let sum = reduce(i, ls, false);
  let biased = P.has_sel_bias != 0u && P.topk_logits == 0u;
  for (var e = i; e < E; e += WG) {
    let z = L[base + e];
    var key = z;
    if (biased) {
      var p = 0.0;
      if (P.softmax != 0u) { p = exp(z - m) / sum; } else { p = sigmoid(z); }
      key = p + SB[e];
    }
    keys[e] = key;
  }
  workgroupBarrier();
  for (var e = i; e < E; e += WG) {
    let kv = keys[e];
    var rank = 0u;
    for (var e2 = 0u; e2 < E && rank < K; e2++) {
      let k2 = keys[e2];
      if (k2 > kv || (k2 == kv && e2 < e)) { rank++; }
    }
    if (rank < K) { sel[rank] = e; }
  }
  workgroupBarrier();
  if (i < K) {
    let z = L[base + sel[i]];
    var w = 0.0;
    if (P.topk_logits != 0u) {
      let m1 = L[base + sel[0]];
      if (P.softmax != 0u) { w = exp(z - m1); } else { w = sigmoid(z); }
    } else {
      if (P.softmax != 0u) { w = exp(z - m) / sum; } else { w = sigmoid(z); }
    }
    wsel[i] = w;
  }
  workgroupBarrier();
  if (i < K) {
    var total = 0.0;
    for (var k = 0u; k < K; k++) { total += wsel[k]; }
    if (P.topk_logits != 0u) {
      if (P.softmax == 0u) { total = 1.0; }
    } else if (P.norm == 0u) {
      total = 1.0;
    }
    let out = P.out_offset + t * K + i;
    IDS[out] = sel[i];
    WTS[out] = wsel[i] * (P.scaling / total);
    if (P.has_table != 0u) { SLOTS[P.s_offset + t * K + i] = TABLE[P.t_offset + sel[i]]; }
  }
}
