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
override TILE: u32 = 1u; // problems per thread: 1 or 4
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

const GROUP: u32 = 32u;
// FP4 E2M1 magnitudes times 2 (0, 0.5, 1, 1.5, 2, 3, 4, 6), one nibble each.
const E2M1_X2: u32 = 0xC8643210u;

// x_t[c] for the TILE problems of this thread (lanes >= TILE are 0; TILE is 1 or 4, a
// pipeline constant, so the unused lanes fold away).
fn xv(c: u32, xb: vec4<u32>) -> vec4<f32> {
  if (TILE == 1u) { return vec4<f32>(X[xb.x + c], 0.0, 0.0, 0.0); }
  return vec4<f32>(X[xb.x + c], X[xb.y + c], X[xb.z + c], X[xb.w + c]);
}

fn row_f32(base: u32, cols: u32, xb: vec4<u32>) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  for (var c = 0u; c < cols; c++) { acc += bitcast<f32>(W[base + c]) * xv(c, xb); }
  return acc;
}

fn row_f16(base: u32, cols: u32, xb: vec4<u32>) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  let pairs = cols / 2u;
  for (var k = 0u; k < pairs; k++) {
    let h = unpack2x16float(W[base + k]);
    acc += h.x * xv(2u * k, xb) + h.y * xv(2u * k + 1u, xb);
  }
  if ((cols & 1u) == 1u) { acc += unpack2x16float(W[base + pairs]).x * xv(cols - 1u, xb); }
  return acc;
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

// Unscaled dot of one 32-column group starting at column c0 (words at `wb`); columns past `last`
// (the padded tail of the last group) read x[last] against their zero weights.
fn group_q8(wb: u32, c0: u32, last: u32, xb: vec4<u32>) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < 8u; k++) {
    let w = W[wb + k];
    for (var e = 0u; e < 4u; e++) {
      let q = f32(bitcast<i32>(w << (24u - 8u * e)) >> 24u);
      acc += q * xv(min(c0 + 4u * k + e, last), xb);
    }
  }
  return acc;
}

fn group_q4(wb: u32, c0: u32, last: u32, xb: vec4<u32>) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < 4u; k++) {
    let w = W[wb + k];
    for (var e = 0u; e < 8u; e++) {
      let q = f32(i32((w >> (4u * e)) & 15u) - 8);
      acc += q * xv(min(c0 + 8u * k + e, last), xb);
    }
  }
  return acc;
}

fn group_mxfp4(wb: u32, c0: u32, last: u32, xb: vec4<u32>) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < 4u; k++) {
    let w = W[wb + k];
    for (var e = 0u; e < 8u; e++) {
      let code = (w >> (4u * e)) & 15u;
      let mag = f32((E2M1_X2 >> (4u * (code & 7u))) & 15u) * 0.5;
      acc += select(mag, -mag, code >= 8u) * xv(min(c0 + 8u * k + e, last), xb);
    }
  }
  return acc;
}

// Grouped kinds: row data at `base` (words_per_group words per group), scales from `sbase`
// numbered from g0 = row * groups.
fn row_grouped(base: u32, sbase: u32, g0: u32, cols: u32, xb: vec4<u32>) -> vec4<f32> {
  let groups = (cols + GROUP - 1u) / GROUP;
  let full = cols / GROUP;
  var acc = vec4<f32>(0.0);
  for (var g = 0u; g < groups; g++) {
    // full groups never clamp; the tail group clamps to the last real column
    let last = select(cols - 1u, 0xffffffffu, g < full);
    switch KIND {
      case 2u: { acc += scale_f16(sbase, g0 + g) * group_q8(base + g * 8u, g * GROUP, last, xb); }
      case 3u: { acc += scale_f16(sbase, g0 + g) * group_q4(base + g * 4u, g * GROUP, last, xb); }
      default: { acc += scale_e8m0(sbase, g0 + g) * group_mxfp4(base + g * 4u, g * GROUP, last, xb); }
    }
  }
  return acc;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let r = gid.x;
  let p0 = wid.y * TILE;
  if (r >= P.rows || p0 >= P.problems) { return; }
  let cols = P.cols;
  var slot = 0u;
  if (P.indirect != 0u) { slot = S[P.slot_offset + p0]; }
  // x row of each of the TILE problems (past the last problem: a valid row, result dropped)
  let last_p = P.problems - 1u;
  let pv = min(vec4<u32>(p0, p0 + 1u, p0 + 2u, p0 + 3u), vec4<u32>(last_p));
  let xb = vec4<u32>(P.x_offset) + (pv / P.x_div) * P.x_stride;
  let m = P.w_offset + slot; // first word of this problem's matrix
  let groups = (cols + GROUP - 1u) / GROUP;
  var acc: vec4<f32>;
  switch KIND {
    case 0u: { acc = row_f32(m + r * cols, cols, xb); }
    case 1u: { acc = row_f16(m + r * ((cols + 1u) / 2u), cols, xb); }
    case 2u: { acc = row_grouped(m + r * groups * 8u, m + P.rows * groups * 8u, r * groups, cols, xb); }
    default: { acc = row_grouped(m + r * groups * 4u, m + P.rows * groups * 4u, r * groups, cols, xb); }
  }
  var bias = 0.0;
  if (P.has_bias != 0u) { bias = B[P.b_offset + slot + r]; }
  let yo = P.y_offset + r;
  Y[yo + p0 * P.y_stride] = acc.x + bias;
  if (TILE > 1u) {
    if (p0 + 1u < P.problems) { Y[yo + (p0 + 1u) * P.y_stride] = acc.y + bias; }
    if (p0 + 2u < P.problems) { Y[yo + (p0 + 2u) * P.y_stride] = acc.z + bias; }
    if (p0 + 3u < P.problems) { Y[yo + (p0 + 3u) * P.y_stride] = acc.w + bias; }
  }
}
