// matmul-tiled: Y (tokens, rows) = X (tokens, cols) W^T for prefill, with W in any quant-layout.ts
// kind, tiled through workgroup memory so each decoded weight serves BT tokens and each x value
// a tile's rows. Three entry points share the tile loop:
//   mm              dense: all tokens read one matrix (+ bias, + the residual epilogue of
//                   matvec-fast.wgsl: res_mode 1 Y = alpha Y + beta v, 2 Y = alpha H + beta v),
//                   or q, k and v in one dispatch (rows2, rows3 > 0; outputs Y, Y2, Y3)
//   grouped_gate_up experts: a tile is BT problems of ONE expert (from moe-plan), gate and up
//                   tiles side by side, then a[p] = act(gate, up) (swiglu.wgsl's math)
//   grouped_down    experts: y[p] = down_e a[p] (+ bias); combine and residual follow
//
// How it parallelizes: workgroup = NX x NY threads; thread (tx, ty) owns TM (4 or 8) tokens
// TM ty .. TM ty + TM - 1 and two row quads: single matrix, rows 4 tx .. 4 tx + 3 and
// 4 (NX + tx) .. (tile of 8 NX rows); gate_up, rows 4 tx .. 4 tx + 3 of gate AND of up (tile of
// 4 NX rows of each). So BT = TM NY, and a thread holds 8 TM accumulators in explicit vec4
// registers. Per 32-column step (one quant group): the X tile (BT x 32) and the dequantized W
// tile (2 NX quads x 32) are staged in workgroup memory k-major, then each thread does 32 x 8 TM
// FMAs from TM / 4 + 2 vec4 reads per k (8 TM = 64: four reads per 64 FMAs).
//   Loads: a thread moves 4 tokens x 4 columns of X (four vec4 reads, transposed in registers,
//   four vec4 stores) and one u32 word of 4 rows of W (q4/mxfp4: 8 weights per word, q8: 4,
//   f16: 2, f32: 1) times their group scales, decoded with the conversion-free tricks of
//   matvec-fast.wgsl, stored as whole vec4s.
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
//   9 Y2, 10 Y3: array<f32> k and v outputs (mm with three matrices; Y is q's)
// Dispatch: mm grid (sum over its matrices of ceil(rows_m / 8 NX), ceil(tokens / BT)); grouped grid (ceil(rows / R),
//   ceil(n / BT) + E) with R = 4 NX (gate_up) or 8 NX (down) — a workgroup past the plan's tile
//   count returns at once.

override KIND: u32 = 3u; // 0 f32, 1 f16, 2 q8, 3 q4, 4 mxfp4
override NX: u32 = 16u; // threads along rows
override NY: u32 = 8u; // threads along tokens
override TM: u32 = 8u; // tokens per thread: 4 or 8
override PF: u32 = 0u; // 1: prefetch the next group into registers (see Pref)
const BK: u32 = 32u;
override BT: u32 = TM * NY;
override QS: u32 = 2u * NX; // row quads per staged column
override THREADS: u32 = NX * NY;

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
  rows2: u32,
  rows3: u32,
  w3_offset: u32,
  b3_offset: u32,
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
@group(0) @binding(9) var<storage, read_write> Y2: array<f32>;
@group(0) @binding(10) var<storage, read_write> Y3: array<f32>;

var<private> ROWS: u32; // rows of the matrix this workgroup multiplies (q, k or v in mm)

var<workgroup> xs: array<vec4<f32>, BK * BT / 4u>; // xs[k BT/4 + i] = tokens 4i..4i+3 at column k
var<workgroup> ws: array<vec4<f32>, BK * QS>; // ws[k QS + q] = row quad q at column k
var<workgroup> xrow: array<u32, BT>; // vec4 index of each tile token's x row (0xffffffff: none)
var<workgroup> prob: array<u32, BT>; // problem of each tile row (grouped)
var<workgroup> tile_info: array<u32, 2>; // expert slot (grouped), live tokens (the first ones of the tile)

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

// Index of the word holding the scale of row r, group g (any valid index for f32 / f16).
fn scale_index(mat: u32, r: u32, g: u32, G: u32) -> u32 {
  let i = r * G + g;
  let sbase = mat + ROWS * G * wpg();
  switch KIND {
    case 0u, 1u: { return mat; }
    case 4u: { return sbase + i / 4u; }
    default: { return sbase + i / 2u; }
  }
}

// The scale of row r, group g from its word.
fn scale_from(word: u32, r: u32, g: u32, G: u32) -> f32 {
  let i = r * G + g;
  switch KIND {
    case 0u, 1u: { return 1.0; }
    case 4u: { return bitcast<f32>(min((word >> (8u * (i & 3u))) & 0xffu, 254u) << 23u) * 0.5; }
    default: { let h = unpack2x16float(word); return select(h.x, h.y, (i & 1u) == 1u); }
  }
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

// A W staging task: word wk of the group in row quad q (rows rb .. rb + 3 of matrix m). Quad
// q < NX: rows r0 + 4 q of `mat`; q >= NX: rows r0 + 4 q of `mat` (single) or r0 + 4 (q - NX)
// of `mat2` (dual).
struct WTask { m: u32, rb: u32, wk: u32, q: u32 }

fn w_task(task: u32, mat: u32, mat2: u32, r0: u32, dual: bool) -> WTask {
  let per = wpg();
  let q = task / per;
  let second = dual && q >= NX;
  return WTask(select(mat, mat2, second), r0 + 4u * select(q, q - NX, second), task % per, q);
}

// A task's global reads, raw: four weight words and the four words holding their scales.
struct WRaw { u: vec4<u32>, s: vec4<u32> }

fn w_row(t: WTask, j: u32) -> u32 {
  return min(t.rb + j, ROWS - 1u);
}

fn fetch_w(t: WTask, g: u32) -> WRaw {
  let G = P.cols / BK;
  let per = wpg();
  var o: WRaw;
  o.u = vec4<u32>(W[t.m + (w_row(t, 0u) * G + g) * per + t.wk], W[t.m + (w_row(t, 1u) * G + g) * per + t.wk],
                  W[t.m + (w_row(t, 2u) * G + g) * per + t.wk], W[t.m + (w_row(t, 3u) * G + g) * per + t.wk]);
  o.s = vec4<u32>(W[scale_index(t.m, w_row(t, 0u), g, G)], W[scale_index(t.m, w_row(t, 1u), g, G)],
                  W[scale_index(t.m, w_row(t, 2u), g, G)], W[scale_index(t.m, w_row(t, 3u), g, G)]);
  return o;
}

fn put_w(t: WTask, raw: WRaw, g: u32) {
  let G = P.cols / BK;
  let epw = BK / wpg();
  let s = vec4<f32>(scale_from(raw.s.x, w_row(t, 0u), g, G), scale_from(raw.s.y, w_row(t, 1u), g, G),
                    scale_from(raw.s.z, w_row(t, 2u), g, G), scale_from(raw.s.w, w_row(t, 3u), g, G));
  let u = raw.u;
  for (var e = 0u; e < epw; e++) {
    ws[(t.wk * epw + e) * QS + t.q] = vec4<f32>(decode(u.x, e), decode(u.y, e), decode(u.z, e), decode(u.w, e)) * s;
  }
}

fn x_at(t: u32, off: u32) -> vec4<f32> {
  let xr = xrow[t];
  if (xr == NONE) { return vec4<f32>(0.0); }
  return X[xr + off];
}

// An X staging task: 4 tokens (4 tq ..) x 4 columns (4 c4 .. of group g), transposed on the way in.
struct XRaw { v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32> }

fn fetch_x(task: u32, g: u32) -> XRaw {
  let off = g * 8u + task % 8u;
  let t = 4u * (task / 8u);
  return XRaw(x_at(t, off), x_at(t + 1u, off), x_at(t + 2u, off), x_at(t + 3u, off));
}

fn put_x(task: u32, v: XRaw) {
  let c4 = task % 8u;
  let tq = task / 8u;
  for (var c = 0u; c < 4u; c++) {
    xs[(4u * c4 + c) * (BT / 4u) + tq] = vec4<f32>(v.v0[c], v.v1[c], v.v2[c], v.v3[c]);
  }
}

// Stage group g of the tile into xs and ws, loads and stores in turn.
fn load_tile(mat: u32, mat2: u32, r0: u32, g: u32, lid: u32, dual: bool) {
  for (var task = lid; task < 2u * BT; task += THREADS) { put_x(task, fetch_x(task, g)); }
  for (var task = lid; task < QS * wpg(); task += THREADS) {
    let t = w_task(task, mat, mat2, r0, dual);
    put_w(t, fetch_w(t, g), g);
  }
}

// PF: the next group's loads, held in registers while the current group computes (at most one X
// task and two W tasks per thread: the wrapper sets PF only where the geometry allows).
struct Pref { x: XRaw, w0: WRaw, w1: WRaw }

fn prefetch(mat: u32, mat2: u32, r0: u32, g: u32, lid: u32, dual: bool) -> Pref {
  var p: Pref;
  if (lid < 2u * BT) { p.x = fetch_x(lid, g); }
  if (lid < QS * wpg()) { p.w0 = fetch_w(w_task(lid, mat, mat2, r0, dual), g); }
  if (lid + THREADS < QS * wpg()) { p.w1 = fetch_w(w_task(lid + THREADS, mat, mat2, r0, dual), g); }
  return p;
}

fn put_prefetched(p: Pref, mat: u32, mat2: u32, r0: u32, g: u32, lid: u32, dual: bool) {
  if (lid < 2u * BT) { put_x(lid, p.x); }
  if (lid < QS * wpg()) { put_w(w_task(lid, mat, mat2, r0, dual), p.w0, g); }
  if (lid + THREADS < QS * wpg()) { put_w(w_task(lid + THREADS, mat, mat2, r0, dual), p.w1, g); }
}

// Accumulators as explicit vec4 registers, never loop-indexed (drivers may put indexed private
// arrays in slow local memory): token TM ty + i, quad 0 in a_i / c_(i-4), quad 1 in b_i / d_(i-4)
// (c and d only when TM is 8).
struct Acc {
  a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>,
  b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>,
  c0: vec4<f32>, c1: vec4<f32>, c2: vec4<f32>, c3: vec4<f32>,
  d0: vec4<f32>, d1: vec4<f32>, d2: vec4<f32>, d3: vec4<f32>,
}

fn pick(v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>, i: u32) -> vec4<f32> {
  return select(select(select(v0, v1, i == 1u), v2, i == 2u), v3, i == 3u);
}

// Token i (< TM) of the thread, quad q (0 or 1).
fn acc_at(acc: Acc, i: u32, q: u32) -> vec4<f32> {
  let lo = i < 4u;
  let k = i & 3u;
  if (q == 0u) { return select(pick(acc.c0, acc.c1, acc.c2, acc.c3, k), pick(acc.a0, acc.a1, acc.a2, acc.a3, k), lo); }
  return select(pick(acc.d0, acc.d1, acc.d2, acc.d3, k), pick(acc.b0, acc.b1, acc.b2, acc.b3, k), lo);
}

// The tile loop over all column groups (xrow / prob / tile_info staged by the caller).
fn tile_loop(mat: u32, mat2: u32, r0: u32, lid: u32, dual: bool) -> Acc {
  let tx = lid % NX;
  let ty = lid / NX;
  let z = vec4<f32>(0.0);
  var acc = Acc(z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z);
  let G = P.cols / BK;
  let xq = (TM / 4u) * ty;
  let busy = TM * ty < tile_info[1];
  var pre: Pref;
  if (PF != 0u) { pre = prefetch(mat, mat2, r0, 0u, lid, dual); }
  for (var g = 0u; g < G; g++) {
    if (PF != 0u) {
      put_prefetched(pre, mat, mat2, r0, g, lid, dual);
    } else {
      load_tile(mat, mat2, r0, g, lid, dual);
    }
    workgroupBarrier();
    if (PF != 0u && g + 1u < G) { pre = prefetch(mat, mat2, r0, g + 1u, lid, dual); }
    // threads whose tokens are all past the tile's live ones (a partly filled last tile of an
    // expert) only stage: their warps skip the FMAs
    if (busy) {
      for (var k = 0u; k < BK; k++) {
        let x0 = xs[k * (BT / 4u) + xq];
        let w0 = ws[k * QS + tx];
        let w1 = ws[k * QS + NX + tx];
        acc.a0 += x0.x * w0;
        acc.a1 += x0.y * w0;
        acc.a2 += x0.z * w0;
        acc.a3 += x0.w * w0;
        acc.b0 += x0.x * w1;
        acc.b1 += x0.y * w1;
        acc.b2 += x0.z * w1;
        acc.b3 += x0.w * w1;
        if (TM == 8u) {
          let x1 = xs[k * (BT / 4u) + xq + 1u];
          acc.c0 += x1.x * w0;
          acc.c1 += x1.y * w0;
          acc.c2 += x1.z * w0;
          acc.c3 += x1.w * w0;
          acc.d0 += x1.x * w1;
          acc.d1 += x1.y * w1;
          acc.d2 += x1.z * w1;
          acc.d3 += x1.w * w1;
        }
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

// Stage the x rows of tokens t0 .. t0 + BT (mm).
fn stage_tokens(t0: u32, lid: u32) {
  for (var t = lid; t < BT; t += THREADS) {
    let tok = t0 + t;
    xrow[t] = select(NONE, (P.x_offset + tok * P.x_stride) / 4u, tok < P.tokens);
  }
  if (lid == 0u) { tile_info[1] = min(BT, P.tokens - t0); }
  workgroupBarrier();
}

// Dense products, one matrix (rows2 = rows3 = 0) or q, k and v in one dispatch (three matrices
// of one buffer, biases of one buffer, outputs (T, rows_m) in Y, Y2, Y3): the grid's x runs over
// the row tiles of q, then k, then v. As three dispatches, each waited for the one before, and k
// and v (512 rows for gpt-oss) filled a few dozen workgroups of a GPU with 132 cores. Matrix 0
// writes Y at y_offset, y_stride apart, with the residual modes.
@compute @workgroup_size(THREADS)
fn mm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let R = 8u * NX;
  let n0 = (P.rows + R - 1u) / R;
  let n1 = (P.rows2 + R - 1u) / R;
  let m = select(select(0u, 1u, wid.x >= n0), 2u, wid.x >= n0 + n1);
  let tile = wid.x - select(select(0u, n0, m == 1u), n0 + n1, m == 2u);
  let w = select(select(P.w_offset, P.w2_offset, m == 1u), P.w3_offset, m == 2u);
  let b = select(select(P.b_offset, P.b2_offset, m == 1u), P.b3_offset, m == 2u);
  ROWS = select(select(P.rows, P.rows2, m == 1u), P.rows3, m == 2u);
  let r0 = tile * R;
  let t0 = wid.y * BT;
  stage_tokens(t0, lid);
  let acc = tile_loop(w, 0u, r0, lid, false);
  let tx = lid % NX;
  let ty = lid / NX;
  for (var i = 0u; i < TM; i++) {
    let tok = t0 + TM * ty + i;
    if (tok >= P.tokens) { continue; }
    for (var q = 0u; q < 2u; q++) {
      let v4 = acc_at(acc, i, q);
      for (var j = 0u; j < 4u; j++) {
        let r = r0 + 4u * (q * NX + tx) + j;
        if (r >= ROWS) { continue; }
        var v = v4[j];
        if (P.has_bias != 0u) { v += B[b + r]; }
        let yo = tok * ROWS + r;
        if (m == 1u) {
          Y2[yo] = v;
        } else if (m == 2u) {
          Y3[yo] = v;
        } else {
          let y0 = P.y_offset + tok * P.y_stride + r;
          switch P.res_mode {
            case 1u: { Y[y0] = P.alpha * Y[y0] + P.beta * v; }
            case 2u: { Y[y0] = P.alpha * H[P.h_offset + tok * P.y_stride + r] + P.beta * v; }
            default: { Y[y0] = v; }
          }
        }
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
  for (var t = lid; t < BT; t += THREADS) {
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
    tile_info[0] = S[P.slot_offset + ORDER[PLAN[E + e]]];
    tile_info[1] = live;
  }
  workgroupBarrier();
  return true;
}

@compute @workgroup_size(THREADS)
fn grouped_gate_up(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ROWS = P.rows;
  let r0 = wid.x * 4u * NX;
  if (!stage_group(wid.y, lid, true)) { return; }
  let slot = tile_info[0];
  let acc = tile_loop(P.w_offset + slot, P.w2_offset + slot, r0, lid, true);
  let tx = lid % NX;
  let ty = lid / NX;
  for (var i = 0u; i < TM; i++) {
    let p = prob[TM * ty + i];
    if (p == NONE) { continue; }
    let g4 = acc_at(acc, i, 0u);
    let u4 = acc_at(acc, i, 1u);
    for (var j = 0u; j < 4u; j++) {
      let r = r0 + 4u * tx + j;
      if (r >= P.rows) { continue; }
      var g = g4[j];
      var u = u4[j];
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

@compute @workgroup_size(THREADS)
fn grouped_down(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ROWS = P.rows;
  let r0 = wid.x * 8u * NX;
  if (!stage_group(wid.y, lid, false)) { return; }
  let slot = tile_info[0];
  let acc = tile_loop(P.w_offset + slot, 0u, r0, lid, false);
  let tx = lid % NX;
  let ty = lid / NX;
  for (var i = 0u; i < TM; i++) {
    let p = prob[TM * ty + i];
    if (p == NONE) { continue; }
    for (var q = 0u; q < 2u; q++) {
      let v4 = acc_at(acc, i, q);
      for (var j = 0u; j < 4u; j++) {
        let r = r0 + 4u * (q * NX + tx) + j;
        if (r >= P.rows) { continue; }
        var v = v4[j];
        if (P.has_bias != 0u) { v += B[P.b_offset + slot + r]; }
        Y[P.y_offset + p * P.y_stride + r] = v;
      }
    }
  }
}
