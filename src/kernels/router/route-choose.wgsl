// route-choose: the top-k choice of one token from its router logits — router.wgsl's `route` math
// (scores, selection bias, top-k by (key desc, index asc), weights, renormalization, scaling; read
// its header) for a workgroup — shared by route-fast.wgsl and matvec-wide-experts.wgsl's
// gate_up_routed, appended to each (WGSL has no includes). Uses the module's `override WG`.
//
// How it parallelizes: threads stride over the E experts; the logits' max and the softmax sum
// come from ONE workgroup tree over the first N threads (N = E rounded up to a power of two, at
// most WG), combining (max, sum of exp(l - max)) pairs as online softmax does; each expert's key
// goes to workgroup memory and each thread counts, for its experts, how many keys rank above
// (rank = #{e' : key' > key, or equal with e' < e}), reading the keys four at a time (one at a
// time, the threads of the top experts scanned all E serially: 25 -> 17 us a layer at E = 256 on
// an H100); an expert with rank < K is the rank-th choice. Threads k < K then compute the
// weights and sum the K of them in k order, as the reference does.
//
// The caller fills rc_lg (and rc_sb where biased), then every thread calls rc_choose; after it
// rc_sel[k] is choice k's expert (k < K) and thread k < K holds its final weight. rc_finish (the
// weights of a choice written to rc_sel) is shared with route-choose-sg.wgsl.

override RC_E: u32 = 1024u; // most experts (workgroup arrays); a multiple of 4
override RC_K: u32 = 64u; // most choices
const RC_NEG_BIG: f32 = -3.0e38;

struct RouteCfg {
  E: u32,
  K: u32,
  softmax: bool, // else sigmoid
  topk_logits: bool, // weights from the chosen logits only
  norm: bool, // renormalize the K weights
  biased: bool, // selection bias (rc_sb) added to the scores for the choice only
  scaling: f32,
}

var<workgroup> rc_lg: array<f32, RC_E>; // the token's logits (the caller's)
var<workgroup> rc_sb: array<f32, RC_E>; // the selection bias (the caller's, where biased)
var<workgroup> rc_keys: array<vec4<f32>, RC_E / 4u>; // key of expert e at rc_keys[e / 4][e % 4]
var<workgroup> rc_red: array<vec2<f32>, WG>;
var<workgroup> rc_sel: array<u32, RC_K>;
var<workgroup> rc_wsel: array<f32, RC_K>;

fn rc_sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

// (max, sum of exp(l - max)) of two parts, as one.
fn rc_combine(p: vec2<f32>, q: vec2<f32>) -> vec2<f32> {
  let m = max(p.x, q.x);
  return vec2<f32>(m, p.y * exp(p.x - m) + q.y * exp(q.x - m));
}

// Tree over the first n threads (n a power of two <= WG) of their (max, sum) pairs; every thread
// gets the total.
fn rc_reduce(i: u32, v: vec2<f32>, n: u32) -> vec2<f32> {
  rc_red[i] = v;
  workgroupBarrier();
  for (var s = n / 2u; s > 0u; s >>= 1u) {
    if (i < s) { rc_red[i] = rc_combine(rc_red[i], rc_red[i + s]); }
    workgroupBarrier();
  }
  let r = rc_red[0];
  workgroupBarrier();
  return r;
}

// E rounded up to a power of two, at most WG.
fn rc_pow2(E: u32) -> u32 {
  var n = 1u;
  while (n < E && n < WG) { n *= 2u; }
  return n;
}

// Expert e's key for the choice: its logit, or with a selection bias its score plus the bias
// (m, sum: the softmax over all experts where it is used).
fn rc_key(c: RouteCfg, e: u32, m: f32, sum: f32) -> f32 {
  let z = rc_lg[e];
  if (!c.biased || c.topk_logits) { return z; }
  var p = 0.0;
  if (c.softmax) { p = exp(z - m) / sum; } else { p = rc_sigmoid(z); }
  return p + rc_sb[e];
}

// Top-k of the logits in rc_lg (every thread calls it); returns thread i's (< K) final weight.
fn rc_choose(i: u32, c: RouteCfg) -> f32 {
  let E = c.E;
  let K = c.K;
  var ms = vec2<f32>(RC_NEG_BIG, 0.0);
  for (var e = i; e < E; e += WG) { ms = rc_combine(ms, vec2<f32>(rc_lg[e], 1.0)); }
  ms = rc_reduce(i, ms, rc_pow2(E));
  let m = ms.x;
  let sum = ms.y; // (used only with softmax)
  for (var e = i; e < E; e += WG) { rc_keys[e / 4u][e % 4u] = rc_key(c, e, m, sum); }
  workgroupBarrier();
  for (var e = i; e < E; e += WG) {
    let kv = vec4<f32>(rc_keys[e / 4u][e % 4u]);
    var rank = 0u;
    // four keys a read (all threads read the same quad: a broadcast); quads past E are masked
    for (var q = 0u; q < (E + 3u) / 4u && rank < K; q++) {
      let k2 = rc_keys[q];
      let e2 = vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u);
      let above = ((k2 > kv) | ((k2 == kv) & (e2 < vec4<u32>(e)))) & (e2 < vec4<u32>(E));
      rank += dot(select(vec4<u32>(0u), vec4<u32>(1u), above), vec4<u32>(1u));
    }
    if (rank < K) { rc_sel[rank] = e; }
  }
  return rc_finish(i, c, m, sum);
}

// The weights of the K choices in rc_sel (every thread calls it, after the choice is written;
// m, sum: the softmax over all experts where it is used); returns thread i's (< K) final weight.
fn rc_finish(i: u32, c: RouteCfg, m: f32, sum: f32) -> f32 {
  let K = c.K;
  workgroupBarrier();
  if (i < K) {
    let z = rc_lg[rc_sel[i]];
    var w = 0.0;
    if (c.topk_logits) {
      let m1 = rc_lg[rc_sel[0]];
      if (c.softmax) { w = exp(z - m1); } else { w = rc_sigmoid(z); }
    } else {
      if (c.softmax) { w = exp(z - m) / sum; } else { w = rc_sigmoid(z); }
    }
    rc_wsel[i] = w;
  }
  workgroupBarrier();
  var out = 0.0;
  if (i < K) {
    var total = 0.0;
    for (var k = 0u; k < K; k++) { total += rc_wsel[k]; }
    if (c.topk_logits) {
      if (!c.softmax) { total = 1.0; }
    } else if (!c.norm) {
      total = 1.0;
    }
    out = rc_wsel[i] * (c.scaling / total);
  }
  return out;
}
