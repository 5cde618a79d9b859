enable f16;
enable chromium_experimental_subgroup_matrix;

// matmul-hmma: matmul-tiled.wgsl's prefill products (same entry points, bindings and epilogues;
// x from x-half.wgsl's f16 copy) on f16 subgroup matrices: Y (tokens, rows) = X (tokens, cols) W^T
// with the q8 / q4 / mxfp4 weights dequantized into f16 (w = code * scale, rounded once) and x
// rounded to f16, the products summed in f32 inside the matrices across all columns (16 x 16 x 16
// f16 multiplies into f32 results: tensor cores where the driver maps VK_KHR_cooperative_matrix
// to them).
//   acc(t, r) = sum over k of f16(x[t, k]) f16(w[r, k])     (f32 sums)
// Unlike matmul-mma.wgsl's i8 products, the group scales are folded into the weights before the
// multiply, so the sums stay in the matrices from the first column to the last and leave them
// once per tile: no per-group round trip through workgroup memory.
// Precision: x and w to 11 significant bits (|rel| <= 2^-11 each); x-half.wgsl saturates |x|
// above 65504 (the inputs here are normed hidden states and expert activations).
//
// How it parallelizes: ONE subgroup of 32 a workgroup, occupancy from many small workgroups a
// core (the matrix operations take offsets uniform across the workgroup; with that check turned
// off, subgroups sharing a workgroup's staged weights measured slower, see below). A tile is
// R = 16 RB rows (gate_up: R / 2 gate rows and the same up rows) by BT = 16 TB tokens, RB TB
// result matrices. Per
// 32-column group (one quant group): the lanes stage the tile's weights (four tasks a row: a word
// of q4 / mxfp4 codes, two of q8, times the group scale) as f16 in workgroup memory, row-major
// with rows KP = 40 halves apart (80 bytes: the eight row addresses of a 16 x 16 load fall in
// distinct 16-byte bank groups), eight halves a task in two vec4<f16> stores (the matrix loads
// take arrays of vectors, offsets and strides counted in vectors; with eight f16 stores a task
// the grouped products were 1.1-1.4x slower); two buffers, the next group's words prefetched into
// registers while this group multiplies; then two k steps of 16, each RB right loads (weights)
// from workgroup memory, TB left loads (tokens, row-major) straight from the f16 copy of x
// (the next step's issued before this step's multiplies), and RB TB multiplies. x-half.wgsl
// writes the copy in 16 x 16 blocks, so a token matrix is 512 contiguous bytes at a constant
// stride (1.4-1.7x faster than loading it across whole rows), the tile's tokens as consecutive
// blocks: mm's tokens as they are, the grouped products' problems tile by tile of the plan (tile
// i at rows i BT ..) — offsets uniform across the workgroup, as the matrix loads need. These
// loads are the loop's largest cost (a knock-out probe at gpt-oss gate_up's grid: multiplies
// alone 236 us, with the token loads 1796, with the weight loads from workgroup memory instead
// 511): the copy is read once a row tile, R rows.
// Measured slower on the H100 and not kept: the token matrices loaded two steps ahead (3-4x
// slower: registers), two quant groups staged between barriers, x staged through workgroup
// memory (from f32, or from the f16 copy with 16-byte loads and f16 stores: 1.7x slower; with
// vec4<f16> stores: gpt-oss's grouped products 1.3-1.4x slower, Qwen3's equal), the
// weights dequantized in packed f16 math (no change), 4 x 4 result matrices a tile (1.6x slower
// in whole prefills), several subgroups a workgroup sharing the staged weights (the matrix
// offsets then differ between subgroups: `diagnostic(off, chromium.subgroup_matrix_uniformity)`
// and `subgroup_id`; 2 to 4 subgroups along tokens or rows 1.0-1.5x slower, with the token
// matrices shared through workgroup memory 1.3-1.5x slower).
// Epilogue: each result block (gate_up: a gate block and its up block) is stored to workgroup
// memory and the lanes write its 256 values with bias, residual or activation.
//
// Products (override MODE, one entry point main): 0 mm (one matrix, or q, k, v in one dispatch),
// 1 grouped_gate_up, 2 grouped_down — matmul-tiled.wgsl's entry points.
// Bindings: as matmul-tiled.wgsl but 2: XH, the f16 copy of x in x-half.wgsl's blocks (whole
// tiles; the grouped products' copy has a tile of rows for each of the grid's tiles).
// Dispatch: as matmul-tiled.wgsl with R rows (gate_up: R / 2 of each) and BT tokens a tile.

override MODE: u32 = 0u; // 0 mm, 1 grouped_gate_up, 2 grouped_down
override KIND: u32 = 3u; // 2 q8, 3 q4, 4 mxfp4
override F16BITS: bool = false; // mxfp4: codes to f16 as bit patterns (the adapter keeps f16 subnormals)
override RB: u32 = 4u; // row blocks of 16 a tile: 2 or 4
override TB: u32 = 2u; // token blocks of 16 a tile: 1, 2 or 4 (RB TB <= 8)
override R: u32 = 16u * RB;
override BT: u32 = 16u * TB;
override WQ: u32 = R / 8u; // W tasks (row, quarter) a lane
const KP: u32 = 40u; // halves between staged rows
const CS: u32 = 16u; // floats between rows of a stored result block

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
@group(0) @binding(2) var<storage, read> XH: array<f16>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read> H: array<f32>;
@group(0) @binding(6) var<storage, read> PLAN: array<u32>;
@group(0) @binding(7) var<storage, read> ORDER: array<u32>;
@group(0) @binding(8) var<storage, read> S: array<u32>;
@group(0) @binding(9) var<storage, read_write> Y2: array<f32>;
@group(0) @binding(10) var<storage, read_write> Y3: array<f32>;

var<private> ROWS: u32;

var<workgroup> wh: array<vec4<f16>, 2u * R * KP / 4u>; // halves [(b R + row) KP + k]: weight (row, column k of the group), buffer b
var<workgroup> cm: array<f32, 2u * 16u * CS>; // a result block (gate_up: gate, then up): cm[row CS + token]
var<workgroup> prob: array<u32, BT>; // problem of each tile token (grouped)
var<workgroup> tile_info: array<u32, 4>; // [0]: the expert's slot (grouped); 16 bytes, as every array here

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

struct WRow { m: u32, r: u32 }

fn w_row(rr: u32, mat: u32, mat2: u32, r0: u32, dual: bool) -> WRow {
  let second = dual && rr >= R / 2u;
  return WRow(select(mat, mat2, second), min(r0 + select(rr, rr - R / 2u, second), ROWS - 1u));
}

// W task t: tile row t / 4, quarter J = t % 4 of its group (columns 8 J .. 8 J + 7): its code
// words (q4 / mxfp4: word J; q8: words 2 J and 2 J + 1) and the group's scale bits.
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
  let sw = W[wr.m + ROWS * G * wpg() + select(i / 2u, i / 4u, KIND == 4u)];
  o.z = select((sw >> (16u * (i & 1u))) & 0xffffu, (sw >> (8u * (i & 3u))) & 0xffu, KIND == 4u);
  return o;
}

// The task's eight weights as f16: code times scale in f32, rounded once (packed f16 math on
// pairs of biased codes measured no faster on the H100). Code bytes: q8 byte k of word 2 J + k / 4
// is column 8 J + k; q4 / mxfp4 byte k of word J holds columns 8 J + 2 k (low nibble) and
// 8 J + 2 k + 1 (high).
fn put_w(t: u32, o: vec3<u32>, b: u32) {
  let base = (b * R + t / 4u) * KP + 8u * (t % 4u);
  if (KIND == 2u) {
    let s = unpack2x16float(o.z).x;
    let a = vec4<f32>(unpack4xI8(o.x)) * s;
    let c = vec4<f32>(unpack4xI8(o.y)) * s;
    wh[base / 4u] = vec4<f16>(a);
    wh[base / 4u + 1u] = vec4<f16>(c);
    return;
  }
  if (KIND == 4u && F16BITS) {
    // code n of the word is column 8 J + n (decoders.wgsl e2m1_f16: v 2^-14), times 2^14 then
    // the scale in f32: the same single rounding as below
    let s = bitcast<f32>(min(o.z, 254u) << 23u);
    let c = e2m1_f16(o.x);
    wh[base / 4u] = vec4<f16>(c.lo * 16384.0 * s);
    wh[base / 4u + 1u] = vec4<f16>(c.hi * 16384.0 * s);
    return;
  }
  let s = select(unpack2x16float(o.z).x, bitcast<f32>(min(o.z, 254u) << 23u) * 0.5, KIND == 4u);
  let lo = vec4<f32>(unpack4xI8(nibbles(o.x & 0x0f0f0f0fu))) * s;
  let hi = vec4<f32>(unpack4xI8(nibbles((o.x >> 4u) & 0x0f0f0f0fu))) * s;
  wh[base / 4u] = vec4<f16>(vec4<f32>(lo.x, hi.x, lo.y, hi.y));
  wh[base / 4u + 1u] = vec4<f16>(vec4<f32>(lo.z, hi.z, lo.w, hi.w));
}

// One group's loads, held in registers while the group before multiplies.
struct Pref { w: array<vec3<u32>, 8> }

fn fetch(mat: u32, mat2: u32, r0: u32, g: u32, lid: u32, dual: bool) -> Pref {
  var p: Pref;
  for (var q = 0u; q < WQ; q++) { p.w[q] = fetch_w(lid + 32u * q, mat, mat2, r0, g, dual); }
  return p;
}

fn put(p: Pref, lid: u32, b: u32) {
  for (var q = 0u; q < WQ; q++) { put_w(lid + 32u * q, p.w[q], b); }
}

// The products are computed transposed, Y^T blocks (tokens x rows) = X (tokens x k) W^T (k x rows):
// tokens the left matrices, weights the right ones. A left matrix loads from the x copy 1.3x
// faster than a right one (H100, a probe of the token loads alone: row-major left 734-760 us,
// column-major right 957-970, row-major right 983-996).
alias MX = subgroup_matrix_left<f16, 16, 16>;
alias MW = subgroup_matrix_right<f16, 16, 16>;
alias MC = subgroup_matrix_result<f32, 16, 16>;

// Rows 16 i .. of the staged weights, columns 16 kk ..: W^T's block (k, row) column-major. An
// array of vectors: offset and stride count vectors (four halves).
fn lw(b: u32, i: u32, kk: u32) -> MW {
  return subgroupMatrixLoad<MW, col_major>(&wh, ((b * R + 16u * i) * KP + 16u * kk) / 4u, KP / 4u);
}

// Tokens x0 + 16 j .. of the x copy, columns c0 .. c0 + 15: one 16 x 16 block of x-half.wgsl's
// layout, token by token (x0 and c0 multiples of 16), row-major.
fn lx(x0: u32, j: u32, c0: u32) -> MX {
  return subgroupMatrixLoad<MX, row_major>(&XH, ((x0 / 16u + j) * (P.cols / 16u) + c0 / 16u) * 256u, 16u);
}

fn mac(a: MW, x: MX, c: MC) -> MC {
  return subgroupMatrixMultiplyAccumulate(x, a, c);
}

// Block n of eight (the epilogue's pick; n is uniform).
fn pick(n: u32, c0: MC, c1: MC, c2: MC, c3: MC, c4: MC, c5: MC, c6: MC, c7: MC) -> MC {
  switch n {
    case 0u: { return c0; }
    case 1u: { return c1; }
    case 2u: { return c2; }
    case 3u: { return c3; }
    case 4u: { return c4; }
    case 5u: { return c5; }
    case 6u: { return c6; }
    default: { return c7; }
  }
}

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

// The lane's eight values of a stored dense block (rows r0 + 16 i .., tokens t0 + 16 j ..).
fn write_dense(m: u32, bo: u32, r0: u32, t0: u32, i: u32, j: u32, lid: u32) {
  let tok = t0 + 16u * j + lid % 16u;
  if (tok >= P.tokens) { return; }
  for (var k = 0u; k < 8u; k++) {
    let rr = lid / 16u + 2u * k;
    let r = r0 + 16u * i + rr;
    if (r >= ROWS) { continue; }
    var v = cm[rr * CS + lid % 16u];
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

// The tile's problems (prob) and its expert's slot (tile_info[0]); returns the tile's live token
// blocks (ceil(live / 16): an expert's last tile is often short), 0 past the plan's tiles.
fn stage_group(tile: u32, lid: u32) -> u32 {
  let E = P.experts;
  if (tile >= PLAN[2u * E + 1u]) { return 0u; }
  let entry = PLAN[2u * E + 2u + tile];
  let e = entry & 0xffffu;
  let j = entry >> 16u;
  let first = PLAN[E + e] + j * BT;
  let live = min(BT, PLAN[e] - j * BT);
  for (var t = lid; t < BT; t += 32u) {
    prob[t] = select(NONE, ORDER[first + t], t < live);
  }
  if (lid == 0u) { tile_info[0] = S[P.slot_offset + ORDER[PLAN[E + e]]]; }
  workgroupBarrier();
  return (live + 15u) / 16u;
}

// The lane's eight outputs of a stored grouped block: down, y = v (+ bias); gate_up, the
// activation of the gate block (cm[0 ..]) and its up block (cm[16 CS ..]).
fn write_grouped(slot: u32, r0: u32, i: u32, j: u32, lid: u32) {
  let p = prob[16u * j + lid % 16u];
  if (p == NONE) { return; }
  for (var k = 0u; k < 8u; k++) {
    let rr = lid / 16u + 2u * k;
    let r = r0 + 16u * i + rr;
    if (r >= P.rows) { continue; }
    var v = cm[rr * CS + lid % 16u];
    if (P.has_bias != 0u) { v += B[P.b_offset + slot + r]; }
    if (MODE == 1u) {
      var u = cm[16u * CS + rr * CS + lid % 16u];
      if (P.has_bias != 0u) { u += B[P.b2_offset + slot + r]; }
      if (P.act == 1u) {
        let gc = min(v, P.act_limit);
        let uc = clamp(u, -P.act_limit, P.act_limit);
        v = (uc + 1.0) * gc * sigmoid(P.act_alpha * gc);
      } else {
        v = v * sigmoid(v) * u;
      }
    }
    Y[P.y_offset + p * P.y_stride + r] = v;
  }
}

// One entry for the three products (MODE 0 mm, 1 gate_up, 2 down): the accumulators are local
// variables of the function that runs the column loop, written out by name (blocks n = i + RB j:
// rows 16 i .., tokens 16 j .., RB TB <= 8) — held behind a pointer or in an array indexed in a
// loop, they left registers (H100: 3-5x slower).
@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var m = 0u; // mm: the matrix (0 q or the only one, 1 k, 2 v)
  var mat = P.w_offset;
  var mat2 = 0u;
  var r0 = 0u;
  let x0 = wid.y * BT; // the tile's first row of the x copy (grouped: plan tile i at rows i BT ..)
  var bo = P.b_offset;
  var slot = 0u;
  // live token blocks of the tile (uniform: from the params or the plan)
  var nt = min(TB, (P.tokens - min(x0, P.tokens) + 15u) / 16u);
  if (MODE == 0u) {
    let n0 = (P.rows + R - 1u) / R;
    let n1 = (P.rows2 + R - 1u) / R;
    m = select(select(0u, 1u, wid.x >= n0), 2u, wid.x >= n0 + n1);
    let tile = wid.x - select(select(0u, n0, m == 1u), n0 + n1, m == 2u);
    mat = select(select(P.w_offset, P.w2_offset, m == 1u), P.w3_offset, m == 2u);
    bo = select(select(P.b_offset, P.b2_offset, m == 1u), P.b3_offset, m == 2u);
    ROWS = select(select(P.rows, P.rows2, m == 1u), P.rows3, m == 2u);
    r0 = tile * R;
  } else {
    ROWS = P.rows;
    r0 = wid.x * select(R, R / 2u, MODE == 1u);
    nt = stage_group(wid.y, lid);
    if (nt == 0u) { return; }
    slot = tile_info[0];
    mat = P.w_offset + slot;
    mat2 = P.w2_offset + slot;
  }
  let dual = MODE == 1u;
  var c0: MC;
  var c1: MC;
  var c2: MC;
  var c3: MC;
  var c4: MC;
  var c5: MC;
  var c6: MC;
  var c7: MC;
  let G = P.cols / 32u;
  // token matrices one k step ahead (the next step's issued before this step's multiplies;
  // the last step reloads its own columns)
  var p0 = lx(x0, 0u, 0u);
  var p1 = p0;
  var p2 = p0;
  var p3 = p0;
  if (TB > 1u) { p1 = lx(x0, 1u, 0u); }
  if (TB > 2u) {
    p2 = lx(x0, 2u, 0u);
    p3 = lx(x0, 3u, 0u);
  }
  put(fetch(mat, mat2, r0, 0u, lid, dual), lid, 0u);
  workgroupBarrier();
  if (nt == 1u && TB > 1u) {
    // a tile of one live token block (an expert's short last tile): only its multiplies, loads
    // and results (a separate loop: conditions inside the full loop's body cost 1.7x on the H100)
    for (var g = 0u; g < G; g++) {
      let b = g % 2u;
      let more = g + 1u < G;
      var pre: Pref;
      if (more) { pre = fetch(mat, mat2, r0, g + 1u, lid, dual); }
      for (var kk = 0u; kk < 2u; kk++) {
        let q0 = lx(x0, 0u, min(32u * g + 16u * kk + 16u, P.cols - 16u));
        c0 = mac(lw(b, 0u, kk), p0, c0);
        c1 = mac(lw(b, 1u, kk), p0, c1);
        if (RB == 4u) {
          c2 = mac(lw(b, 2u, kk), p0, c2);
          c3 = mac(lw(b, 3u, kk), p0, c3);
        }
        p0 = q0;
      }
      if (more) { put(pre, lid, 1u - b); }
      workgroupBarrier();
    }
  } else {
    for (var g = 0u; g < G; g++) {
      let b = g % 2u;
      let more = g + 1u < G;
      var pre: Pref;
      if (more) { pre = fetch(mat, mat2, r0, g + 1u, lid, dual); }
      for (var kk = 0u; kk < 2u; kk++) {
        let nc = min(32u * g + 16u * kk + 16u, P.cols - 16u);
        let q0 = lx(x0, 0u, nc);
        var q1 = q0;
        var q2 = q0;
        var q3 = q0;
        if (TB > 1u) { q1 = lx(x0, 1u, nc); }
        if (TB > 2u) {
          q2 = lx(x0, 2u, nc);
          q3 = lx(x0, 3u, nc);
        }
        let a0 = lw(b, 0u, kk);
        let a1 = lw(b, 1u, kk);
        c0 = mac(a0, p0, c0);
        c1 = mac(a1, p0, c1);
        if (RB == 4u) {
          let a2 = lw(b, 2u, kk);
          let a3 = lw(b, 3u, kk);
          c2 = mac(a2, p0, c2);
          c3 = mac(a3, p0, c3);
          if (TB > 1u) {
            c4 = mac(a0, p1, c4);
            c5 = mac(a1, p1, c5);
            c6 = mac(a2, p1, c6);
            c7 = mac(a3, p1, c7);
          }
        } else {
          if (TB > 1u) {
            c2 = mac(a0, p1, c2);
            c3 = mac(a1, p1, c3);
          }
          if (TB > 2u) {
            c4 = mac(a0, p2, c4);
            c5 = mac(a1, p2, c5);
            c6 = mac(a0, p3, c6);
            c7 = mac(a1, p3, c7);
          }
        }
        p0 = q0;
        p1 = q1;
        p2 = q2;
        p3 = q3;
      }
      if (more) { put(pre, lid, 1u - b); }
      workgroupBarrier();
    }
  }
  // epilogue: each block (gate_up: a gate block and its up block) through cm to the lanes
  let IB = select(RB, RB / 2u, MODE == 1u);
  for (var i = 0u; i < IB; i++) {
    for (var j = 0u; j < TB; j++) {
      if (j >= nt) { break; } // dead token blocks: nothing to write
      // (tokens, rows) blocks stored column-major: cm[row * CS + token]
      subgroupMatrixStore<col_major>(&cm, 0u, pick(i + RB * j, c0, c1, c2, c3, c4, c5, c6, c7), CS);
      if (MODE == 1u) { subgroupMatrixStore<col_major>(&cm, 16u * CS, pick(i + RB / 2u + RB * j, c0, c1, c2, c3, c4, c5, c6, c7), CS); }
      workgroupBarrier();
      if (MODE == 0u) {
        write_dense(m, bo, r0, x0, i, j, lid);
      } else {
        write_grouped(slot, r0, i, j, lid);
      }
      workgroupBarrier();
    }
  }
}
