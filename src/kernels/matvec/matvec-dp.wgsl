// matvec-dp: y = W x (+ b) (+ residual) for q4 weights through packed integer dot products
// (dot4I8Packed: four 8-bit products summed in one instruction), with x given as the three digit
// planes of x-digits.wgsl. Exact f32 dequantization costs three instructions per q4 weight (mask,
// subtract, FMA) and caps the f32-x kernels at the GPU's issue rate; here a q4 word (8 codes) costs
// a shift, two masks and six dot products.
//
// Math, per row r and 32-column group g (codes q in 0..15 stored as (w >> 4 e) & 15, scale sc):
//   sum_i (q_i - 8) sc x_i = sc (s (2^16 a0 + 2^8 a1 + a2) - 8 sum_g x),  a_k = sum_i q_i d_k,i
// (x_i = s (2^16 d0 + 2^8 d1 + d2), see x-digits.wgsl). a_k <= 32 * 15 * 128 fits an i32 and its
// f32 exactly; the group's value is then rounded once per term, as an f32 dot would be.
//
// How it parallelizes: as matvec-wide.wgsl — a team of TPR lanes (a subgroup) owns RPT rows (up to
// 8); lane l takes groups l, l + TPR, ... and loads each group's x record once for its RPT rows;
// the team sums by shuffle-xor, lane 0 writes. Grid (ceil(rows / ((WG / TPR) RPT)), problems).
//
// Bindings: 0 P, 1 W the matrix (vec4 = one group of one row; f16 scales after the codes),
//   2 XD digit records of the x rows (problem p reads row floor(p / x_div)), 3 B bias (has_bias),
//   4 Y (problems, y_stride) at y_offset, 5 H residual source (res_mode 2).
// Requirements (the wrapper checks): q4, cols % 32 == 0, the matrix at a 16-byte offset.

enable subgroups;

override WG: u32 = 256u;
override TPR: u32 = 32u;
override RPT: u32 = 4u; // 1..8

struct Params {
  rows: u32,
  cols: u32,
  w_offset4: u32,
  x_div: u32,
  y_offset: u32,
  y_stride: u32,
  b_offset: u32,
  has_bias: u32,
  res_mode: u32,
  alpha: f32,
  beta: f32,
  h_offset: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> W: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> XD: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read> H: array<f32>;

// One group's x record: digit planes (even, odd elements), scale, sum.
struct XG {
  e0: vec4<u32>, o0: vec4<u32>, e1: vec4<u32>, o1: vec4<u32>, e2: vec4<u32>, o2: vec4<u32>,
  s: f32, sum: f32,
}

fn load_xg(rec: u32) -> XG {
  let m = XD[rec + 6u];
  return XG(XD[rec], XD[rec + 1u], XD[rec + 2u], XD[rec + 3u], XD[rec + 4u], XD[rec + 5u], bitcast<f32>(m.x), bitcast<f32>(m.y));
}

fn plane(lo: vec4<u32>, hi: vec4<u32>, e: vec4<u32>, o: vec4<u32>) -> i32 {
  return dot4I8Packed(lo.x, e.x) + dot4I8Packed(hi.x, o.x) + dot4I8Packed(lo.y, e.y) + dot4I8Packed(hi.y, o.y) +
    dot4I8Packed(lo.z, e.z) + dot4I8Packed(hi.z, o.z) + dot4I8Packed(lo.w, e.w) + dot4I8Packed(hi.w, o.w);
}

// sum_i (q_i - 8) x_i over one group (unscaled by the weight scale).
fn group_dot(w: vec4<u32>, x: XG) -> f32 {
  let m = vec4<u32>(0x0F0F0F0Fu);
  let lo = w & m;
  let hi = (w >> vec4<u32>(4u)) & m;
  let a0 = plane(lo, hi, x.e0, x.o0);
  let a1 = plane(lo, hi, x.e1, x.o1);
  let a2 = plane(lo, hi, x.e2, x.o2);
  return (f32(a0) * 65536.0 + f32(a1) * 256.0 + f32(a2)) * x.s - 8.0 * x.sum;
}

fn scale(sbase: u32, i: u32) -> f32 {
  let word = sbase + i / 2u;
  let h = unpack2x16float(W[word / 4u][word % 4u]);
  return select(h.x, h.y, (i & 1u) == 1u);
}

// Row r's group u times the group's x, scaled (r clamped: rows past the end repeat the last).
fn row_group(r: u32, u: u32, G: u32, sbase: u32, x: XG) -> f32 {
  let rr = min(r, P.rows - 1u);
  return group_dot(W[P.w_offset4 + rr * G + u], x) * scale(sbase, rr * G + u);
}

fn team_sum(v: vec4<f32>) -> vec4<f32> {
  var s = v;
  for (var o = TPR / 2u; o > 0u; o >>= 1u) { s += subgroupShuffleXor(s, o); }
  return s;
}

fn pick(v: vec4<f32>, i: u32) -> f32 {
  return select(select(select(v.x, v.y, i == 1u), v.z, i == 2u), v.w, i == 3u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lane = lid % TPR;
  let r0 = (wid.x * (WG / TPR) + lid / TPR) * RPT;
  let p = wid.y;
  let G = P.cols / 32u;
  let sbase = P.w_offset4 * 4u + P.rows * G * 4u; // word of the first scale
  let xrec = (p / P.x_div) * G * 7u;
  var a = vec4<f32>(0.0);
  var b = vec4<f32>(0.0);
  for (var u = lane; u < G; u += TPR) {
    let x = load_xg(xrec + u * 7u);
    a.x += row_group(r0, u, G, sbase, x);
    if (RPT > 1u) { a.y += row_group(r0 + 1u, u, G, sbase, x); }
    if (RPT > 2u) { a.z += row_group(r0 + 2u, u, G, sbase, x); }
    if (RPT > 3u) { a.w += row_group(r0 + 3u, u, G, sbase, x); }
    if (RPT > 4u) { b.x += row_group(r0 + 4u, u, G, sbase, x); }
    if (RPT > 5u) { b.y += row_group(r0 + 5u, u, G, sbase, x); }
    if (RPT > 6u) { b.z += row_group(r0 + 6u, u, G, sbase, x); }
    if (RPT > 7u) { b.w += row_group(r0 + 7u, u, G, sbase, x); }
  }
  a = team_sum(a);
  if (RPT > 4u) { b = team_sum(b); }
  if (lane != 0u) { return; }
  for (var i = 0u; i < RPT; i++) {
    let r = r0 + i;
    if (r >= P.rows) { continue; }
    var v = select(pick(a, i & 3u), pick(b, i & 3u), i >= 4u);
    if (P.has_bias != 0u) { v += B[P.b_offset + r]; }
    let yo = P.y_offset + p * P.y_stride + r;
    switch P.res_mode {
      case 1u: { Y[yo] = P.alpha * Y[yo] + P.beta * v; }
      case 2u: { Y[yo] = P.alpha * H[P.h_offset + p * P.y_stride + r] + P.beta * v; }
      default: { Y[yo] = v; }
    }
  }
}
