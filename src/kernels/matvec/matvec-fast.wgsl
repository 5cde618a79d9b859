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
// team sits inside one subgroup) owns RPT consecutive rows. Lane l walks the 32-column quant
// groups l, l + TPR, ...: it loads the group's 32 x values once (8 vec4 loads, L1-resident) and
// reuses them for its RPT rows, whose weights it reads as 16-byte vec4<u32> loads (q4/mxfp4: a
// whole group; q8: 2; f16: 4; f32: 8), so a team reads TPR consecutive groups of a row in one
// coalesced sweep. Each lane keeps RPT partial sums; a shuffle-xor butterfly over the team adds
// them and lane 0 writes. Workgroups hold WG / TPR teams; grid (ceil(rows / rows_per_wg), P).
//   The group loop runs a uniform trip count (lanes past the last group add 0), so every lane is
//   active at each subgroup operation.
//
// Dequantization without int->float conversions (slow on many GPUs): a small integer n placed in
// the mantissa of 2^23 (bits 0x4B000000 | n) is the float 2^23 + n, so one float subtract gives
// n - offset exactly. q4: nibble n, value n - 8. q8: byte b xor 0x80 = b + 128, value b.
// mxfp4 (E2M1 code c = s e1 e0 m): with f = (c & 7) as a float, 2 x |value| =
//   max(f, 2 f - 4, 4 f - 16)   (0 1 2 3 4 6 8 12 for f = 0..7),
// the sign bit moved from bit 3 to bit 31, and the 1/2 folded into the group scale (DQ = 0); or
// a 16-entry table held one entry per lane and read with subgroupShuffle (DQ = 1, needs a
// subgroup of at least 16 lanes).
//
// Requirements (the wrapper checks and otherwise uses matvec.wgsl): cols % 32 == 0, w_offset % 4
// == 0 (16-byte aligned matrices), x_offset and x_stride multiples of 4.
//
// Bindings:
//   0 P: Params (uniform)
//   1 W: array<vec4<u32>>  weights (a matrix or an expert cache), word w_offset = vec4 w_offset / 4
//   2 X: array<vec4<f32>>  inputs
//   3 B: array<f32>        biases (read when has_bias)
//   4 S: array<u32>        per-problem slot word offsets (read when indirect; down_sum always)
//   5 Y: array<f32>        outputs (mv, down_sum: read too in res_mode 1)
//   6 H: array<f32>        residual source for res_mode 2 (mv, down_sum)
//   7 WTS: array<f32>      routing weights (T, k_experts) at wts_offset (down_sum)

enable subgroups;

override KIND: u32 = 3u; // 0 f32, 1 f16, 2 q8, 3 q4, 4 mxfp4
override WG: u32 = 128u;
override TPR: u32 = 32u;
override RPT: u32 = 2u; // 1..4
override DQ: u32 = 0u;

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
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> W: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read> S: array<u32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@group(0) @binding(6) var<storage, read> H: array<f32>;
@group(0) @binding(7) var<storage, read> WTS: array<f32>;

const MAGIC: u32 = 0x4B000000u; // 2^23
const MAGIC_F: f32 = 8388608.0;

// 16-entry E2M1 table (value x 2, sign applied), one entry per lane (DQ = 1).
fn e2m1_x2(c: u32) -> f32 {
  let f = f32(c & 7u);
  let m = max(f, max(2.0 * f - 4.0, 4.0 * f - 16.0));
  return select(m, -m, c >= 8u);
}

// Sum of W[row, 32 g .. 32 g + 31] * x over one group, unscaled; `mat` is the matrix's first
// vec4 index, G the groups per row.
fn group_dot(mat: u32, r: u32, g: u32, G: u32, xg: ptr<function, array<vec4<f32>, 8>>, lut: f32) -> f32 {
  var s = 0.0;
  switch KIND {
    case 0u: {
      let b = mat + (r * G + g) * 8u;
      for (var j = 0u; j < 8u; j++) { s += dot(bitcast<vec4<f32>>(W[b + j]), (*xg)[j]); }
    }
    case 1u: {
      let b = mat + (r * G + g) * 4u;
      for (var j = 0u; j < 4u; j++) {
        let w = W[b + j];
        s += dot(vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)), (*xg)[2u * j]);
        s += dot(vec4<f32>(unpack2x16float(w.z), unpack2x16float(w.w)), (*xg)[2u * j + 1u]);
      }
    }
    case 2u: {
      let b = mat + (r * G + g) * 2u;
      for (var j = 0u; j < 2u; j++) {
        let w = W[b + j];
        for (var i = 0u; i < 4u; i++) {
          let u = w[i];
          let v = bitcast<vec4<f32>>(((vec4<u32>(u, u >> 8u, u >> 16u, u >> 24u) & vec4<u32>(0xFFu)) ^ vec4<u32>(MAGIC | 0x80u)));
          s += dot(v - vec4<f32>(MAGIC_F + 128.0), (*xg)[4u * j + i]);
        }
      }
    }
    case 3u: {
      let w = W[mat + r * G + g];
      for (var i = 0u; i < 4u; i++) {
        let u = w[i];
        let lo = bitcast<vec4<f32>>((vec4<u32>(u, u >> 4u, u >> 8u, u >> 12u) & vec4<u32>(15u)) | vec4<u32>(MAGIC));
        let hi = bitcast<vec4<f32>>((vec4<u32>(u >> 16u, u >> 20u, u >> 24u, u >> 28u) & vec4<u32>(15u)) | vec4<u32>(MAGIC));
        s += dot(lo - vec4<f32>(MAGIC_F + 8.0), (*xg)[2u * i]) + dot(hi - vec4<f32>(MAGIC_F + 8.0), (*xg)[2u * i + 1u]);
      }
    }
    default: {
      let w = W[mat + r * G + g];
      for (var i = 0u; i < 4u; i++) {
        let u = w[i];
        let c0 = vec4<u32>(u, u >> 4u, u >> 8u, u >> 12u) & vec4<u32>(15u);
        let c1 = vec4<u32>(u >> 16u, u >> 20u, u >> 24u, u >> 28u) & vec4<u32>(15u);
        var lo: vec4<f32>;
        var hi: vec4<f32>;
        if (DQ == 1u) {
          lo = vec4<f32>(subgroupShuffle(lut, c0.x), subgroupShuffle(lut, c0.y), subgroupShuffle(lut, c0.z), subgroupShuffle(lut, c0.w));
          hi = vec4<f32>(subgroupShuffle(lut, c1.x), subgroupShuffle(lut, c1.y), subgroupShuffle(lut, c1.z), subgroupShuffle(lut, c1.w));
        } else {
          lo = e2m1_vec(c0);
          hi = e2m1_vec(c1);
        }
        s += dot(lo, (*xg)[2u * i]) + dot(hi, (*xg)[2u * i + 1u]);
      }
    }
  }
  return s;
}

// 2 x E2M1 value of four codes: magnitude from the max formula, sign bit moved to bit 31.
fn e2m1_vec(c: vec4<u32>) -> vec4<f32> {
  let f = bitcast<vec4<f32>>((c & vec4<u32>(7u)) | vec4<u32>(MAGIC)) - vec4<f32>(MAGIC_F);
  let m = max(f, max(2.0 * f - 4.0, 4.0 * f - 16.0));
  return bitcast<vec4<f32>>(bitcast<vec4<u32>>(m) | ((c & vec4<u32>(8u)) << vec4<u32>(28u)));
}

// Scale of group g of row r (matrix at word `mat_w`, data words per group `wpg`).
fn group_scale(mat_w: u32, rows: u32, r: u32, g: u32, G: u32) -> f32 {
  if (KIND < 2u) { return 1.0; }
  let wpg = select(4u, 8u, KIND == 2u);
  let sbase = mat_w + rows * G * wpg; // first word of the scale section
  let i = r * G + g;
  if (KIND == 4u) {
    let wi = sbase + i / 4u;
    let s = (W[wi / 4u][wi % 4u] >> (8u * (i & 3u))) & 0xffu;
    return bitcast<f32>(min(s, 254u) << 23u) * 0.5; // the 1/2 of the x2 decoders
  }
  let wi = sbase + i / 2u;
  let h = unpack2x16float(W[wi / 4u][wi % 4u]);
  return select(h.x, h.y, (i & 1u) == 1u);
}

fn load_x(base4: u32, g: u32) -> array<vec4<f32>, 8> {
  var xg: array<vec4<f32>, 8>;
  for (var j = 0u; j < 8u; j++) { xg[j] = X[base4 + g * 8u + j]; }
  return xg;
}

fn team_sum(v: f32) -> f32 {
  var s = v;
  for (var o = TPR / 2u; o > 0u; o >>= 1u) { s += subgroupShuffleXor(s, o); }
  return s;
}

fn lut_entry(lane: u32) -> f32 {
  if (KIND == 4u && DQ == 1u) { return e2m1_x2(lane & 15u); }
  return 0.0;
}

// Products of RPT rows starting at r0 of the matrix at word `mat_w` with x row at vec4 x4.
fn rows_dot(mat_w: u32, rows: u32, r0: u32, x4: u32, lane: u32, lut: f32) -> array<f32, 4> {
  let G = P.cols / 32u;
  let mat = mat_w / 4u;
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var g0 = 0u; g0 < G; g0 += TPR) {
    let g = min(g0 + lane, G - 1u);
    let live = g0 + lane < G;
    var xg = load_x(x4, g);
    for (var i = 0u; i < RPT; i++) {
      let r = min(r0 + i, rows - 1u);
      let d = group_dot(mat, r, g, G, &xg, lut) * group_scale(mat_w, rows, r, g, G);
      acc[i] += select(0.0, d, live);
    }
  }
  for (var i = 0u; i < RPT; i++) { acc[i] = team_sum(acc[i]); }
  return acc;
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
fn mv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lane = lid % TPR;
  let r0 = (wid.x * (WG / TPR) + lid / TPR) * RPT;
  let p = wid.y;
  var slot = 0u;
  if (P.indirect != 0u) { slot = S[P.slot_offset + p]; }
  let x4 = (P.x_offset + (p / P.x_div) * P.x_stride) / 4u;
  let acc = rows_dot(P.w_offset + slot, P.rows, r0, x4, lane, lut_entry(lane));
  if (lane != 0u) { return; }
  for (var i = 0u; i < RPT; i++) {
    let r = r0 + i;
    if (r < P.rows) {
      var v = acc[i];
      if (P.has_bias != 0u) { v += B[P.b_offset + slot + r]; }
      epilogue(P.y_offset + p * P.y_stride + r, P.h_offset + p * P.y_stride + r, v);
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
      var g = ga[i];
      var u = ua[i];
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
  var out = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var k = 0u; k < P.k_experts; k++) {
    let p = t * P.k_experts + k;
    let slot = S[P.slot_offset + p];
    let x4 = (P.x_offset + p * P.x_stride) / 4u;
    let acc = rows_dot(P.w_offset + slot, P.rows, r0, x4, lane, lut);
    let wt = WTS[P.wts_offset + p];
    for (var i = 0u; i < RPT; i++) {
      var v = acc[i];
      if (P.has_bias != 0u) { v += B[P.b_offset + slot + min(r0 + i, P.rows - 1u)]; }
      out[i] += wt * v;
    }
  }
  if (lane != 0u) { return; }
  for (var i = 0u; i < RPT; i++) {
    let r = r0 + i;
    if (r < P.rows) { epilogue(P.y_offset + t * P.y_stride + r, P.h_offset + t * P.y_stride + r, out[i]); }
  }
}
