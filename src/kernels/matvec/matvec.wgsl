// matvec: y[p] = W_p x[p / x_div] (+ b_p) for P independent problems, f32 accumulation.
//
// Math: y[p*y_stride + r] = sum_c W[r, c] * x[(p / x_div)*x_stride + c] + B[b_offset + slot(p) + r]
//   W (rows, cols) in one of the quant-layout.ts byte layouts (KIND), read as u32 words starting at
//   word w_offset + slot(p); slot(p) = S[slot_offset + p] (words) when `indirect`, else 0.
//   Problems are tokens (dense prefill: matmul), or (token, expert) pairs reading each expert from
//   its slot of a big expert-cache buffer (x_div = K for gate/up: all K experts see the token's x).
//   Grouped kinds (q8, q4, mxfp4) sum each 32-column group unscaled, then multiply by its scale.
//
// Bindings:
//   0 P: Params (uniform)
//   1 W: array<u32>   the weight buffer (a whole matrix, or an expert cache holding many)
//   2 X: array<f32>   inputs, (problems / x_div, x_stride)
//   3 B: array<f32>   bias (read only when has_bias; may be the expert cache itself)
//   4 S: array<u32>   per-problem slot word offsets (read only when indirect)
//   5 Y: array<f32>   outputs, (problems, y_stride)
//
// Dispatch: one thread per (row, TILE problems); workgroup (WG, 1, 1);
//   grid (ceil(rows / WG), ceil(problems / TILE)). TILE > 1 shares each decoded weight between
//   TILE problems (matmul); it requires indirect == 0 (all problems read the same matrix).
//   x beyond `cols` is never read: the padded tail group clamps its x index (padding weights are 0).

override KIND: u32 = 0u; // 0 f32, 1 f16, 2 q8, 3 q4, 4 mxfp4
override TILE: u32 = 1u; // problems per thread, 1..4
override WG: u32 = 64u;

struct Params {
  rows: u32,
  cols: u32,
  problems: u32,
  w_offset: u32,
  x_offset: u32,
  x_stride: u32,
  x_div: u32,
  y_offset: u32,
  y_stride: u32,
  b_offset: u32,
  has_bias: u32,
  indirect: u32,
  slot_offset: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read> S: array<u32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;

const MAX_TILE: u32 = 4u;
const GROUP: u32 = 32u;
// FP4 E2M1 magnitudes times 2 (0, 0.5, 1, 1.5, 2, 3, 4, 6), one nibble each.
const E2M1_X2: u32 = 0xC8643210u;

var<private> xb: array<u32, MAX_TILE>;   // word offset of each problem's x row
var<private> acc: array<f32, MAX_TILE>;  // row result per problem
var<private> gacc: array<f32, MAX_TILE>; // current group's unscaled sum

// acc[t] += w * x_t[c]
fn add_w(w: f32, c: u32) {
  for (var t = 0u; t < TILE; t++) { acc[t] += w * X[xb[t] + c]; }
}

// gacc[t] += q * x_t[c]; `last` = cols - 1 clamps reads in the padded tail group.
fn add_q(q: f32, c: u32, last: u32) {
  let cc = min(c, last);
  for (var t = 0u; t < TILE; t++) { gacc[t] += q * X[xb[t] + cc]; }
}

fn close_group(scale: f32) {
  for (var t = 0u; t < TILE; t++) {
    acc[t] += scale * gacc[t];
    gacc[t] = 0.0;
  }
}

fn row_f32(base: u32, cols: u32) {
  for (var c = 0u; c < cols; c++) { add_w(bitcast<f32>(W[base + c]), c); }
}

fn row_f16(base: u32, cols: u32) {
  let pairs = cols / 2u;
  for (var k = 0u; k < pairs; k++) {
    let h = unpack2x16float(W[base + k]);
    add_w(h.x, 2u * k);
    add_w(h.y, 2u * k + 1u);
  }
  if ((cols & 1u) == 1u) { add_w(unpack2x16float(W[base + pairs]).x, cols - 1u); }
}

// f16 scale number `i` of the scale section starting at word `sbase`.
fn scale_f16(sbase: u32, i: u32) -> f32 {
  let h = unpack2x16float(W[sbase + i / 2u]);
  return select(h.x, h.y, (i & 1u) == 1u);
}

// E8M0 byte -> 2^(s - 127), built from the exponent bits (exact; s = 0 gives 0, 255 clamps).
fn scale_e8m0(sbase: u32, i: u32) -> f32 {
  let s = (W[sbase + i / 4u] >> (8u * (i & 3u))) & 0xffu;
  return bitcast<f32>(min(s, 254u) << 23u);
}

fn row_q8(base: u32, sbase: u32, g0: u32, cols: u32) {
  let groups = (cols + GROUP - 1u) / GROUP;
  let last = cols - 1u;
  for (var g = 0u; g < groups; g++) {
    for (var k = 0u; k < 8u; k++) {
      let w = W[base + g * 8u + k];
      let c = g * GROUP + 4u * k;
      for (var e = 0u; e < 4u; e++) {
        let q = f32(bitcast<i32>(w << (24u - 8u * e)) >> 24u);
        add_q(q, c + e, last);
      }
    }
    close_group(scale_f16(sbase, g0 + g));
  }
}

fn row_q4(base: u32, sbase: u32, g0: u32, cols: u32) {
  let groups = (cols + GROUP - 1u) / GROUP;
  let last = cols - 1u;
  for (var g = 0u; g < groups; g++) {
    for (var k = 0u; k < 4u; k++) {
      let w = W[base + g * 4u + k];
      let c = g * GROUP + 8u * k;
      for (var e = 0u; e < 8u; e++) {
        let q = f32(i32((w >> (4u * e)) & 15u) - 8);
        add_q(q, c + e, last);
      }
    }
    close_group(scale_f16(sbase, g0 + g));
  }
}

fn row_mxfp4(base: u32, sbase: u32, g0: u32, cols: u32) {
  let groups = (cols + GROUP - 1u) / GROUP;
  let last = cols - 1u;
  for (var g = 0u; g < groups; g++) {
    for (var k = 0u; k < 4u; k++) {
      let w = W[base + g * 4u + k];
      let c = g * GROUP + 8u * k;
      for (var e = 0u; e < 8u; e++) {
        let code = (w >> (4u * e)) & 15u;
        let mag = f32((E2M1_X2 >> (4u * (code & 7u))) & 15u) * 0.5;
        add_q(select(mag, -mag, code >= 8u), c + e, last);
      }
    }
    close_group(scale_e8m0(sbase, g0 + g));
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let r = gid.x;
  let p0 = wid.y * TILE;
  if (r >= P.rows || p0 >= P.problems) { return; }
  let cols = P.cols;
  var slot = 0u;
  if (P.indirect != 0u) { slot = S[P.slot_offset + p0]; }
  for (var t = 0u; t < TILE; t++) {
    let p = min(p0 + t, P.problems - 1u);
    xb[t] = P.x_offset + (p / P.x_div) * P.x_stride;
    acc[t] = 0.0;
    gacc[t] = 0.0;
  }
  let m = P.w_offset + slot; // first word of this problem's matrix
  let groups = (cols + GROUP - 1u) / GROUP;
  switch KIND {
    case 0u: { row_f32(m + r * cols, cols); }
    case 1u: { row_f16(m + r * ((cols + 1u) / 2u), cols); }
    case 2u: { row_q8(m + r * groups * 8u, m + P.rows * groups * 8u, r * groups, cols); }
    case 3u: { row_q4(m + r * groups * 4u, m + P.rows * groups * 4u, r * groups, cols); }
    default: { row_mxfp4(m + r * groups * 4u, m + P.rows * groups * 4u, r * groups, cols); }
  }
  var bias = 0.0;
  if (P.has_bias != 0u) { bias = B[P.b_offset + slot + r]; }
  for (var t = 0u; t < TILE; t++) {
    let p = p0 + t;
    if (p < P.problems) { Y[P.y_offset + p * P.y_stride + r] = acc[t] + bias; }
  }
}
