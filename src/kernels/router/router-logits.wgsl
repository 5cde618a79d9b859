// router-logits (decode): logits = RW rmsnorm(x) (+ RB) with ONE WORKGROUP PER EXPERT ROW, and
// h = rmsnorm(x) = x / sqrt(mean(x^2) + eps) * nw written by the first row's workgroup. The
// split half of route-fast.wgsl main_norm: one workgroup reading the whole (E, D) f32 router is
// bounded by what a single SM can have in flight (~15 GB/s: 25 µs for gpt-oss's 32 x 2880);
// E workgroups read it at device bandwidth, and route-fast `main` then chooses from the logits.
//
// The norm is linear outside the product (RW h = inv RW (x nw)), so each workgroup sums x^2 and
// its row's products in the same pass and one tree reduces both.
//
// Bindings: 0 P, 1 X (T, D) residual stream (vec4), 2 NW (D) norm weight (vec4), 3 RW (E, D)
//   (vec4), 4 RB (E) bias (has_rbias), 5 L (T, l_tstride) logits out, 6 H (T, D) normed out (vec4).
// Dispatch: workgroup (WG, 1, 1), WG a power of two; grid (E, T). D % 4 == 0.

override WG: u32 = 256u;

struct Params {
  d4: u32,
  x_offset4: u32,
  h_offset4: u32,
  rw_offset4: u32,
  rb_offset: u32,
  has_rbias: u32,
  eps: f32,
  l_offset: u32,
  l_tstride: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> NW: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> RW: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> RB: array<f32>;
@group(0) @binding(5) var<storage, read_write> L: array<f32>;
@group(0) @binding(6) var<storage, read_write> H: array<vec4<f32>>;

var<workgroup> red: array<vec2<f32>, WG>; // (row product, x^2) partial sums

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let e = wid.x;
  let t = wid.y;
  let d4 = P.d4;
  let x4 = P.x_offset4 + t * d4;
  let row = P.rw_offset4 + e * d4;
  var a = vec2<f32>(0.0);
  for (var j = i; j < d4; j += WG) {
    let v = X[x4 + j];
    a += vec2<f32>(dot(RW[row + j], v * NW[j]), dot(v, v));
  }
  red[i] = a;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (i < s) { red[i] += red[i + s]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(red[0].y / f32(4u * d4) + P.eps);
  if (i == 0u) { L[P.l_offset + t * P.l_tstride + e] = red[0].x * inv + select(0.0, RB[P.rb_offset + e], P.has_rbias != 0u); }
  if (e == 0u) {
    for (var j = i; j < d4; j += WG) { H[P.h_offset4 + t * d4 + j] = X[x4 + j] * inv * NW[j]; }
  }
}
