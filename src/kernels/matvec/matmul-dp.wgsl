// matmul-dp: the prefill products of matmul-tiled.wgsl (same entry points, bindings and epilogues)
// for integer-coded weights (q8, q4, mxfp4) through packed integer dot products: dot4I8Packed does
// four 8-bit products and their sum in one instruction, issued at the f32 FMA's rate on NVIDIA, so
// a 32-column group of one (token, row) pair costs 8 D instructions instead of 32 FMAs.
//
// Math, per token t, row r and 32-column group g:
//   w_i = sc c_i       c_i a signed 8-bit code: q8 as stored, q4 its code - 8, mxfp4 twice its
//                      E2M1 value (0, ±1, ±2, ±3, ±4, ±6, ±8, ±12; sc = half the E8M0 scale)
//   x_i ~ s (2^16 d0_i + 2^8 d1_i)    the first D digit planes of x-digits.wgsl's record
//   sum_i w_i x_i ~ sc s 2^(8 (3 - D)) sum_k 2^(8 (D - 1 - k)) a_k,   a_k = sum_i c_i dk_i (i32)
// D = 2 keeps x to 2^-16 of its group's largest value (finer than f16 activations), D = 1 to 2^-8
// (8-bit activations). The a_k of a group are exact integers; the f32 sum over groups rounds as
// an f32 dot would.
//
// How it parallelizes: workgroup NX x NY threads; thread (tx, ty) owns SL (4 or 8) slots — TM =
// SL / D tokens TM ty .. TM ty + TM - 1 times their D digit planes — and row quads tx and NX + tx
// (so BT = TM NY tokens and 8 NX rows a tile, or 4 NX of gate and of up). Per group the tile's
// digit words and the weights, turned into signed bytes in the x record's element order, are
// staged in workgroup memory (two buffers: the next group's loads are issued before this group's
// products and stored after them, one barrier a group); then for each of the 8 words of the group
// a thread reads 2 + SL / 4 vec4 and does 8 SL dot products into 2 SL i32 accumulators, folded
// into f32 with the scales at the group's end.
//   Element order (x-digits.wgsl): word kw < 4 holds elements 8 kw + {0, 2, 4, 6}, word 4 + j
//   elements 8 j + {1, 3, 5, 7} — a q4 / mxfp4 word's low and high nibbles; q8 bytes are regrouped.
//
// Entry points: mm (also q, k, v in one dispatch), grouped_gate_up, grouped_down.
// Bindings: as matmul-tiled.wgsl, except 2 XD: digit records (x-digits.wgsl, 7 vec4 per row and
//   group) of the x rows: tokens (mm, gate_up: problem p reads row p / k_experts) or
//   problems (down). x_offset / x_stride are unused (the records are packed rows).
// Dispatch: as matmul-tiled.wgsl with BT = TM NY and R = 8 NX.

override KIND: u32 = 3u; // 2 q8, 3 q4, 4 mxfp4
override NX: u32 = 16u; // threads along rows
override NY: u32 = 16u; // threads along tokens
override D: u32 = 2u; // digit planes of x: 1 or 2
override SL: u32 = 4u; // slots (token, digit plane) per thread: 4 or 8
override TM: u32 = SL / D; // tokens per thread
override XV: u32 = SL / 4u; // vec4 of slots per thread
override BT: u32 = TM * NY;
override QS: u32 = 2u * NX; // row quads per tile
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
@group(0) @binding(2) var<storage, read> XD: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read> H: array<f32>;
@group(0) @binding(6) var<storage, read> PLAN: array<u32>;
@group(0) @binding(7) var<storage, read> ORDER: array<u32>;
@group(0) @binding(8) var<storage, read> S: array<u32>;
@group(0) @binding(9) var<storage, read_write> Y2: array<f32>;
@group(0) @binding(10) var<storage, read_write> Y3: array<f32>;

var<private> ROWS: u32;

// Two buffers of each (b = group parity): the next group is staged while this one computes.
var<workgroup> xs: array<vec4<u32>, 16u * NY * XV>; // xs[((b 8 + kw) NY + ty) XV + k / 4][k % 4]: word kw of slot k = D i + d (token TM ty + i, digit d)
var<workgroup> xsc: array<vec4<f32>, 4u * NY>; // xsc[(b NY + ty) 2 + i / 4][i % 4]: scale s 2^(8 (3 - D)) of token TM ty + i
var<workgroup> ws: array<vec4<u32>, 16u * QS>; // ws[b 8 QS + kw QS + q][j] = row 4 q + j, word kw (signed bytes)
var<workgroup> wsc: array<vec4<f32>, 2u * QS>; // wsc[b QS + q][j]: row scales
var<workgroup> xrow: array<u32, BT>; // first record (vec4 index) of each tile token's row, or NONE
var<workgroup> prob: array<u32, BT>;
var<workgroup> tile_info: array<u32, 2>; // expert slot (grouped), live tokens

const NONE: u32 = 0xffffffffu;

fn wpg() -> u32 {
  return select(4u, 8u, KIND == 2u);
}

// Four 4-bit codes (one per byte) as signed bytes: q4 c - 8, mxfp4 twice the E2M1 value.
fn nibbles(b: u32) -> u32 {
  if (KIND == 3u) { return ((b | 0x80808080u) - 0x08080808u) ^ 0x80808080u; }
  let m = b & 0x07070707u;
  let one = 0x01010101u;
  let g5 = ((m + 0x03030303u) >> 3u) & one;
  let g6 = ((m + 0x02020202u) >> 3u) & one;
  let g7 = ((m + one) >> 3u) & one;
  let v = m + g5 + g6 + 3u * g7; // 0 1 2 3 4 6 8 12
  let neg = (b >> 3u) & one & (((v + 0x7f7f7f7fu) >> 7u) & one); // sign set and v != 0
  return (v ^ (neg * 0xffu)) + neg;
}

// q8: bytes 0 and 2 (even) / 1 and 3 (odd) of words a, b -> elements 8 J + {0, 2, 4, 6} / {1, 3, 5, 7}.
fn gather2(a: u32, b: u32) -> u32 {
  let ea = a & 0x00ff00ffu;
  let eb = b & 0x00ff00ffu;
  return ((ea | (ea >> 8u)) & 0xffffu) | ((eb | (eb >> 8u)) << 16u);
}

// A W task: row rr (< 8 NX) of the tile, one group: its words (q8: u0 and u1) and its scale word.
struct WRaw { u0: vec4<u32>, u1: vec4<u32>, s: u32 }

struct WRow { m: u32, r: u32 }

fn w_row(rr: u32, mat: u32, mat2: u32, r0: u32, dual: bool) -> WRow {
  let q = rr / 4u;
  let second = dual && q >= NX;
  return WRow(select(mat, mat2, second), min(r0 + select(rr, 4u * (q - NX) + rr % 4u, second), ROWS - 1u));
}

fn fetch_w(t: WRow, g: u32) -> WRaw {
  let G = P.cols / 32u;
  let base = t.m + (t.r * G + g) * wpg();
  var o: WRaw;
  o.u0 = vec4<u32>(W[base], W[base + 1u], W[base + 2u], W[base + 3u]);
  if (KIND == 2u) { o.u1 = vec4<u32>(W[base + 4u], W[base + 5u], W[base + 6u], W[base + 7u]); }
  let i = t.r * G + g;
  o.s = W[t.m + ROWS * G * wpg() + select(i / 2u, i / 4u, KIND == 4u)];
  return o;
}

fn put_w(rr: u32, t: WRow, o: WRaw, g: u32, b: u32) {
  let q = rr / 4u;
  let j = rr % 4u;
  let wb = b * 8u * QS;
  for (var J = 0u; J < 4u; J++) {
    var ev = 0u;
    var od = 0u;
    if (KIND == 2u) {
      let lo = select(o.u0, o.u1, J >= 2u);
      let a = lo[(2u * J) % 4u];
      let c = lo[(2u * J + 1u) % 4u];
      ev = gather2(a, c);
      od = gather2(a >> 8u, c >> 8u);
    } else {
      ev = nibbles(o.u0[J] & 0x0f0f0f0fu);
      od = nibbles((o.u0[J] >> 4u) & 0x0f0f0f0fu);
    }
    ws[wb + J * QS + q][j] = ev;
    ws[wb + (4u + J) * QS + q][j] = od;
  }
  let i = t.r * (P.cols / 32u) + g;
  var sc = 0.0;
  if (KIND == 4u) {
    sc = bitcast<f32>(min((o.s >> (8u * (i & 3u))) & 0xffu, 254u) << 23u) * 0.5;
  } else {
    let h = unpack2x16float(o.s);
    sc = select(h.x, h.y, (i & 1u) == 1u);
  }
  wsc[b * QS + q][j] = sc;
}

// An X task: digit plane d (< D), parity par of token t: four words (kw = 4 par + 0..3).
fn fetch_x(task: u32, g: u32) -> vec4<u32> {
  let xr = xrow[task % BT];
  let dp = task / BT;
  if (xr == NONE) { return vec4<u32>(0u); }
  return XD[xr + g * 7u + 2u * (dp / 2u) + dp % 2u];
}

fn put_x(task: u32, v: vec4<u32>, b: u32) {
  let t = task % BT;
  let dp = task / BT;
  let slot = D * (t % TM) + dp / 2u;
  for (var c = 0u; c < 4u; c++) { xs[((b * 8u + 4u * (dp % 2u) + c) * NY + t / TM) * XV + slot / 4u][slot % 4u] = v[c]; }
}

fn fetch_xs(t: u32, g: u32) -> f32 {
  let xr = xrow[t];
  if (xr == NONE) { return 0.0; }
  return bitcast<f32>(XD[xr + g * 7u + 6u].x) * select(65536.0, 256.0, D == 2u);
}

// One group's loads, held in registers: at most two W rows and two X tasks per thread (NX >= 2 SL:
// 8 NX <= 2 THREADS rows, 2 SL NY <= 2 THREADS x tasks, BT <= THREADS scales).
struct Pref { w0: WRaw, w1: WRaw, x0: vec4<u32>, x1: vec4<u32>, s: f32 }

fn fetch(mat: u32, mat2: u32, r0: u32, g: u32, lid: u32, dual: bool) -> Pref {
  var p: Pref;
  if (lid < 8u * NX) { p.w0 = fetch_w(w_row(lid, mat, mat2, r0, dual), g); }
  if (lid + THREADS < 8u * NX) { p.w1 = fetch_w(w_row(lid + THREADS, mat, mat2, r0, dual), g); }
  if (lid < 2u * D * BT) { p.x0 = fetch_x(lid, g); }
  if (lid + THREADS < 2u * D * BT) { p.x1 = fetch_x(lid + THREADS, g); }
  if (lid < BT) { p.s = fetch_xs(lid, g); }
  return p;
}

fn put(p: Pref, mat: u32, mat2: u32, r0: u32, g: u32, lid: u32, dual: bool, b: u32) {
  if (lid < 8u * NX) { put_w(lid, w_row(lid, mat, mat2, r0, dual), p.w0, g, b); }
  if (lid + THREADS < 8u * NX) { put_w(lid + THREADS, w_row(lid + THREADS, mat, mat2, r0, dual), p.w1, g, b); }
  if (lid < 2u * D * BT) { put_x(lid, p.x0, b); }
  if (lid + THREADS < 2u * D * BT) { put_x(lid + THREADS, p.x1, b); }
  if (lid < BT) { xsc[(b * NY + lid / TM) * 2u + (lid % TM) / 4u][lid % TM % 4u] = p.s; }
}

fn dp4(w: vec4<u32>, x: u32) -> vec4<i32> {
  return vec4<i32>(dot4I8Packed(w.x, x), dot4I8Packed(w.y, x), dot4I8Packed(w.z, x), dot4I8Packed(w.w, x));
}

// f32 accumulators: token i (< TM) of the thread, quad 0 in a_i / c_(i-4), quad 1 in b_i / d_(i-4).
struct Acc {
  a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>,
  b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>,
  c0: vec4<f32>, c1: vec4<f32>, c2: vec4<f32>, c3: vec4<f32>,
  d0: vec4<f32>, d1: vec4<f32>, d2: vec4<f32>, d3: vec4<f32>,
}

// i32 accumulators of one group: slot k (token k / D, digit k % D) in a_k / e_(k-4) (quad 0),
// b_k / f_(k-4) (quad 1).
struct IAcc {
  a0: vec4<i32>, a1: vec4<i32>, a2: vec4<i32>, a3: vec4<i32>,
  b0: vec4<i32>, b1: vec4<i32>, b2: vec4<i32>, b3: vec4<i32>,
  e0: vec4<i32>, e1: vec4<i32>, e2: vec4<i32>, e3: vec4<i32>,
  f0: vec4<i32>, f1: vec4<i32>, f2: vec4<i32>, f3: vec4<i32>,
}

fn pick(v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>, i: u32) -> vec4<f32> {
  return select(select(select(v0, v1, i == 1u), v2, i == 2u), v3, i == 3u);
}

fn acc_at(acc: Acc, i: u32, q: u32) -> vec4<f32> {
  let k = i & 3u;
  if (q == 0u) { return select(pick(acc.c0, acc.c1, acc.c2, acc.c3, k), pick(acc.a0, acc.a1, acc.a2, acc.a3, k), i < 4u); }
  return select(pick(acc.d0, acc.d1, acc.d2, acc.d3, k), pick(acc.b0, acc.b1, acc.b2, acc.b3, k), i < 4u);
}

// acc + (256 hi + lo) s: a token's two digit planes folded.
fn fold2(acc: vec4<f32>, hi: vec4<i32>, lo: vec4<i32>, s: vec4<f32>) -> vec4<f32> {
  return acc + (to_f32(hi) * 256.0 + to_f32(lo)) * s;
}

// |v| < 2^22 as f32 without a conversion instruction (those issue at a fraction of the FMA rate):
// the integer added to the bits of 1.5 2^23. A group's sums stay below 32 128 128 = 2^19.
fn to_f32(v: vec4<i32>) -> vec4<f32> {
  return bitcast<vec4<f32>>(v + vec4<i32>(0x4B400000)) - vec4<f32>(12582912.0);
}

// The group loop: one barrier a group (the group after next is written to the buffer this group
// was read from only once every thread has passed the barrier that ends this group).
fn tile_loop(mat: u32, mat2: u32, r0: u32, lid: u32, dual: bool) -> Acc {
  let tx = lid % NX;
  let ty = lid / NX;
  let z = vec4<f32>(0.0);
  var acc = Acc(z, z, z, z, z, z, z, z, z, z, z, z, z, z, z, z);
  let G = P.cols / 32u;
  let busy = TM * ty < tile_info[1];
  put(fetch(mat, mat2, r0, 0u, lid, dual), mat, mat2, r0, 0u, lid, dual, 0u);
  workgroupBarrier();
  for (var g = 0u; g < G; g++) {
    let b = g % 2u;
    let more = g + 1u < G;
    var pre: Pref;
    if (more) { pre = fetch(mat, mat2, r0, g + 1u, lid, dual); }
    if (busy) {
      let zi = vec4<i32>(0);
      var ia = IAcc(zi, zi, zi, zi, zi, zi, zi, zi, zi, zi, zi, zi, zi, zi, zi, zi);
      for (var kw = 0u; kw < 8u; kw++) {
        let w0 = ws[b * 8u * QS + kw * QS + tx];
        let w1 = ws[b * 8u * QS + kw * QS + NX + tx];
        let xi = ((b * 8u + kw) * NY + ty) * XV;
        let x = xs[xi];
        ia.a0 += dp4(w0, x.x);
        ia.a1 += dp4(w0, x.y);
        ia.a2 += dp4(w0, x.z);
        ia.a3 += dp4(w0, x.w);
        ia.b0 += dp4(w1, x.x);
        ia.b1 += dp4(w1, x.y);
        ia.b2 += dp4(w1, x.z);
        ia.b3 += dp4(w1, x.w);
        if (SL == 8u) {
          let y = xs[xi + 1u];
          ia.e0 += dp4(w0, y.x);
          ia.e1 += dp4(w0, y.y);
          ia.e2 += dp4(w0, y.z);
          ia.e3 += dp4(w0, y.w);
          ia.f0 += dp4(w1, y.x);
          ia.f1 += dp4(w1, y.y);
          ia.f2 += dp4(w1, y.z);
          ia.f3 += dp4(w1, y.w);
        }
      }
      let s0 = wsc[b * QS + tx];
      let s1 = wsc[b * QS + NX + tx];
      let sx = xsc[(b * NY + ty) * 2u];
      let sy = xsc[(b * NY + ty) * 2u + 1u];
      if (D == 2u) {
        acc.a0 = fold2(acc.a0, ia.a0, ia.a1, s0 * sx.x);
        acc.a1 = fold2(acc.a1, ia.a2, ia.a3, s0 * sx.y);
        acc.b0 = fold2(acc.b0, ia.b0, ia.b1, s1 * sx.x);
        acc.b1 = fold2(acc.b1, ia.b2, ia.b3, s1 * sx.y);
        if (SL == 8u) {
          acc.a2 = fold2(acc.a2, ia.e0, ia.e1, s0 * sx.z);
          acc.a3 = fold2(acc.a3, ia.e2, ia.e3, s0 * sx.w);
          acc.b2 = fold2(acc.b2, ia.f0, ia.f1, s1 * sx.z);
          acc.b3 = fold2(acc.b3, ia.f2, ia.f3, s1 * sx.w);
        }
      } else {
        acc.a0 += to_f32(ia.a0) * (s0 * sx.x);
        acc.a1 += to_f32(ia.a1) * (s0 * sx.y);
        acc.a2 += to_f32(ia.a2) * (s0 * sx.z);
        acc.a3 += to_f32(ia.a3) * (s0 * sx.w);
        acc.b0 += to_f32(ia.b0) * (s1 * sx.x);
        acc.b1 += to_f32(ia.b1) * (s1 * sx.y);
        acc.b2 += to_f32(ia.b2) * (s1 * sx.z);
        acc.b3 += to_f32(ia.b3) * (s1 * sx.w);
        if (SL == 8u) {
          acc.c0 += to_f32(ia.e0) * (s0 * sy.x);
          acc.c1 += to_f32(ia.e1) * (s0 * sy.y);
          acc.c2 += to_f32(ia.e2) * (s0 * sy.z);
          acc.c3 += to_f32(ia.e3) * (s0 * sy.w);
          acc.d0 += to_f32(ia.f0) * (s1 * sy.x);
          acc.d1 += to_f32(ia.f1) * (s1 * sy.y);
          acc.d2 += to_f32(ia.f2) * (s1 * sy.z);
          acc.d3 += to_f32(ia.f3) * (s1 * sy.w);
        }
      }
    }
    if (more) { put(pre, mat, mat2, r0, g + 1u, lid, dual, 1u - b); }
    workgroupBarrier();
  }
  return acc;
}

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

fn stage_tokens(t0: u32, lid: u32) {
  let G = P.cols / 32u;
  for (var t = lid; t < BT; t += THREADS) {
    let tok = t0 + t;
    xrow[t] = select(NONE, tok * G * 7u, tok < P.tokens);
  }
  if (lid == 0u) { tile_info[1] = min(BT, P.tokens - t0); }
  workgroupBarrier();
}

// Dense products, one matrix (rows2 = rows3 = 0) or q, k and v in one dispatch: matmul-tiled.wgsl's
// mm (its header), with this file's tile loop.
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

fn stage_group(tile: u32, lid: u32, x_of_token: bool) -> bool {
  let E = P.experts;
  if (tile >= PLAN[2u * E + 1u]) { return false; }
  let entry = PLAN[2u * E + 2u + tile];
  let e = entry & 0xffffu;
  let j = entry >> 16u;
  let first = PLAN[E + e] + j * BT;
  let live = min(BT, PLAN[e] - j * BT);
  let G = P.cols / 32u;
  for (var t = lid; t < BT; t += THREADS) {
    if (t < live) {
      let p = ORDER[first + t];
      prob[t] = p;
      xrow[t] = select(p, p / P.k_experts, x_of_token) * G * 7u;
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
