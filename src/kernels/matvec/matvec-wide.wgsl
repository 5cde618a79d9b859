// matvec (wide-unit design): the same entry points, math, Params and bindings as matvec-fast.wgsl
// (read its header); the bench measures the designs on the device and the wrapper uses the
// fastest per weight kind and matrix size (matvecTuning).
//
// How it parallelizes: as matvec-fast.wgsl (a team of TPR lanes owns RPT rows (up to 8), shuffle-xor team
// sums, lane 0 writes), but a unit is 16 bytes of a row for every kind: 4 f32, 8 f16, 16 q8 or 32
// q4 / mxfp4 weights (one quant group), read as four consecutive u32 per lane. The f32 kernel of
// this shape reached the f32 ceiling on an H100 while the quantized kinds, at 4 bytes per lane per
// unit, stayed near a quarter of it: the bytes one load request carries matter. x comes straight
// from X (cache hits, shared by the RPT rows), and each unit needs one scale per row.
//   PF = 1: software pipelining: the next unit's weight and scale words are loaded before the
//   current unit is decoded, so a lane keeps a load in flight while it computes.
//   DQ = 1 (q4, mxfp4; subgroups of >= 16 lanes): codes decoded through a 16-entry table held one
//   entry per lane and read with subgroupShuffle (q4: code - 8; mxfp4: 2 x E2M1 value).
//   The unit loop runs a uniform trip count (lanes past the row's end add 0), so every lane is
//   active at each subgroup operation.
//
// Requirements (the wrapper checks): cols % 32 == 0, x_offset and x_stride multiples of 4.
//
// The experts' entry points (gate_up, down_sum) are in matvec-wide-experts.wgsl and the code
// decoders (E2M1 table / arithmetic / f16 bits, the 2^23 magic) in decoders.wgsl, both appended
// to this file by matvec.ts.

enable subgroups;

override KIND: u32 = 3u; // 0 f32, 1 f16, 2 q8, 3 q4, 4 mxfp4
override WG: u32 = 128u;
override TPR: u32 = 32u;
override RPT: u32 = 2u; // 1..8 (rows 5..8 in a second set of registers)
override DQ: u32 = 0u;
override PF: u32 = 0u;
override NORM: bool = false;
override KX: u32 = 0u; // down_sum: 0 = the K experts one after another; K = all K per unit step (loads of every expert in flight)
override GU: bool = false; // gate_up: a team's RPT rows are RPT / 2 gate rows and the same up rows, one unit loop (loads of both in flight)
override KT: u32 = 0u; // down_sum: one team of TPR lanes per expert (KT = K teams, WG = KT TPR), partial rows summed in workgroup memory

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
  nw_offset: u32,
  norm_eps: f32,
  write_h: u32,
  hout_offset: u32,
  // mv: per-problem matrix table at S[seg_offset + 4 p] = (word offset, rows, y offset, bias offset)
  seg: u32,
  seg_offset: u32,
  // gate_up_routed (matvec-wide-experts.wgsl)
  r_experts: u32,
  r_flags: u32,
  r_scaling: f32,
  r_l_offset: u32,
  r_out_offset: u32,
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

var<private> norm_inv: f32 = 1.0;
var<private> norm_x4: u32 = 0u;
var<workgroup> norm_red: array<f32, 256>;

fn xv(i: u32) -> vec4<f32> {
  if (NORM) { return X[i] * norm_inv * NW[P.nw_offset / 4u + i - norm_x4]; }
  return X[i];
}

// Up to 32 x values of one unit (fields, never an indexed array).
struct X8 {
  v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>,
  v4: vec4<f32>, v5: vec4<f32>, v6: vec4<f32>, v7: vec4<f32>,
}

// vec4s of x per unit: f32 1, f16 2, q8 4, q4 / mxfp4 8
fn x_per_unit() -> u32 {
  return select(select(select(1u, 2u, KIND == 1u), 4u, KIND == 2u), 8u, KIND >= 3u);
}

// q4 without the table: x pre-scaled by 2^-4e for the code at bits 4e of a half word (nib8)
const Q4S = vec4<f32>(1.0, 0.0625, 0.00390625, 0.000244140625);

fn load_x(x4: u32, u: u32) -> X8 {
  let n = x_per_unit();
  let b = x4 + u * n;
  let z = vec4<f32>(0.0);
  var x = X8(xv(b), z, z, z, z, z, z, z);
  if (n > 1u) { x.v1 = xv(b + 1u); }
  if (n > 2u) { x.v2 = xv(b + 2u); x.v3 = xv(b + 3u); }
  if (n > 4u) { x.v4 = xv(b + 4u); x.v5 = xv(b + 5u); x.v6 = xv(b + 6u); x.v7 = xv(b + 7u); }
  if (KIND == 3u && DQ == 0u) {
    x = X8(x.v0 * Q4S, x.v1 * Q4S, x.v2 * Q4S, x.v3 * Q4S, x.v4 * Q4S, x.v5 * Q4S, x.v6 * Q4S, x.v7 * Q4S);
  }
  return x;
}

// 8 codes of word u (elements 8j .. 8j + 7) against x vec4s a (first 4) and b (last 4).
fn nib8(u: u32, a: vec4<f32>, b: vec4<f32>, lut: f32) -> f32 {
  if (KIND == 4u && DQ == 2u) { return e2m1_bits(u, a, b); }
  let c0 = vec4<u32>(u, u >> 4u, u >> 8u, u >> 12u) & vec4<u32>(15u);
  let c1 = vec4<u32>(u >> 16u, u >> 20u, u >> 24u, u >> 28u) & vec4<u32>(15u);
  if (DQ == 1u) {
    let lo = vec4<f32>(subgroupShuffle(lut, c0.x), subgroupShuffle(lut, c0.y), subgroupShuffle(lut, c0.z), subgroupShuffle(lut, c0.w));
    let hi = vec4<f32>(subgroupShuffle(lut, c1.x), subgroupShuffle(lut, c1.y), subgroupShuffle(lut, c1.z), subgroupShuffle(lut, c1.w));
    return dot(lo, a) + dot(hi, b);
  }
  if (KIND == 3u) {
    // codes masked in place, no shifts: (q - 8) 2^4e exactly, against x 2^-4e (load_x) — the
    // same products as (q - 8) x, bit for bit
    let m = vec4<u32>(0xFu, 0xF0u, 0xF00u, 0xF000u);
    let off = vec4<f32>(MAGIC_F + 8.0, MAGIC_F + 128.0, MAGIC_F + 2048.0, MAGIC_F + 32768.0);
    let lo = bitcast<vec4<f32>>((vec4<u32>(u) & m) | vec4<u32>(MAGIC)) - off;
    let hi = bitcast<vec4<f32>>((vec4<u32>(u >> 16u) & m) | vec4<u32>(MAGIC)) - off;
    return dot(lo, a) + dot(hi, b);
  }
  return dot(e2m1_vec(c0), a) + dot(e2m1_vec(c1), b);
}

fn byte4(u: u32, a: vec4<f32>) -> f32 {
  let v = bitcast<vec4<f32>>((vec4<u32>(u, u >> 8u, u >> 16u, u >> 24u) & vec4<u32>(0xFFu)) ^ vec4<u32>(MAGIC | 0x80u));
  return dot(v - vec4<f32>(MAGIC_F + 128.0), a);
}

fn half8(w0: u32, w1: u32, w2: u32, w3: u32, a: vec4<f32>, b: vec4<f32>) -> f32 {
  return dot(vec4<f32>(unpack2x16float(w0), unpack2x16float(w1)), a) + dot(vec4<f32>(unpack2x16float(w2), unpack2x16float(w3)), b);
}

// Unscaled dot of one unit (its 4 words) with its x values.
fn unit_dot(w: vec4<u32>, x: X8, lut: f32) -> f32 {
  switch KIND {
    case 0u: { return dot(bitcast<vec4<f32>>(w), x.v0); }
    case 1u: { return half8(w.x, w.y, w.z, w.w, x.v0, x.v1); }
    case 2u: { return byte4(w.x, x.v0) + byte4(w.y, x.v1) + byte4(w.z, x.v2) + byte4(w.w, x.v3); }
    default: { return nib8(w.x, x.v0, x.v1, lut) + nib8(w.y, x.v2, x.v3, lut) + nib8(w.z, x.v4, x.v5, lut) + nib8(w.w, x.v6, x.v7, lut); }
  }
}

fn load4(b: u32) -> vec4<u32> {
  return vec4<u32>(W[b], W[b + 1u], W[b + 2u], W[b + 3u]);
}

// Scale index (row r, unit u) and the word holding it.
fn scale_index(r: u32, u: u32, G: u32) -> u32 {
  return r * G + select(u, u / 2u, KIND == 2u);
}

fn scale_word(sbase: u32, i: u32) -> u32 {
  if (KIND < 2u) { return 0u; }
  if (KIND == 4u) { return W[sbase + i / 4u]; }
  return W[sbase + i / 2u];
}

fn scale_of(word: u32, i: u32) -> f32 {
  if (KIND < 2u) { return 1.0; }
  if (KIND == 4u) {
    let s = (word >> (8u * (i & 3u))) & 0xffu;
    return bitcast<f32>(min(s, 254u) << 23u) * 0.5; // the 1/2 of the x2 decoders
  }
  let h = unpack2x16float(word);
  return select(h.x, h.y, (i & 1u) == 1u);
}

fn team_sum(v: vec4<f32>) -> vec4<f32> {
  var s = v;
  for (var o = TPR / 2u; o > 0u; o >>= 1u) { s += subgroupShuffleXor(s, o); }
  return s;
}

fn lut_entry(lane: u32) -> f32 { // entry lane & 15
  if (DQ == 1u && KIND == 4u) { return e2m1_x2(lane & 15u); }
  if (DQ == 1u && KIND == 3u) { return f32(lane & 15u) - 8.0; }
  return 0.0;
}

fn pick(v: vec4<f32>, i: u32) -> f32 {
  return select(select(select(v.x, v.y, i == 1u), v.z, i == 2u), v.w, i == 3u);
}

// The weight words of unit u of up to 4 rows (row bases rb) and their scale words.
struct Unit {
  w0: vec4<u32>, w1: vec4<u32>, w2: vec4<u32>, w3: vec4<u32>,
  s: vec4<u32>,
}

// n (1..4, a constant) rows of the set: row bases rb, rows rr.
fn load_unit(rb: vec4<u32>, rr: vec4<u32>, u: u32, sbase: u32, G: u32, n: u32) -> Unit {
  let z = vec4<u32>(0u);
  var t = Unit(z, z, z, z, z);
  if (n == 0u) { return t; }
  t.w0 = load4(rb.x + 4u * u);
  t.s.x = scale_word(sbase, scale_index(rr.x, u, G));
  if (n > 1u) { t.w1 = load4(rb.y + 4u * u); t.s.y = scale_word(sbase, scale_index(rr.y, u, G)); }
  if (n > 2u) { t.w2 = load4(rb.z + 4u * u); t.s.z = scale_word(sbase, scale_index(rr.z, u, G)); }
  if (n > 3u) { t.w3 = load4(rb.w + 4u * u); t.s.w = scale_word(sbase, scale_index(rr.w, u, G)); }
  return t;
}

fn unit_rows(t: Unit, rr: vec4<u32>, u: u32, G: u32, x: X8, lut: f32, n: u32) -> vec4<f32> {
  var d = vec4<f32>(0.0);
  if (n == 0u) { return d; }
  d.x = unit_dot(t.w0, x, lut) * scale_of(t.s.x, scale_index(rr.x, u, G));
  if (n > 1u) { d.y = unit_dot(t.w1, x, lut) * scale_of(t.s.y, scale_index(rr.y, u, G)); }
  if (n > 2u) { d.z = unit_dot(t.w2, x, lut) * scale_of(t.s.z, scale_index(rr.z, u, G)); }
  if (n > 3u) { d.w = unit_dot(t.w3, x, lut) * scale_of(t.s.w, scale_index(rr.w, u, G)); }
  return d;
}

// Sums of up to 8 rows: a rows r0 .. r0 + 3, b rows r0 + 4 .. r0 + 7.
struct Acc {
  a: vec4<f32>,
  b: vec4<f32>,
}

fn pick8(v: Acc, i: u32) -> f32 {
  return select(pick(v.a, i & 3u), pick(v.b, i & 3u), i >= 4u);
}

// Products of RPT rows starting at r0 of the matrix at word `mat` with the x row at vec4 x4
// (row r0 + i: pick8(result, i)), summed over the team.
fn rows_dot(mat: u32, rows: u32, r0: u32, x4: u32, lane: u32, lut: f32) -> Acc {
  return rows_dot2(mat, mat, rows, r0, r0 + 4u, min(RPT, 4u), RPT - min(RPT, 4u), x4, lane, lut);
}

// Two sets of rows in one unit loop: na rows from a0 of the matrix at word mat_a (result .a) and
// nb rows from b0 of mat_b (result .b), both `rows` x cols; na, nb constants (<= 4).
fn rows_dot2(mat_a: u32, mat_b: u32, rows: u32, a0: u32, b0: u32, na: u32, nb: u32, x4: u32, lane: u32, lut: f32) -> Acc {
  let G = P.cols / 32u;
  let bits = select(select(select(4u, 8u, KIND == 2u), 16u, KIND == 1u), 32u, KIND == 0u);
  let row_words = P.cols * bits / 32u;
  let U = row_words / 4u; // units per row
  let wpg = select(4u, 8u, KIND == 2u);
  let last = rows - 1u;
  let ra = vec4<u32>(min(a0, last), min(a0 + 1u, last), min(a0 + 2u, last), min(a0 + 3u, last));
  let rb4 = vec4<u32>(min(b0, last), min(b0 + 1u, last), min(b0 + 2u, last), min(b0 + 3u, last));
  let ba = vec4<u32>(mat_a) + ra * row_words;
  let bb = vec4<u32>(mat_b) + rb4 * row_words;
  let sa = mat_a + rows * G * wpg;
  let sb = mat_b + rows * G * wpg;
  var acc = Acc(vec4<f32>(0.0), vec4<f32>(0.0));
  let u_first = min(lane, U - 1u);
  var cur_a = load_unit(ba, ra, u_first, sa, G, na);
  var cur_b = load_unit(bb, rb4, u_first, sb, G, nb);
  for (var u0 = 0u; u0 < U; u0 += TPR) {
    let ul = u0 + lane;
    let u = min(ul, U - 1u);
    var nxt_a = cur_a;
    var nxt_b = cur_b;
    if (PF == 1u) {
      let un = min(ul + TPR, U - 1u);
      nxt_a = load_unit(ba, ra, un, sa, G, na);
      nxt_b = load_unit(bb, rb4, un, sb, G, nb);
    } else {
      cur_a = load_unit(ba, ra, u, sa, G, na);
      cur_b = load_unit(bb, rb4, u, sb, G, nb);
    }
    let x = load_x(x4, u);
    let live = ul < U;
    acc.a += select(vec4<f32>(0.0), unit_rows(cur_a, ra, u, G, x, lut, na), live);
    if (nb > 0u) { acc.b += select(vec4<f32>(0.0), unit_rows(cur_b, rb4, u, G, x, lut, nb), live); }
    if (PF == 1u) {
      cur_a = nxt_a;
      cur_b = nxt_b;
    }
  }
  acc.a = team_sum(acc.a);
  if (nb > 0u) { acc.b = team_sum(acc.b); }
  return acc;
}

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
  let acc = rows_dot(P.w_offset + slot, rows, r0, x4, lane, lut_entry(lid));
  if (lane != 0u) { return; }
  for (var i = 0u; i < RPT; i++) {
    let r = r0 + i;
    if (r < rows) {
      var v = pick8(acc, i);
      if (P.has_bias != 0u) { v += B[bb + r]; }
      epilogue(yb + r, hb + r, v);
    }
  }
}
