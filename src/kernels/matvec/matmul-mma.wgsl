enable chromium_experimental_subgroup_matrix;

// matmul-mma: matmul-dp.wgsl's prefill products (same entry points, bindings, math and digit
// records) with the 32-column group products on subgroup matrices: one 16 x 16 x 32 i8 multiply
// (tensor cores where the driver maps VK_KHR_cooperative_matrix to them) gives a block of 16 rows
// times 16 tokens of one group, the i32 sums a_k of matmul-dp.wgsl's header:
//   D = 1: c = C0 X0               D = 2: c = 256 (C0 X0) + C0 X1   (|c| < 2^27)
// where C0 are the weight codes as signed bytes and X_k digit plane k of the tokens. Each group's
// blocks go through workgroup memory to be folded into f32 with the row and token scales (the
// scales change every 32 columns, so the sums cannot stay in the matrix across groups):
//   acc(r, t) += f32(c) sc_r s_t 2^(8 (3 - D))
//
// How it parallelizes: SG subgroups of 32 a workgroup, and the matrix operations need offsets
// uniform across the workgroup, so every subgroup multiplies all blocks (cheap: the tensor cores
// idle) and each folds its share (KS = 8 / SG elements of 8 a lane). A tile is R = 16 RB rows (RB
// row blocks; gate_up: R / 2 gate rows and the same up rows) by BT = 16 TB tokens. Per 32-column
// group: stage the weights (signed bytes in x-digits.wgsl's element order, 32 bytes a row; four
// threads a row) and the digit planes (32 bytes a token and plane; four threads each) in
// workgroup memory, two buffers; then per token block j: multiply its RB blocks, store them
// row-major (stride 24 words: fewer bank conflicts), barrier, lane l folds elements token l % 16,
// rows l / 16 + 2 k; one more barrier a group before its buffer is restaged.
// Layout facts of this Dawn on Vulkan (NVIDIA 580), checked by the device check (bench): matrix
// loads from i32 workgroup arrays take offsets and strides in i32 words; every workgroup array
// here is a multiple of 16 bytes long, as matrix loads lost bytes when one (8 bytes) was not.
//
// Entry points: mm (one matrix, or q, k, v in one dispatch), grouped_gate_up, grouped_down.
// Bindings and dispatch: as matmul-dp.wgsl with BT tokens and R rows a tile (gate_up: R / 2 of each).

override KIND: u32 = 3u; // 2 q8, 3 q4, 4 mxfp4
override D: u32 = 2u; // digit planes of x: 1 or 2
override BT: u32 = 64u; // tokens a tile: 16, 32 or 64
override TB: u32 = BT / 16u; // token blocks
override SG: u32 = 1u; // subgroups a workgroup: 1, 2 or 4
override THREADS: u32 = 32u * SG;
override KS: u32 = 8u / SG; // elements a lane folds of each block
override WQ: u32 = 4u * R / THREADS; // W tasks (row, quarter) a thread, at most 8
override XQ: u32 = (4u * D * BT + THREADS - 1u) / THREADS; // X tasks (plane, token, quarter) a thread, at most 16
override RB: u32 = 2u; // row blocks of 16: 2 or 4 (RB TB KS <= 64 accumulators)
override R: u32 = 16u * RB; // rows a tile
const SW: u32 = 8u; // words a staged row or token plane (32 i8)
const CS: u32 = 24u; // row stride of a stored block (words)
const CB: u32 = 16u * CS; // words a stored block

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

var<workgroup> wm: array<i32, 2u * R * SW>; // wm[(b R + row) SW + kw]: word kw of a tile row (buffer b)
var<workgroup> xm: array<i32, 2u * D * BT * SW>; // xm[((b D + d) BT + t) SW + kw]: plane d of token t
var<workgroup> cm: array<i32, 2u * RB * CB>; // cm[((j % 2) RB + i) CB + CS r + t]: block (i, j) sums
var<workgroup> wsc: array<f32, 2u * R>; // row scales sc
var<workgroup> xsc: array<f32, 2u * BT>; // token scales s 2^(8 (3 - D))
var<workgroup> xrow: array<u32, BT>; // first record (vec4 index) of each tile token's row, or NONE
var<workgroup> prob: array<u32, BT>;
var<workgroup> tile_info: array<u32, 4>; // [0]: the expert's slot (grouped); 16 bytes, see the header

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

struct WRow { m: u32, r: u32 }

fn w_row(rr: u32, mat: u32, mat2: u32, r0: u32, dual: bool) -> WRow {
  let second = dual && rr >= R / 2u;
  return WRow(select(mat, mat2, second), min(r0 + select(rr, rr - R / 2u, second), ROWS - 1u));
}

// W task t: tile row t / 4, quarter J = t % 4 of its group: raw words (q4 / mxfp4: word J; q8:
// words 2 J and 2 J + 1) and, for J = 0, the group's scale bits (E8M0 byte or f16).
fn fetch_w(t: u32, mat: u32, mat2: u32, r0: u32, g: u32, dual: bool) -> vec3<u32> {
  let wr = w_row(t / 4u, mat, mat2, r0, dual);
  let J = t % 4u;
  let G = P.cols / 32u;
  let i = wr.r * G + g;
  let base = wr.m + i * wpg();
  var o = vec3<u32>(0u);
  if (KIND == 2u) {
    o.x = W[base + 2u * J];
    o.y = W[base + 2u * J + 1u];
  } else {
    o.x = W[base + J];
  }
  if (J == 0u) {
    let sw = W[wr.m + ROWS * G * wpg() + select(i / 2u, i / 4u, KIND == 4u)];
    o.z = select((sw >> (16u * (i & 1u))) & 0xffffu, (sw >> (8u * (i & 3u))) & 0xffu, KIND == 4u);
  }
  return o;
}

// The task's two staged words (elements 8 J + {0, 2, 4, 6} and 8 J + {1, 3, 5, 7} as signed bytes)
// and, for J = 0, the row's scale.
fn put_w(t: u32, o: vec3<u32>, b: u32) {
  let rr = t / 4u;
  let J = t % 4u;
  var ev = 0u;
  var od = 0u;
  if (KIND == 2u) {
    ev = gather2(o.x, o.y);
    od = gather2(o.x >> 8u, o.y >> 8u);
  } else {
    ev = nibbles(o.x & 0x0f0f0f0fu);
    od = nibbles((o.x >> 4u) & 0x0f0f0f0fu);
  }
  let base = (b * R + rr) * SW;
  wm[base + J] = bitcast<i32>(ev);
  wm[base + 4u + J] = bitcast<i32>(od);
  if (J == 0u) { wsc[b * R + rr] = select(unpack2x16float(o.z).x, bitcast<f32>(min(o.z, 254u) << 23u) * 0.5, KIND == 4u); }
}

// X task t: quarter c = t % 4 of plane d = t / (4 BT) of token (t / 4) % BT: word c of the
// plane's even and of its odd half.
fn fetch_x(t: u32, g: u32) -> vec2<u32> {
  let xr = xrow[(t / 4u) % BT];
  if (xr == NONE) { return vec2<u32>(0u); }
  let at = xr + g * 7u + 2u * (t / (4u * BT));
  let c = t % 4u;
  return vec2<u32>(XD[at][c], XD[at + 1u][c]);
}

fn put_x(t: u32, v: vec2<u32>, b: u32) {
  let base = ((b * D + t / (4u * BT)) * BT + (t / 4u) % BT) * SW + t % 4u;
  xm[base] = bitcast<i32>(v.x);
  xm[base + 4u] = bitcast<i32>(v.y);
}

fn fetch_xs(t: u32, g: u32) -> f32 {
  let xr = xrow[t];
  if (xr == NONE) { return 0.0; }
  return bitcast<f32>(XD[xr + g * 7u + 6u].x) * select(65536.0, 256.0, D == 2u);
}

// One group's loads, held in registers until the group before is folded.
struct Pref { w: array<vec3<u32>, 8>, x: array<vec2<u32>, 16>, s: array<f32, 2> }

fn fetch(mat: u32, mat2: u32, r0: u32, g: u32, lid: u32, dual: bool) -> Pref {
  var p: Pref;
  for (var q = 0u; q < WQ; q++) { p.w[q] = fetch_w(lid + q * THREADS, mat, mat2, r0, g, dual); }
  for (var q = 0u; q < XQ; q++) {
    if (lid + q * THREADS < 4u * D * BT) { p.x[q] = fetch_x(lid + q * THREADS, g); }
  }
  for (var q = 0u; q < 2u; q++) {
    if (lid + q * THREADS < BT) { p.s[q] = fetch_xs(lid + q * THREADS, g); }
  }
  return p;
}

fn put(p: Pref, lid: u32, b: u32) {
  for (var q = 0u; q < WQ; q++) { put_w(lid + q * THREADS, p.w[q], b); }
  for (var q = 0u; q < XQ; q++) {
    if (lid + q * THREADS < 4u * D * BT) { put_x(lid + q * THREADS, p.x[q], b); }
  }
  for (var q = 0u; q < 2u; q++) {
    if (lid + q * THREADS < BT) { xsc[b * BT + lid + q * THREADS] = p.s[q]; }
  }
}

// Row block i times token block j of buffer b, one group: the i32 sums into cm, row-major.
fn block_sums(b: u32, i: u32, j: u32) {
  let wa = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>(&wm, (b * R + 16u * i) * SW, SW);
  let xo = (b * D * BT + 16u * j) * SW;
  var c = subgroupMatrixMultiplyAccumulate(wa, subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&xm, xo, SW), subgroup_matrix_result<i32, 16, 16>());
  if (D == 2u) {
    let x1 = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&xm, xo + BT * SW, SW);
    c = subgroupMatrixMultiplyAccumulate(wa, x1, subgroupMatrixScalarMultiply(c, 256));
  }
  subgroupMatrixStore<row_major>(&cm, ((j % 2u) * RB + i) * CB, c, CS);
}

// Accumulators of a lane: [(i TB + j) KS + k] = row block i (gate_up: i < RB / 2 gate, the rest up), token block
// j: token 16 j + l % 16, row 16 i + l / 16 + 2 (k0 + k) (l = lane, k0 = KS subgroup).
struct Acc { v: array<f32, 64> }

// Token block j of buffer b: multiply its row blocks, then fold their sums into acc.
fn fold_block(acc: ptr<function, Acc>, sc: ptr<function, array<f32, 32>>, b: u32, j: u32, lid: u32) {
  block_sums(b, 0u, j);
  block_sums(b, 1u, j);
  if (RB > 2u) {
    block_sums(b, 2u, j);
    block_sums(b, 3u, j);
  }
  workgroupBarrier();
  let l = lid % 32u;
  let k0 = (lid / 32u) * KS;
  let sx = xsc[b * BT + 16u * j + l % 16u];
  for (var i = 0u; i < RB; i++) {
    let cb = ((j % 2u) * RB + i) * CB + l % 16u;
    for (var k = 0u; k < KS; k++) {
      let c = cm[cb + CS * (l / 16u + 2u * (k0 + k))];
      let a = (i * TB + j) * KS + k;
      (*acc).v[a] = fma(to_f32(c), (*sc)[i * KS + k] * sx, (*acc).v[a]);
    }
  }
}

// A block sum as f32: for one plane (|c| < 2^22) the integer added to the bits of 1.5 2^23 (no
// conversion instruction; matmul-dp.wgsl's to_f32), for two a conversion.
fn to_f32(c: i32) -> f32 {
  if (D == 1u) { return bitcast<f32>(c + 0x4B400000) - 12582912.0; }
  return f32(c);
}

fn tile_loop(mat: u32, mat2: u32, r0: u32, lid: u32, dual: bool) -> Acc {
  var acc: Acc;
  let G = P.cols / 32u;
  put(fetch(mat, mat2, r0, 0u, lid, dual), lid, 0u);
  workgroupBarrier();
  for (var g = 0u; g < G; g++) {
    let b = g % 2u;
    let more = g + 1u < G;
    var pre: Pref;
    if (more) { pre = fetch(mat, mat2, r0, g + 1u, lid, dual); }
    // token blocks written out: a loop holding barriers may stay a loop, and accumulators indexed
    // by it would leave registers
    // the row scales of the lane's rows this group (one load each, not one per token block)
    var sc: array<f32, 32>;
    for (var i = 0u; i < RB; i++) {
      for (var k = 0u; k < KS; k++) { sc[i * KS + k] = wsc[b * R + acc_row(lid, i, k)]; }
    }
    fold_block(&acc, &sc, b, 0u, lid);
    if (TB > 1u) { fold_block(&acc, &sc, b, 1u, lid); }
    if (TB > 2u) { fold_block(&acc, &sc, b, 2u, lid); }
    if (TB > 3u) { fold_block(&acc, &sc, b, 3u, lid); }
    if (more) { put(pre, lid, 1u - b); }
    workgroupBarrier();
  }
  return acc;
}

// Tile row and token of a lane's accumulator (i, j, k) (see Acc).
fn acc_row(lid: u32, i: u32, k: u32) -> u32 {
  return 16u * i + (lid % 32u) / 16u + 2u * ((lid / 32u) * KS + k);
}

fn acc_tok(lid: u32, j: u32) -> u32 {
  return 16u * j + lid % 16u;
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
  workgroupBarrier();
}

// Dense products, one matrix (rows2 = rows3 = 0) or q, k and v in one dispatch (matmul-tiled.wgsl's mm).
@compute @workgroup_size(THREADS)
fn mm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n0 = (P.rows + R - 1u) / R;
  let n1 = (P.rows2 + R - 1u) / R;
  let m = select(select(0u, 1u, wid.x >= n0), 2u, wid.x >= n0 + n1);
  let tile = wid.x - select(select(0u, n0, m == 1u), n0 + n1, m == 2u);
  let wo = select(select(P.w_offset, P.w2_offset, m == 1u), P.w3_offset, m == 2u);
  let bo = select(select(P.b_offset, P.b2_offset, m == 1u), P.b3_offset, m == 2u);
  ROWS = select(select(P.rows, P.rows2, m == 1u), P.rows3, m == 2u);
  let r0 = tile * R;
  let t0 = wid.y * BT;
  stage_tokens(t0, lid);
  let acc = tile_loop(wo, 0u, r0, lid, false);
  for (var j = 0u; j < TB; j++) {
    let tok = t0 + acc_tok(lid, j);
    if (tok >= P.tokens) { continue; }
    for (var i = 0u; i < RB; i++) {
      for (var k = 0u; k < KS; k++) {
        let r = r0 + acc_row(lid, i, k);
        if (r >= ROWS) { continue; }
        var v = acc.v[(i * TB + j) * KS + k];
        if (P.has_bias != 0u) { v += B[bo + r]; }
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
  if (lid == 0u) { tile_info[0] = S[P.slot_offset + ORDER[PLAN[E + e]]]; }
  workgroupBarrier();
  return true;
}

@compute @workgroup_size(THREADS)
fn grouped_gate_up(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ROWS = P.rows;
  let r0 = wid.x * (R / 2u);
  if (!stage_group(wid.y, lid, true)) { return; }
  let slot = tile_info[0];
  let acc = tile_loop(P.w_offset + slot, P.w2_offset + slot, r0, lid, true);
  for (var j = 0u; j < TB; j++) {
    let p = prob[acc_tok(lid, j)];
    if (p == NONE) { continue; }
    for (var n = 0u; n < RB / 2u * KS; n++) {
      let i = n / KS;
      let k = n % KS;
      let r = r0 + acc_row(lid, i, k);
      if (r >= P.rows) { continue; }
      var g = acc.v[(i * TB + j) * KS + k];
      var u = acc.v[((i + RB / 2u) * TB + j) * KS + k];
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
  let r0 = wid.x * R;
  if (!stage_group(wid.y, lid, false)) { return; }
  let slot = tile_info[0];
  let acc = tile_loop(P.w_offset + slot, 0u, r0, lid, false);
  for (var j = 0u; j < TB; j++) {
    let p = prob[acc_tok(lid, j)];
    if (p == NONE) { continue; }
    for (var i = 0u; i < RB; i++) {
      for (var k = 0u; k < KS; k++) {
        let r = r0 + acc_row(lid, i, k);
        if (r >= P.rows) { continue; }
        var v = acc.v[(i * TB + j) * KS + k];
        if (P.has_bias != 0u) { v += B[P.b_offset + slot + r]; }
        Y[P.y_offset + p * P.y_stride + r] = v;
      }
    }
  }
}
