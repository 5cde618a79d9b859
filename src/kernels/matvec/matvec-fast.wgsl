// matvec (fast variant): the products of matvec.wgsl (its header has the math and the bindings'
// meaning), organized for memory bandwidth on adapters with subgroups, plus two fused MoE forms.
//
//   mv       y[p, r] = W_p[r, :] . x[p / x_div] (+ b_p[r]), then the residual epilogue:
//              res_mode 0: Y = v;  1: Y = alpha Y + beta v (o_proj into the residual stream);
//              2: Y = alpha H + beta v (post-norm residual from the normed input)
//   gate_up  a[p, r] = act(G_p[r, :] . x + bg, U_p[r, :] . x + bu) for the (token, expert)
//            problems p: gate at w_offset, up at w2_offset of the same expert slot; act is
//            swiglu (act = 0) or gpt-oss clamped swiglu (act = 1), as swiglu.wgsl
//   down_sum out[t, r] = sum_k wts[t, k] (D_{t,k}[r, :] . a[t k_experts + k] + bd), summed in k
//            order (combine.wgsl), then the residual epilogue into Y at token t
//
// How it parallelizes: a team of TPR lanes (TPR a power of two, at most the subgroup size, so a
// team sits inside one subgroup) owns RPT consecutive rows. The row is cut into units of one
// load each (q4/mxfp4: one u32 = 8 weights; q8: one u32 = 4; f16: two u32 = 4; f32: four u32 =
// 4); lane l takes units l, l + TPR, ... (UNR of them per step, independent loads in flight),
// so the weight loads of a team AND its loads of the matching x values (one or two vec4 per
// unit) are contiguous across lanes (coalesced). Each x unit is loaded once and reused for the
// RPT rows. Each lane keeps RPT partial sums; a shuffle-xor butterfly over the team adds them and
// lane 0 writes. Workgroups hold WG / TPR teams; grid (ceil(rows / rows_per_wg), P).
//   Measured on an H100 (bench/results): f32 weights reach the f32 matvec ceiling with this
//   design; the quantized kinds are issue-bound on the dequantization (mxfp4 went from 0.71 to
//   1.32 TB/s when its arithmetic decode was replaced by the shuffle table, DQ = 1; q4 has the
//   same table of code - 8).
//   The unit loop runs a uniform trip count (lanes past the row's end add 0), so every lane is
//   active at each subgroup operation.
//
// Requirements (the wrapper checks and otherwise uses matvec.wgsl): cols % 32 == 0, x_offset and
// x_stride multiples of 4 (x is read as vec4).
//
// Bindings:
//   0 P: Params (uniform)
//   1 W: array<u32>        weights (a matrix or an expert cache) from word w_offset
//   2 X: array<vec4<f32>>  inputs
//   3 B: array<f32>        biases (read when has_bias)
//   4 S: array<u32>        per-problem slot word offsets (read when indirect; down_sum always)
//   5 Y: array<f32>        outputs (mv, down_sum: read too in res_mode 1)
//   6 H: array<f32>        residual source for res_mode 2 (mv, down_sum)
//   7 WTS: array<f32>      routing weights (T, k_experts) at wts_offset (down_sum)
//   8 NW: array<vec4<f32>> rmsnorm weights (mv with NORM)
//   9 HOUT: array<vec4<f32>> the normed x, written by the row-0 workgroups when write_h (mv, NORM)
//
// mv with NORM (pipeline constant): every workgroup first reduces sum(x^2) of its x row (threads
// strided over it, subgroupAdd, then workgroup memory), so the rmsnorm before a projection costs
// no dispatch of its own; x values are then x * inv_rms * nw as they are loaded.
//
// The code decoders (E2M1 table / arithmetic / f16 bits, the 2^23 magic) are in decoders.wgsl,
// appended to this file by matvec.ts.

enable subgroups;

override KIND: u32 = 3u; // 0 f32, 1 f16, 2 q8, 3 q4, 4 mxfp4
override WG: u32 = 128u;
override TPR: u32 = 32u;
override RPT: u32 = 2u; // 1..4
override DQ: u32 = 0u;
override UNR: u32 = 2u; // units per lane per step (1, 2 or 4)
override NORM: bool = false; // mv: rmsnorm(x) * nw instead of x (the norm fused into the product)

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
  res_mode: u32,
  alpha: f32,
  beta: f32,
  h_offset: u32,
  w2_offset: u32,
  b2_offset: u32,
  k_experts: u32,
  wts_offset: u32,
  act: u32,
  act_alpha: f32,
  act_limit: f32,
  // mv with NORM: x is RMS-normalized on the fly (weights nw_offset, eps); hout >= 0 writes it
  nw_offset: u32,
  norm_eps: f32,
  write_h: u32,
  hout_offset: u32,
  // mv: per-problem matrix table at S[seg_offset + 4 p] = (word offset, rows, y offset, bias offset)
  seg: u32,
  seg_offset: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read> S: array<u32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@group(0) @binding(6) var<storage, read> H: array<f32>;
@group(0) @binding(7) var<storage, read> WTS: array<f32>;
@group(0) @binding(8) var<storage, read> NW: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read_write> HOUT: array<vec4<f32>>;

var<private> norm_inv: f32 = 1.0; // 1 / rms of this workgroup's x row (NORM)
var<private> norm_x4: u32 = 0u; // vec4 index where that x row starts
var<workgroup> norm_red: array<f32, 256>;

// x value (vec4 i of X), normalized when NORM.
fn xv(i: u32) -> vec4<f32> {
  if (NORM) { return X[i] * norm_inv * NW[P.nw_offset / 4u + i - norm_x4]; }
  return X[i];
}

// Weights per unit and units per row (see the header).
fn unit_weights() -> u32 {
  return select(4u, 8u, KIND >= 3u);
}

// Unscaled product of unit u of a row (row data at word `row`) with its x values (xa; xb the
// second vec4 of a q4 / mxfp4 unit).
fn unit_dot(row: u32, u: u32, xa: vec4<f32>, xb: vec4<f32>, lut: f32) -> f32 {
  switch KIND {
    case 0u: {
      let b = row + 4u * u;
      return dot(bitcast<vec4<f32>>(vec4<u32>(W[b], W[b + 1u], W[b + 2u], W[b + 3u])), xa);
    }
    case 1u: {
      let b = row + 2u * u;
      return dot(vec4<f32>(unpack2x16float(W[b]), unpack2x16float(W[b + 1u])), xa);
    }
    case 2u: {
      let w = W[row + u];
      let v = bitcast<vec4<f32>>((vec4<u32>(w, w >> 8u, w >> 16u, w >> 24u) & vec4<u32>(0xFFu)) ^ vec4<u32>(MAGIC | 0x80u));
      return dot(v - vec4<f32>(MAGIC_F + 128.0), xa);
    }
    case 3u: {
      let w = W[row + u];
      if (DQ == 1u) {
        let c0 = vec4<u32>(w, w >> 4u, w >> 8u, w >> 12u) & vec4<u32>(15u);
        let c1 = vec4<u32>(w >> 16u, w >> 20u, w >> 24u, w >> 28u) & vec4<u32>(15u);
        let l = vec4<f32>(subgroupShuffle(lut, c0.x), subgroupShuffle(lut, c0.y), subgroupShuffle(lut, c0.z), subgroupShuffle(lut, c0.w));
        let h = vec4<f32>(subgroupShuffle(lut, c1.x), subgroupShuffle(lut, c1.y), subgroupShuffle(lut, c1.z), subgroupShuffle(lut, c1.w));
        return dot(l, xa) + dot(h, xb);
      }
      let lo = bitcast<vec4<f32>>((vec4<u32>(w, w >> 4u, w >> 8u, w >> 12u) & vec4<u32>(15u)) | vec4<u32>(MAGIC));
      let hi = bitcast<vec4<f32>>((vec4<u32>(w >> 16u, w >> 20u, w >> 24u, w >> 28u) & vec4<u32>(15u)) | vec4<u32>(MAGIC));
      return dot(lo - vec4<f32>(MAGIC_F + 8.0), xa) + dot(hi - vec4<f32>(MAGIC_F + 8.0), xb);
    }
    default: {
      let w = W[row + u];
      if (DQ == 2u) { return e2m1_bits(w, xa, xb); }
      let c0 = vec4<u32>(w, w >> 4u, w >> 8u, w >> 12u) & vec4<u32>(15u);
      let c1 = vec4<u32>(w >> 16u, w >> 20u, w >> 24u, w >> 28u) & vec4<u32>(15u);
      var lo: vec4<f32>;
      var hi: vec4<f32>;
      if (DQ == 1u) {
        lo = vec4<f32>(subgroupShuffle(lut, c0.x), subgroupShuffle(lut, c0.y), subgroupShuffle(lut, c0.z), subgroupShuffle(lut, c0.w));
        hi = vec4<f32>(subgroupShuffle(lut, c1.x), subgroupShuffle(lut, c1.y), subgroupShuffle(lut, c1.z), subgroupShuffle(lut, c1.w));
      } else {
        lo = e2m1_vec(c0);
        hi = e2m1_vec(c1);
      }
      return dot(lo, xa) + dot(hi, xb);
    }
  }
}

// Scale of group g of row r (matrix at word `mat`).
fn group_scale(mat: u32, rows: u32, r: u32, g: u32, G: u32) -> f32 {
  if (KIND < 2u) { return 1.0; }
  let wpg = select(4u, 8u, KIND == 2u);
  let sbase = mat + rows * G * wpg; // first word of the scale section
  let i = r * G + g;
  if (KIND == 4u) {
    let s = (W[sbase + i / 4u] >> (8u * (i & 3u))) & 0xffu;
    return bitcast<f32>(min(s, 254u) << 23u) * 0.5; // the 1/2 of the x2 decoders
  }
  let h = unpack2x16float(W[sbase + i / 2u]);
  return select(h.x, h.y, (i & 1u) == 1u);
}

fn team_sum(v: vec4<f32>) -> vec4<f32> {
  var s = v;
  for (var o = TPR / 2u; o > 0u; o >>= 1u) { s += subgroupShuffleXor(s, o); }
  return s;
}

fn lut_entry(lane: u32) -> f32 {
  if (KIND == 4u && DQ == 1u) { return e2m1_x2(lane & 15u); }
  if (KIND == 3u && DQ == 1u) { return f32(lane & 15u) - 8.0; } // q4: code - 8
  return 0.0;
}

// Component i of v (accumulators are vec4 registers, never loop-indexed arrays, which drivers may
// place in slow local memory).
fn pick(v: vec4<f32>, i: u32) -> f32 {
  return select(select(select(v.x, v.y, i == 1u), v.z, i == 2u), v.w, i == 3u);
}

struct Shape {
  G: u32, // groups per row
  upg: u32, // units per group
  row_words: u32, // f32: cols, f16: cols / 2, q8: cols / 4, q4 / mxfp4: cols / 8
  U: u32, // units per row
}

fn shape() -> Shape {
  let wpu = select(4u, 8u, KIND >= 3u);
  let bits = select(select(select(4u, 8u, KIND == 2u), 16u, KIND == 1u), 32u, KIND == 0u);
  return Shape(P.cols / 32u, 32u / wpu, P.cols * bits / 32u, P.cols / wpu);
}

fn row_unit(mat: u32, rows: u32, r: u32, u: u32, sh: Shape, xa: vec4<f32>, xb: vec4<f32>, lut: f32) -> f32 {
  let rr = min(r, rows - 1u);
  return unit_dot(mat + rr * sh.row_words, u, xa, xb, lut) * group_scale(mat, rows, rr, u / sh.upg, sh.G);
}

// Products of RPT rows starting at r0 of the matrix at word `mat` with the x row at vec4 x4
// (component i: row r0 + i), summed over the team.
fn rows_dot(mat: u32, rows: u32, r0: u32, x4: u32, lane: u32, lut: f32) -> vec4<f32> {
  let sh = shape();
  var acc = vec4<f32>(0.0);
  for (var u0 = 0u; u0 < sh.U; u0 += TPR * UNR) {
    for (var k = 0u; k < UNR; k++) {
      let ul = u0 + k * TPR + lane;
      let u = min(ul, sh.U - 1u);
      var xa: vec4<f32>;
      var xb = vec4<f32>(0.0);
      if (KIND >= 3u) {
        xa = xv(x4 + 2u * u);
        xb = xv(x4 + 2u * u + 1u);
      } else {
        xa = xv(x4 + u);
      }
      var d = vec4<f32>(0.0);
      d.x = row_unit(mat, rows, r0, u, sh, xa, xb, lut);
      if (RPT > 1u) { d.y = row_unit(mat, rows, r0 + 1u, u, sh, xa, xb, lut); }
      if (RPT > 2u) { d.z = row_unit(mat, rows, r0 + 2u, u, sh, xa, xb, lut); }
      if (RPT > 3u) { d.w = row_unit(mat, rows, r0 + 3u, u, sh, xa, xb, lut); }
      acc += select(vec4<f32>(0.0), d, ul < sh.U);
    }
  }
  return team_sum(acc);
}

// Biases of rows r0 .. r0 + 3 at word `off` (clamped to the last row).
fn bias4(off: u32, r0: u32) -> vec4<f32> {
  let last = P.rows - 1u;
  return vec4<f32>(B[off + min(r0, last)], B[off + min(r0 + 1u, last)], B[off + min(r0 + 2u, last)], B[off + min(r0 + 3u, last)]);
}

fn epilogue(yo: u32, ho: u32, v: f32) {
  switch P.res_mode {
    case 1u: { Y[yo] = P.alpha * Y[yo] + P.beta * v; }
    case 2u: { Y[yo] = P.alpha * H[ho] + P.beta * v; }
    default: { Y[yo] = v; }
  }
}

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

@compute @workgroup_size(WG)
fn mv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
      @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32) {
  let lane = lid % TPR;
  let r0 = (wid.x * (WG / TPR) + lid / TPR) * RPT;
  let p = wid.y;
  var slot = 0u;
  if (P.indirect != 0u) { slot = S[P.slot_offset + p]; }
  var rows = P.rows;
  var yb = P.y_offset + p * P.y_stride;
  var hb = P.h_offset + p * P.y_stride;
  var bb = P.b_offset + slot;
  if (P.seg != 0u) {
    let q = P.seg_offset + 4u * p;
    slot = S[q];
    rows = S[q + 1u];
    yb = S[q + 2u];
    hb = yb;
    bb = S[q + 3u];
  }
  let x4 = (P.x_offset + (p / P.x_div) * P.x_stride) / 4u;
  if (NORM) {
    let n4 = P.cols / 4u;
    var ss = 0.0;
    for (var j = lid; j < n4; j += WG) { let v = X[x4 + j]; ss += dot(v, v); }
    ss = subgroupAdd(ss);
    if (sg_lane == 0u) { norm_red[lid / sg_size] = ss; }
    workgroupBarrier();
    var total = 0.0;
    for (var i = 0u; i < WG / sg_size; i++) { total += norm_red[i]; }
    norm_inv = inverseSqrt(total / f32(P.cols) + P.norm_eps);
    norm_x4 = x4;
    if (P.write_h != 0u && wid.x == 0u && p % P.x_div == 0u) {
      for (var j = lid; j < n4; j += WG) { HOUT[P.hout_offset / 4u + (p / P.x_div) * n4 + j] = xv(x4 + j); }
    }
  }
  if (wid.x * (WG / TPR) * RPT >= rows) { return; } // seg: this problem has fewer rows than the grid covers
  let acc = rows_dot(P.w_offset + slot, rows, r0, x4, lane, lut_entry(lane));
  if (lane != 0u) { return; }
  for (var i = 0u; i < RPT; i++) {
    let r = r0 + i;
    if (r < rows) {
      var v = pick(acc, i);
      if (P.has_bias != 0u) { v += B[bb + r]; }
      epilogue(yb + r, hb + r, v);
    }
  }
}

@compute @workgroup_size(WG)
fn gate_up(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lane = lid % TPR;
  let r0 = (wid.x * (WG / TPR) + lid / TPR) * RPT;
  let p = wid.y;
  let slot = S[P.slot_offset + p];
  let x4 = (P.x_offset + (p / P.x_div) * P.x_stride) / 4u;
  let lut = lut_entry(lane);
  let ga = rows_dot(P.w_offset + slot, P.rows, r0, x4, lane, lut);
  let ua = rows_dot(P.w2_offset + slot, P.rows, r0, x4, lane, lut);
  if (lane != 0u) { return; }
  for (var i = 0u; i < RPT; i++) {
    let r = r0 + i;
    if (r < P.rows) {
      var g = pick(ga, i);
      var u = pick(ua, i);
      if (P.has_bias != 0u) {
        g += B[P.b_offset + slot + r];
        u += B[P.b2_offset + slot + r];
      }
      var a = 0.0;
      if (P.act == 1u) {
        let gc = min(g, P.act_limit);
        let uc = clamp(u, -P.act_limit, P.act_limit);
        a = (uc + 1.0) * gc * sigmoid(P.act_alpha * gc);
      } else {
        a = g * sigmoid(g) * u;
      }
      Y[P.y_offset + p * P.y_stride + r] = a;
    }
  }
}

@compute @workgroup_size(WG)
fn down_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lane = lid % TPR;
  let r0 = (wid.x * (WG / TPR) + lid / TPR) * RPT;
  let t = wid.y;
  let lut = lut_entry(lane);
  var out = vec4<f32>(0.0);
  for (var k = 0u; k < P.k_experts; k++) {
    let p = t * P.k_experts + k;
    let slot = S[P.slot_offset + p];
    let x4 = (P.x_offset + p * P.x_stride) / 4u;
    var v = rows_dot(P.w_offset + slot, P.rows, r0, x4, lane, lut);
    if (P.has_bias != 0u) { v += bias4(P.b_offset + slot, r0); }
    out += WTS[P.wts_offset + p] * v;
  }
  if (lane != 0u) { return; }
  for (var i = 0u; i < RPT; i++) {
    let r = r0 + i;
    if (r < P.rows) { epilogue(P.y_offset + t * P.y_stride + r, P.h_offset + t * P.y_stride + r, pick(out, i)); }
  }
}
