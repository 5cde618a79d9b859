// matvec (shared-x design): the same entry points, math, Params and bindings as matvec-fast.wgsl
// (read its header), organized differently; the bench measures both designs on the device and
// the wrapper uses the faster one per weight kind (matvecTuning.byKind[kind].design).
//
// How it parallelizes: the workgroup first stages its x row in workgroup memory (XC floats at a
// time), normalized there once when NORM. A team of TPR lanes owns RPT rows; lane l takes the
// 32-column quant groups l, l + TPR, ... of the staged chunk and reads each group's weights with
// 16-byte loads (q4 / mxfp4: one vec4<u32> = the whole group; q8: two; f16: four; f32: eight),
// so a team sweeps TPR consecutive groups of a row per step. The group's 32 x values come from
// workgroup memory, swizzled (vec4 j of group g at g * 8 + (j ^ (g & 7))) so the 8 lanes of a
// 16-byte access phase hit different banks, and stay in registers for the RPT rows. Team sums
// by shuffle-xor butterfly; lane 0 writes. Grid (ceil(rows / ((WG / TPR) RPT)), P).
//   Barriers: the chunk loop is uniform (cols and XC are uniform), and so is the group loop.
//
// Requirements: as matvec-fast.wgsl, plus the matrix at a 16-byte offset (w_offset % 4 == 0).
//
// The code decoders (E2M1 table / arithmetic / f16 bits, the 2^23 magic) are in decoders.wgsl,
// appended to this file by matvec.ts.

enable subgroups;

override KIND: u32 = 3u; // 0 f32, 1 f16, 2 q8, 3 q4, 4 mxfp4
override WG: u32 = 128u;
override TPR: u32 = 32u;
override RPT: u32 = 2u; // 1..4
override DQ: u32 = 0u;
override NORM: bool = false;
override XC: u32 = 4096u; // x floats staged per chunk (multiple of 32)

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
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> W: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read> S: array<u32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@group(0) @binding(6) var<storage, read> H: array<f32>;
@group(0) @binding(7) var<storage, read> WTS: array<f32>;
@group(0) @binding(8) var<storage, read> NW: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read_write> HOUT: array<vec4<f32>>;

var<workgroup> xs: array<vec4<f32>, XC / 4u>;
var<workgroup> norm_red: array<f32, 256>;
var<private> rows_n: u32 = 0u; // rows of this workgroup's matrix (mv: P.rows or the seg table's)
var<private> norm_inv: f32 = 1.0;

// A group's 32 x values, in registers (fields, never an indexed array).
struct X8 {
  v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>,
  v4: vec4<f32>, v5: vec4<f32>, v6: vec4<f32>, v7: vec4<f32>,
}

fn xs_at(g: u32, j: u32) -> vec4<f32> {
  return xs[g * 8u + (j ^ (g & 7u))];
}

fn load_x8(g: u32) -> X8 {
  return X8(xs_at(g, 0u), xs_at(g, 1u), xs_at(g, 2u), xs_at(g, 3u), xs_at(g, 4u), xs_at(g, 5u), xs_at(g, 6u), xs_at(g, 7u));
}

// 8 nibbles of word u (elements 8j .. 8j + 7) against x vec4s a (first 4) and b (last 4).
fn nib8(u: u32, a: vec4<f32>, b: vec4<f32>, lut: f32) -> f32 {
  if (KIND == 4u && DQ == 2u) { return e2m1_bits(u, a, b); }
  let c0 = vec4<u32>(u, u >> 4u, u >> 8u, u >> 12u) & vec4<u32>(15u);
  let c1 = vec4<u32>(u >> 16u, u >> 20u, u >> 24u, u >> 28u) & vec4<u32>(15u);
  if (KIND == 3u && DQ == 0u) {
    let lo = bitcast<vec4<f32>>(c0 | vec4<u32>(MAGIC)) - vec4<f32>(MAGIC_F + 8.0);
    let hi = bitcast<vec4<f32>>(c1 | vec4<u32>(MAGIC)) - vec4<f32>(MAGIC_F + 8.0);
    return dot(lo, a) + dot(hi, b);
  }
  if (DQ == 1u) {
    let lo = vec4<f32>(subgroupShuffle(lut, c0.x), subgroupShuffle(lut, c0.y), subgroupShuffle(lut, c0.z), subgroupShuffle(lut, c0.w));
    let hi = vec4<f32>(subgroupShuffle(lut, c1.x), subgroupShuffle(lut, c1.y), subgroupShuffle(lut, c1.z), subgroupShuffle(lut, c1.w));
    return dot(lo, a) + dot(hi, b);
  }
  return dot(e2m1_vec(c0), a) + dot(e2m1_vec(c1), b);
}

fn byte4(u: u32, a: vec4<f32>) -> f32 {
  let v = bitcast<vec4<f32>>((vec4<u32>(u, u >> 8u, u >> 16u, u >> 24u) & vec4<u32>(0xFFu)) ^ vec4<u32>(MAGIC | 0x80u));
  return dot(v - vec4<f32>(MAGIC_F + 128.0), a);
}

fn half8(w: vec4<u32>, a: vec4<f32>, b: vec4<f32>) -> f32 {
  return dot(vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)), a) + dot(vec4<f32>(unpack2x16float(w.z), unpack2x16float(w.w)), b);
}

// Unscaled dot of group g of row r (matrix at vec4 `mat4`, G groups per row) with x.
fn group_dot(mat4: u32, r: u32, g: u32, G: u32, x: X8, lut: f32) -> f32 {
  let i = r * G + g;
  switch KIND {
    case 0u: {
      let b = mat4 + i * 8u;
      return dot(bitcast<vec4<f32>>(W[b]), x.v0) + dot(bitcast<vec4<f32>>(W[b + 1u]), x.v1) + dot(bitcast<vec4<f32>>(W[b + 2u]), x.v2) +
        dot(bitcast<vec4<f32>>(W[b + 3u]), x.v3) + dot(bitcast<vec4<f32>>(W[b + 4u]), x.v4) + dot(bitcast<vec4<f32>>(W[b + 5u]), x.v5) +
        dot(bitcast<vec4<f32>>(W[b + 6u]), x.v6) + dot(bitcast<vec4<f32>>(W[b + 7u]), x.v7);
    }
    case 1u: {
      let b = mat4 + i * 4u;
      return half8(W[b], x.v0, x.v1) + half8(W[b + 1u], x.v2, x.v3) + half8(W[b + 2u], x.v4, x.v5) + half8(W[b + 3u], x.v6, x.v7);
    }
    case 2u: {
      let w0 = W[mat4 + i * 2u];
      let w1 = W[mat4 + i * 2u + 1u];
      return byte4(w0.x, x.v0) + byte4(w0.y, x.v1) + byte4(w0.z, x.v2) + byte4(w0.w, x.v3) +
        byte4(w1.x, x.v4) + byte4(w1.y, x.v5) + byte4(w1.z, x.v6) + byte4(w1.w, x.v7);
    }
    default: {
      let w = W[mat4 + i];
      return nib8(w.x, x.v0, x.v1, lut) + nib8(w.y, x.v2, x.v3, lut) + nib8(w.z, x.v4, x.v5, lut) + nib8(w.w, x.v6, x.v7, lut);
    }
  }
}

// word `wi` of the weight buffer
fn word(wi: u32) -> u32 {
  let v = W[wi / 4u];
  return select(select(select(v.x, v.y, (wi & 3u) == 1u), v.z, (wi & 3u) == 2u), v.w, (wi & 3u) == 3u);
}

fn group_scale(mat: u32, r: u32, g: u32, G: u32) -> f32 {
  if (KIND < 2u) { return 1.0; }
  let wpg = select(4u, 8u, KIND == 2u);
  let sbase = mat + rows_n * G * wpg;
  let i = r * G + g;
  if (KIND == 4u) {
    let s = (word(sbase + i / 4u) >> (8u * (i & 3u))) & 0xffu;
    return bitcast<f32>(min(s, 254u) << 23u) * 0.5;
  }
  let h = unpack2x16float(word(sbase + i / 2u));
  return select(h.x, h.y, (i & 1u) == 1u);
}

fn team_sum(v: vec4<f32>) -> vec4<f32> {
  var s = v;
  for (var o = TPR / 2u; o > 0u; o >>= 1u) { s += subgroupShuffleXor(s, o); }
  return s;
}

fn pick(v: vec4<f32>, i: u32) -> f32 {
  return select(select(select(v.x, v.y, i == 1u), v.z, i == 2u), v.w, i == 3u);
}

fn row_group(mat: u32, r0: u32, i: u32, g: u32, G: u32, x: X8, lut: f32) -> f32 {
  let r = min(r0 + i, rows_n - 1u);
  return group_dot(mat / 4u, r, g, G, x, lut) * group_scale(mat, r, g, G);
}

struct Two {
  a: vec4<f32>,
  b: vec4<f32>,
}

// RPT rows from r0 of the matrix at word `mat` (and of `mat2` when dual) against x row x4.
fn rows_dot(mat: u32, mat2: u32, dual: bool, r0: u32, x4: u32, lane: u32, lid: u32, lut: f32) -> Two {
  let G = P.cols / 32u;
  var acc = Two(vec4<f32>(0.0), vec4<f32>(0.0));
  for (var c0 = 0u; c0 < P.cols; c0 += XC) {
    let n4 = min(XC, P.cols - c0) / 4u;
    workgroupBarrier(); // the previous chunk is consumed
    for (var j = lid; j < n4; j += WG) {
      var v = X[x4 + c0 / 4u + j];
      if (NORM) { v *= norm_inv * NW[P.nw_offset / 4u + c0 / 4u + j]; }
      let g = j / 8u;
      xs[g * 8u + ((j % 8u) ^ (g & 7u))] = v;
    }
    workgroupBarrier();
    let gc = n4 / 8u;
    let g0 = c0 / 32u;
    for (var gb = 0u; gb < gc; gb += TPR) {
      let gl = min(gb + lane, gc - 1u);
      let live = gb + lane < gc;
      let x = load_x8(gl);
      var d = vec4<f32>(0.0);
      d.x = row_group(mat, r0, 0u, g0 + gl, G, x, lut);
      if (RPT > 1u) { d.y = row_group(mat, r0, 1u, g0 + gl, G, x, lut); }
      if (RPT > 2u) { d.z = row_group(mat, r0, 2u, g0 + gl, G, x, lut); }
      if (RPT > 3u) { d.w = row_group(mat, r0, 3u, g0 + gl, G, x, lut); }
      acc.a += select(vec4<f32>(0.0), d, live);
      if (dual) {
        var e = vec4<f32>(0.0);
        e.x = row_group(mat2, r0, 0u, g0 + gl, G, x, lut);
        if (RPT > 1u) { e.y = row_group(mat2, r0, 1u, g0 + gl, G, x, lut); }
        if (RPT > 2u) { e.z = row_group(mat2, r0, 2u, g0 + gl, G, x, lut); }
        if (RPT > 3u) { e.w = row_group(mat2, r0, 3u, g0 + gl, G, x, lut); }
        acc.b += select(vec4<f32>(0.0), e, live);
      }
    }
  }
  acc.a = team_sum(acc.a);
  if (dual) { acc.b = team_sum(acc.b); }
  return acc;
}

fn lut_entry(lane: u32) -> f32 {
  if (KIND == 4u && DQ == 1u) { return e2m1_x2(lane & 15u); }
  if (KIND == 3u && DQ == 1u) { return f32(lane & 15u) - 8.0; } // q4: code - 8
  return 0.0;
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
  rows_n = rows;
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
    if (P.write_h != 0u && wid.x == 0u && p % P.x_div == 0u) {
      for (var j = lid; j < n4; j += WG) { HOUT[P.hout_offset / 4u + (p / P.x_div) * n4 + j] = X[x4 + j] * norm_inv * NW[P.nw_offset / 4u + j]; }
    }
  }
  if (wid.x * (WG / TPR) * RPT >= rows) { return; } // seg: this problem has fewer rows than the grid covers
  let acc = rows_dot(P.w_offset + slot, 0u, false, r0, x4, lane, lid, lut_entry(lane)).a;
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
  rows_n = P.rows;
  let lane = lid % TPR;
  let r0 = (wid.x * (WG / TPR) + lid / TPR) * RPT;
  let p = wid.y;
  let slot = S[P.slot_offset + p];
  let x4 = (P.x_offset + (p / P.x_div) * P.x_stride) / 4u;
  let two = rows_dot(P.w_offset + slot, P.w2_offset + slot, true, r0, x4, lane, lid, lut_entry(lane));
  if (lane != 0u) { return; }
  for (var i = 0u; i < RPT; i++) {
    let r = r0 + i;
    if (r < P.rows) {
      var g = pick(two.a, i);
      var u = pick(two.b, i);
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
  rows_n = P.rows;
  let lane = lid % TPR;
  let r0 = (wid.x * (WG / TPR) + lid / TPR) * RPT;
  let t = wid.y;
  let lut = lut_entry(lane);
  var out = vec4<f32>(0.0);
  for (var k = 0u; k < P.k_experts; k++) {
    let p = t * P.k_experts + k;
    let slot = S[P.slot_offset + p];
    let x4 = (P.x_offset + p * P.x_stride) / 4u;
    var v = rows_dot(P.w_offset + slot, 0u, false, r0, x4, lane, lid, lut).a;
    if (P.has_bias != 0u) { v += bias4(P.b_offset + slot, r0); }
    out += WTS[P.wts_offset + p] * v;
  }
  if (lane != 0u) { return; }
  for (var i = 0u; i < RPT; i++) {
    let r = r0 + i;
    if (r < P.rows) { epilogue(P.y_offset + t * P.y_stride + r, P.h_offset + t * P.y_stride + r, pick(out, i)); }
  }
}
