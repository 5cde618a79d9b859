// matmul-tiled: Y (tokens, rows) = X (tokens, cols) W^T for prefill, with W in any quant-layout.ts
// kind, tiled through workgroup memory so each decoded weight serves BT tokens and each x value
// BR rows. Three entry points share the tile loop:
//   mm              dense: all tokens read one matrix (+ bias, + the residual epilogue of
//                   matvec-fast.wgsl: res_mode 1 Y = alpha Y + beta v, 2 Y = alpha H + beta v)
//   grouped_gate_up experts: a tile is BT problems of ONE expert (from moe-plan), gate and up
//                   tiles side by side, then a[p] = act(gate, up) (swiglu.wgsl's math)
//   grouped_down    experts: y[p] = down_e a[p] (+ bias); combine and residual follow
//
// How it parallelizes: workgroup = (BT / 4) x (BR / 4) threads; thread (tx, ty) owns tokens
// 4 ty .. 4 ty + 3 and rows 4 tx .. 4 tx + 3 (16 accumulators per matrix). Per 32-column step
// (one quant group): the X tile (BT x 32) and the dequantized W tile (BR x 32) are staged in
// workgroup memory k-major, then each thread does 32 x 16 FMAs from two vec4 reads per k.
//   Loads: X row pieces as vec4 (tokens across threads); W as u32 words, a word per thread
//   (q4/mxfp4: 8 weights, q8: 4, f16: 2, f32: 1) times its group scale, decoded with the
//   conversion-free tricks of matvec-fast.wgsl.
//
// Requirements (the wrapper checks): cols % 32 == 0, x offsets and strides multiples of 4.
//
// Bindings:
//   0 P: Params (uniform)
//   1 W: array<u32>         weights (a matrix, or the expert cache)
//   2 X: array<vec4<f32>>   inputs
//   3 B: array<f32>         biases (has_bias)
//   4 Y: array<f32>         outputs (mm: read in res_mode 1)
//   5 H: array<f32>         residual source, res_mode 2 (mm)
//   6 PLAN: array<u32>      moe-plan output (grouped)
//   7 ORDER: array<u32>     problems by expert (grouped)
//   8 S: array<u32>         per-problem slot word offsets (grouped)
// Dispatch: mm grid (ceil(rows / BR), ceil(tokens / BT)); grouped grid (ceil(rows / BR),
//   ceil(n / BT) + E) — a workgroup past the plan's tile count returns at once.

override KIND: u32 = 3u; // 0 f32, 1 f16, 2 q8, 3 q4, 4 mxfp4
override BT: u32 = 64u;
override BR: u32 = 64u;
const BK: u32 = 32u;

struct Params {
  rows: u32,
  cols: u32,
  tokens: u32,
  w_offset: u32,
  x_offset: u32,
  x_stride: u32,
  y_offset: u32,
  y_stride: u32,
  b_offset: u32,
  has_bias: u32,
  res_mode: u32,
  alpha: f32,
  beta: f32,
  h_offset: u32,
  w2_offset: u32,
  b2_offset: u32,
  experts: u32,
  k_experts: u32,
  slot_offset: u32,
  act: u32,
  act_alpha: f32,
  act_limit: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read> H: array<f32>;
@group(0) @binding(6) var<storage, read> PLAN: array<u32>;
@group(0) @binding(7) var<storage, read> ORDER: array<u32>;
@group(0) @binding(8) var<storage, read> S: array<u32>;

var<workgroup> xs: array<vec4<f32>, BK * BT / 4u>; // xs[k BT/4 + i] = tokens 4i..4i+3 at column k
var<workgroup> ws: array<vec4<f32>, BK * BR / 4u>; // rows 4j..4j+3 at column k
var<workgroup> ws2: array<vec4<f32>, BK * BR / 4u>; // up (grouped_gate_up)
var<workgroup> xrow: array<u32, BT>; // vec4 index of each tile token's x row (0xffffffff: none)
var<workgroup> prob: array<u32, BT>; // problem (grouped) or token (mm) of each tile row
var<workgroup> tile_info: array<u32, 2>; // expert, live tokens

const MAGIC: u32 = 0x4B000000u;
const MAGIC_F: f32 = 8388608.0;
const NONE: u32 = 0xffffffffu;

fn wpg() -> u32 {
  switch KIND {
    case 0u: { return 32u; }
    case 1u: { return 16u; }
    case 2u: { return 8u; }
    default: { return 4u; }
  }
}

fn scale_of(mat: u32, r: u32, g: u32, G: u32) -> f32 {
  if (KIND < 2u) { return 1.0; }
  let sbase = mat + P.rows * G * wpg();
  let i = r * G + g;
  if (KIND == 4u) {
    let s = (W[sbase + i / 4u] >> (8u * (i & 3u))) & 0xffu;
    return bitcast<f32>(min(s, 254u) << 23u) * 0.5;
  }
  let h = unpack2x16float(W[sbase + i / 2u]);
  return select(h.x, h.y, (i & 1u) == 1u);
}

fn e2m1_x2(c: u32) -> f32 {
  let f = bitcast<f32>((c & 7u) | MAGIC) - MAGIC_F;
  let m = max(f, max(2.0 * f - 4.0, 4.0 * f - 16.0));
  return bitcast<f32>(bitcast<u32>(m) | ((c & 8u) << 28u));
}

// Element e (< 32 / wpg) of word u, unscaled.
fn decode(u: u32, e: u32) -> f32 {
  switch KIND {
    case 0u: { return bitcast<f32>(u); }
    case 1u: { let h = unpack2x16float(u); return select(h.x, h.y, e == 1u); }
    case 2u: { return bitcast<f32>(((u >> (8u * e)) & 0xffu) ^ (MAGIC | 0x80u)) - (MAGIC_F + 128.0); }
    case 3u: { return bitcast<f32>(((u >> (4u * e)) & 15u) | MAGIC) - (MAGIC_F + 8.0); }
    default: { return e2m1_x2((u >> (4u * e)) & 15u); }
  }
}

fn set_w(dual: bool, k: u32, r: u32, v: f32) {
  let i = k * (BR / 4u) + r / 4u;
  if (dual) { ws2[i][r % 4u] = v; } else { ws[i][r % 4u] = v; }
}

// Stage group g of rows r0 .. r0 + BR of the matrix at word `mat` into ws (or ws2).
fn load_w(mat: u32, r0: u32, g: u32, lid: u32, dual: bool) {
  let G = P.cols / BK;
  let per = wpg();
  let epw = BK / per;
  for (var wi = lid; wi < BR * per; wi += BT * BR / 16u) {
    let rr = wi / per;
    let r = min(r0 + rr, P.rows - 1u);
    let wk = wi % per;
    let u = W[mat + (r * G + g) * per + wk];
    let s = scale_of(mat, r, g, G);
    for (var e = 0u; e < epw; e++) { set_w(dual, wk * epw + e, rr, decode(u, e) * s); }
  }
}

// Stage columns 32 g .. 32 g + 31 of the tile's x rows into xs (zeros for missing tokens).
fn load_x(g: u32, lid: u32) {
  for (var idx = lid; idx < BT * 8u; idx += BT * BR / 16u) {
    let t = idx % BT;
    let q = idx / BT;
    var v = vec4<f32>(0.0);
    if (xrow[t] != NONE) { v = X[xrow[t] + g * 8u + q]; }
    let at = (4u * q) * (BT / 4u) + t / 4u;
    let lane = t % 4u;
    xs[at][lane] = v.x;
    xs[at + BT / 4u][lane] = v.y;
    xs[at + 2u * (BT / 4u)][lane] = v.z;
    xs[at + 3u * (BT / 4u)][lane] = v.w;
  }
}

// 16 accumulators per matrix as four vec4 registers: token 4 ty + i, rows 4 tx .. 4 tx + 3 in
// a_i (b_i for the second matrix). Explicit, never loop-indexed (drivers may put indexed private
// arrays in slow local memory).
struct Acc {
  a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>,
  b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>,
}

fn acc_row(acc: Acc, i: u32, second: bool) -> vec4<f32> {
  if (second) { return select(select(select(acc.b0, acc.b1, i == 1u), acc.b2, i == 2u), acc.b3, i == 3u); }
  return select(select(select(acc.a0, acc.a1, i == 1u), acc.a2, i == 2u), acc.a3, i == 3u);
}

// The tile loop over all column groups (xrow / prob / tile_info staged by the caller).
fn tile_loop(mat: u32, mat2: u32, r0: u32, lid: u32, dual: bool) -> Acc {
  let tx = lid % (BR / 4u);
  let ty = lid / (BR / 4u);
  var acc = Acc(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  let G = P.cols / BK;
  for (var g = 0u; g < G; g++) {
    load_x(g, lid);
    load_w(mat, r0, g, lid, false);
    if (dual) { load_w(mat2, r0, g, lid, true); }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let xv = xs[k * (BT / 4u) + ty];
      let wv = ws[k * (BR / 4u) + tx];
      acc.a0 += xv.x * wv;
      acc.a1 += xv.y * wv;
      acc.a2 += xv.z * wv;
      acc.a3 += xv.w * wv;
      if (dual) {
        let uv = ws2[k * (BR / 4u) + tx];
        acc.b0 += xv.x * uv;
        acc.b1 += xv.y * uv;
        acc.b2 += xv.z * uv;
        acc.b3 += xv.w * uv;
      }
    }
    workgroupBarrier();
  }
  return acc;
}

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

@compute @workgroup_size(BT * BR / 16u)
fn mm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r0 = wid.x * BR;
  let t0 = wid.y * BT;
  for (var t = lid; t < BT; t += BT * BR / 16u) {
    let tok = t0 + t;
    prob[t] = tok;
    xrow[t] = select(NONE, (P.x_offset + tok * P.x_stride) / 4u, tok < P.tokens);
  }
  workgroupBarrier();
  let acc = tile_loop(P.w_offset, 0u, r0, lid, false);
  let tx = lid % (BR / 4u);
  let ty = lid / (BR / 4u);
  for (var i = 0u; i < 4u; i++) {
    let tok = t0 + 4u * ty + i;
    if (tok >= P.tokens) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let r = r0 + 4u * tx + j;
      if (r >= P.rows) { continue; }
      var v = acc_row(acc, i, false)[j];
      if (P.has_bias != 0u) { v += B[P.b_offset + r]; }
      let yo = P.y_offset + tok * P.y_stride + r;
      switch P.res_mode {
        case 1u: { Y[yo] = P.alpha * Y[yo] + P.beta * v; }
        case 2u: { Y[yo] = P.alpha * H[P.h_offset + tok * P.y_stride + r] + P.beta * v; }
        default: { Y[yo] = v; }
      }
    }
  }
}

// Stage the tile's problems from the plan; returns false (uniformly) past the last tile.
fn stage_group(tile: u32, lid: u32, x_of_token: bool) -> bool {
  let E = P.experts;
  if (tile >= PLAN[2u * E + 1u]) { return false; }
  let entry = PLAN[2u * E + 2u + tile];
  let e = entry & 0xffffu;
  let j = entry >> 16u;
  let first = PLAN[E + e] + j * BT;
  let live = min(BT, PLAN[e] - j * BT);
  for (var t = lid; t < BT; t += BT * BR / 16u) {
    if (t < live) {
      let p = ORDER[first + t];
      prob[t] = p;
      let row = select(p, p / P.k_experts, x_of_token);
      xrow[t] = (P.x_offset + row * P.x_stride) / 4u;
    } else {
      prob[t] = NONE;
      xrow[t] = NONE;
    }
  }
  if (lid == 0u) {
    tile_info[0] = e;
    tile_info[1] = S[P.slot_offset + ORDER[PLAN[E + e]]];
  }
  workgroupBarrier();
  return true;
}

@compute @workgroup_size(BT * BR / 16u)
fn grouped_gate_up(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r0 = wid.x * BR;
  if (!stage_group(wid.y, lid, true)) { return; }
  let slot = tile_info[1];
  let acc = tile_loop(P.w_offset + slot, P.w2_offset + slot, r0, lid, true);
  let tx = lid % (BR / 4u);
  let ty = lid / (BR / 4u);
  for (var i = 0u; i < 4u; i++) {
    let p = prob[4u * ty + i];
    if (p == NONE) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let r = r0 + 4u * tx + j;
      if (r >= P.rows) { continue; }
      var g = acc_row(acc, i, false)[j];
      var u = acc_row(acc, i, true)[j];
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

@compute @workgroup_size(BT * BR / 16u)
fn grouped_down(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r0 = wid.x * BR;
  if (!stage_group(wid.y, lid, false)) { return; }
  let slot = tile_info[1];
  let acc = tile_loop(P.w_offset + slot, 0u, r0, lid, false);
  let tx = lid % (BR / 4u);
  let ty = lid / (BR / 4u);
  for (var i = 0u; i < 4u; i++) {
    let p = prob[4u * ty + i];
    if (p == NONE) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let r = r0 + 4u * tx + j;
      if (r >= P.rows) { continue; }
      var v = acc_row(acc, i, false)[j];
      if (P.has_bias != 0u) { v += B[P.b_offset + slot + r]; }
      Y[P.y_offset + p * P.y_stride + r] = v;
    }
  }
}
