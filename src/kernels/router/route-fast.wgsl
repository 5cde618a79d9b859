// route (fast variant): router.wgsl's `route` math (read its header: scores, selection bias,
// top-k by (key desc, index asc), weights, renormalization, scaling) with one WORKGROUP per token
// instead of one thread, plus expert_slots' table lookup, in one dispatch.
//
// How it parallelizes: the choice is route-choose.wgsl's (appended by router.ts; read its
// header), the workgroup's threads striding over the E experts.
//
// main_norm (decode): the router product too, so one dispatch replaces norm + matvec + route:
//   h = x / sqrt(mean(x^2) + eps) * nw (written to H, the experts' input), logits = RW h (+ RB), RW an f32
//   (E, D) matrix. Parallelized as WG / TPE experts at a time, TPE = WG / E' threads per expert
//   (E' = E rounded up to a power of two, TPE >= 1) reading vec4 columns j, j + TPE, ... against
//   x staged in workgroup memory. The norm is linear outside the product (RW h = inv RW (x nw),
//   inv = 1 / sqrt(mean(x^2) + eps)), so each expert's TPE threads also sum x^2 over the columns
//   they read and both partial sums meet in one workgroup tree: the norm costs no reduction of its
//   own (a lone workgroup's time goes to barriers and memory latency, not arithmetic). Then the
//   top-k below, from the logits in workgroup memory.
//
// Bindings: 0 P, 1 L logits (T, l_tstride), 2 SB selection bias, 3 IDS (T, K) out, 4 WTS (T, K)
//   out, 5 TABLE expert -> blob word offset (read when has_table), 6 SLOTS (T, K) out;
//   main_norm: 7 X (T, D) residual stream, 8 NW (D) norm weight, 9 RW (E, D), 10 RB (E) bias
//   (has_rbias), 11 H (T, D) normed out.
// Dispatch: workgroup (WG, 1, 1); grid (T, 1). E <= RC_E (<= 1024), K <= RC_K (<= 64);
//   main_norm: D % 4 == 0, D <= 4 MAX_D4.

override WG: u32 = 128u;
const MAX_D4: u32 = 1024u; // main_norm: D <= 4096

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
  // main_norm (vec4 units: d4 = D / 4, offsets / 4)
  d4: u32,
  x_offset4: u32,
  h_offset4: u32,
  rw_offset4: u32,
  rb_offset: u32,
  has_rbias: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> L: array<f32>;
@group(0) @binding(2) var<storage, read> SB: array<f32>;
@group(0) @binding(3) var<storage, read_write> IDS: array<u32>;
@group(0) @binding(4) var<storage, read_write> WTS: array<f32>;
@group(0) @binding(5) var<storage, read> TABLE: array<u32>;
@group(0) @binding(6) var<storage, read_write> SLOTS: array<u32>;
@group(0) @binding(7) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> NW: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read> RW: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read> RB: array<f32>;
@group(0) @binding(11) var<storage, read_write> H: array<vec4<f32>>;

var<workgroup> xs: array<vec4<f32>, MAX_D4>; // main_norm: the token's x
var<workgroup> norm_inv: f32;

// Top-k of the token's logits in rc_lg (every thread calls it; ends with the outputs written).
fn choose(t: u32, i: u32) {
  let K = P.k;
  let c = RouteCfg(P.experts, K, P.softmax != 0u, P.topk_logits != 0u, P.norm != 0u, P.has_sel_bias != 0u, P.scaling);
  if (c.biased) {
    for (var e = i; e < P.experts; e += WG) { rc_sb[e] = SB[e]; }
  }
  let w = rc_choose(i, c);
  if (i < K) {
    let out = P.out_offset + t * K + i;
    IDS[out] = rc_sel[i];
    WTS[out] = w;
    if (P.has_table != 0u) { SLOTS[P.s_offset + t * K + i] = TABLE[P.t_offset + rc_sel[i]]; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let t = wid.x;
  let base = P.l_offset + t * P.l_tstride;
  for (var e = i; e < P.experts; e += WG) { rc_lg[e] = L[base + e]; }
  workgroupBarrier();
  choose(t, i);
}

// main_norm: column quad j of x nw, and of x^2 summed.
fn xn(j: u32) -> vec4<f32> {
  return xs[j] * NW[j];
}

fn sq(j: u32) -> f32 {
  let v = xs[j];
  return dot(v, v);
}

@compute @workgroup_size(WG)
fn main_norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let t = wid.x;
  let E = P.experts;
  let d4 = P.d4;
  let x4 = P.x_offset4 + t * d4;
  for (var j = i; j < d4; j += WG) { xs[j] = X[x4 + j]; }
  workgroupBarrier();
  // TPE threads per expert (a power of two), WG / TPE experts per pass; eight weight loads in
  // flight per thread (a lone workgroup reads the whole matrix: latency, not bandwidth, bounds it)
  let ep = rc_pow2(E);
  let tpe = WG / ep;
  let part = i % tpe;
  for (var e0 = 0u; e0 < E; e0 += ep) {
    let e = e0 + i / tpe;
    var a = vec4<f32>(0.0); // RW (x nw), partial
    var q = vec4<f32>(0.0); // x^2, partial
    if (e < E) {
      let row = P.rw_offset4 + e * d4;
      var j = part;
      for (; j + 7u * tpe < d4; j += 8u * tpe) {
        let w0 = RW[row + j];
        let w1 = RW[row + j + tpe];
        let w2 = RW[row + j + 2u * tpe];
        let w3 = RW[row + j + 3u * tpe];
        let w4 = RW[row + j + 4u * tpe];
        let w5 = RW[row + j + 5u * tpe];
        let w6 = RW[row + j + 6u * tpe];
        let w7 = RW[row + j + 7u * tpe];
        a += vec4<f32>(dot(w0, xn(j)), dot(w1, xn(j + tpe)), dot(w2, xn(j + 2u * tpe)), dot(w3, xn(j + 3u * tpe)));
        a += vec4<f32>(dot(w4, xn(j + 4u * tpe)), dot(w5, xn(j + 5u * tpe)), dot(w6, xn(j + 6u * tpe)), dot(w7, xn(j + 7u * tpe)));
        for (var u = 0u; u < 8u; u++) { q.x += sq(j + u * tpe); }
      }
      for (; j < d4; j += tpe) {
        a.x += dot(RW[row + j], xn(j));
        q.y += sq(j);
      }
    }
    rc_red[i] = vec2<f32>((a.x + a.y) + (a.z + a.w), (q.x + q.y) + (q.z + q.w));
    workgroupBarrier();
    for (var s = tpe / 2u; s > 0u; s >>= 1u) {
      if (part < s) { rc_red[i] += rc_red[i + s]; }
      workgroupBarrier();
    }
    if (part == 0u && e < E) {
      let inv = inverseSqrt(rc_red[i].y / f32(4u * d4) + P.eps);
      rc_lg[e] = rc_red[i].x * inv + select(0.0, RB[P.rb_offset + e], P.has_rbias != 0u);
      if (e == 0u) { norm_inv = inv; }
    }
    workgroupBarrier();
  }
  let inv = norm_inv;
  for (var j = i; j < d4; j += WG) { H[P.h_offset4 + t * d4 + j] = xs[j] * inv * NW[j]; }
  choose(t, i);
}
