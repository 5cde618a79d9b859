// attention-decode: one decode step (T = 1) of attention-fast.wgsl with the rotary embedding of
// q and of the new key, and the kv-cache write, folded in (rope-kv.wgsl + attention-fast.wgsl in
// one dispatch).
//
// Math: position p = pos0. q_h and the new key k (head kvh) are rotated as rope.wgsl does with
//   (c, s) = CS[cs_offset + 2 i + {0, 1}], pairs (i, i + half) for i < half = rot / 2. Keys j < p
//   come from the ring (rotated when they were written), the new key is j = p. The first q head
//   of each kv group writes ring row p % cap: the rotated key and the value V. Safe for T = 1:
//   the row it replaces holds key p - cap, outside every window that includes p.
//   Softmax as attention.wgsl (online, sinks, window).
//
// main_norm: the q / k RMSNorm before the rotation as well (rmsnorm.wgsl's math, eps P.eps):
//   qk_norm 1 (per head): q_h = q_h / rms(q_h) * QNW[0..hd), the new key likewise with KNW;
//   qk_norm 2 (whole projection): rms over the token's whole q row (hq hd values) and whole k row
//   (hkv hd), weights QNW[h hd ..], KNW[kvh hd ..]. Each workgroup reduces the row itself (a few
//   KiB): the two norm dispatches, and the separate q / k / v products they forced, go away.
//
// How it parallelizes: one workgroup of WG (256) threads a q head; keys in blocks of KB. Nothing
// in a step waits on more than one trip to memory that it need not: the first block's ring keys
// and values are loaded into registers before q and the new key (the ring rows precede this
// position and depend on nothing), a block's successor is loaded while its softmax runs, and the
// rotation's cos / sin and the norm weights load with the q / k rows. Within a block, two
// layouts: scores with LPK lanes a key, each lane CPT vec4 chunks of it (partial dots summed in
// workgroup memory); values with a thread a (vec4 dim d4, key part), each part VPT keys of the
// block. (H100, 12-layer models, short contexts: the previous design — each thread a whole key,
// a value pass reading its keys one after another — cost Qwen3-30B-A3B ~22 us a layer.)
//
// Bindings: 0 P (attention-fast's Params + cs_offset, half, qk_norm, eps), 1 Q, 2 KN, 3 VN (this
//   token's q / k / v, unrotated), 4 KC, 5 VC (rings, written), 6 SINK, 7 O, 8 CS; main_norm also
//   9 QNW, 10 KNW (the norms' weights).
// Dispatch: workgroup (WG, 1, 1); grid (hq, 1). Requirements as attention-fast.wgsl.

override WG: u32 = 256u;
override HD4: u32 = 16u; // hd / 4
override LPK: u32 = 2u; // score layout: lanes a key (a power of two)
override CPT: u32 = 8u; // K vec4 chunks a lane: ceil(HD4 / LPK) <= 8
override KB: u32 = WG / LPK; // keys a block
override PARTS: u32 = WG / HD4; // value layout: key parts (threads i < PARTS HD4 take part)
override VPT: u32 = (KB + PARTS - 1u) / PARTS; // V vectors a lane a block, <= 8
const MAX_HD: u32 = 256u;
const NEG_BIG: f32 = -3.0e38;

struct Params {
  tokens: u32,
  hq: u32,
  hkv: u32,
  hd: u32,
  pos0: u32,
  cap: u32,
  window: u32,
  has_sinks: u32,
  scale: f32,
  q_offset: u32,
  q_tstride: u32,
  k_offset: u32,
  v_offset: u32,
  kv_tstride: u32,
  o_offset: u32,
  o_tstride: u32,
  cs_offset: u32,
  half: u32,
  qk_norm: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> KN: array<f32>;
@group(0) @binding(3) var<storage, read> VN: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> KC: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> VC: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> SINK: array<f32>;
@group(0) @binding(7) var<storage, read_write> O: array<f32>;
@group(0) @binding(8) var<storage, read> CS: array<f32>;
@group(0) @binding(9) var<storage, read> QNW: array<f32>;
@group(0) @binding(10) var<storage, read> KNW: array<f32>;

var<workgroup> qf: array<f32, MAX_HD>;
var<workgroup> kf: array<f32, MAX_HD>;
var<workgroup> pw: array<f32, WG>;
var<workgroup> sc: array<f32, WG>; // partial scores (score layout)
var<workgroup> red: array<f32, WG>;
var<workgroup> parts_acc: array<vec4<f32>, WG>;

fn reduce(i: u32, v: f32, is_max: bool) -> f32 {
  red[i] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (i < s) { red[i] = select(red[i] + red[i + s], max(red[i], red[i + s]), is_max); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn q4(c: u32) -> vec4<f32> {
  return vec4<f32>(qf[4u * c], qf[4u * c + 1u], qf[4u * c + 2u], qf[4u * c + 3u]);
}

fn k4(c: u32) -> vec4<f32> {
  return vec4<f32>(kf[4u * c], kf[4u * c + 1u], kf[4u * c + 2u], kf[4u * c + 3u]);
}

// q head h and its kv head's new key into qf / kf.
fn load_qk(h: u32, i: u32) {
  let hd = P.hd;
  let kvh = h / (P.hq / P.hkv);
  for (var d = i; d < hd; d += WG) {
    qf[d] = Q[P.q_offset + h * hd + d];
    kf[d] = KN[P.k_offset + kvh * hd + d];
  }
  workgroupBarrier();
}

// main_norm: RMSNorm of qf and kf (see the header), in place.
fn norm_qk(h: u32, i: u32) {
  let hd = P.hd;
  let kvh = h / (P.hq / P.hkv);
  let whole = P.qk_norm == 2u;
  let nq = select(hd, P.hq * hd, whole);
  let nk = select(hd, P.hkv * hd, whole);
  // the weights' loads first (they wait on nothing)
  var wq = 0.0;
  var wk = 0.0;
  if (i < hd) {
    wq = QNW[select(0u, h * hd, whole) + i];
    wk = KNW[select(0u, kvh * hd, whole) + i];
  }
  var sq = 0.0;
  var sk = 0.0;
  if (whole) {
    // four independent loads a step (a whole q row is 48 loads a thread for MiniMax-M2)
    var aq = vec4<f32>(0.0);
    var d = i;
    for (; d + 3u * WG < nq; d += 4u * WG) {
      let o = P.q_offset + d;
      let v = vec4<f32>(Q[o], Q[o + WG], Q[o + 2u * WG], Q[o + 3u * WG]);
      aq += v * v;
    }
    for (; d < nq; d += WG) { let v = Q[P.q_offset + d]; aq.x += v * v; }
    var ak = vec4<f32>(0.0);
    d = i;
    for (; d + 3u * WG < nk; d += 4u * WG) {
      let o = P.k_offset + d;
      let v = vec4<f32>(KN[o], KN[o + WG], KN[o + 2u * WG], KN[o + 3u * WG]);
      ak += v * v;
    }
    for (; d < nk; d += WG) { let v = KN[P.k_offset + d]; ak.x += v * v; }
    sq = (aq.x + aq.y) + (aq.z + aq.w);
    sk = (ak.x + ak.y) + (ak.z + ak.w);
  } else {
    for (var d = i; d < hd; d += WG) { sq += qf[d] * qf[d]; sk += kf[d] * kf[d]; }
  }
  let iq = inverseSqrt(reduce(i, sq, false) / f32(nq) + P.eps);
  let ik = inverseSqrt(reduce(i, sk, false) / f32(nk) + P.eps);
  if (i < hd) { // hd <= WG
    qf[i] = qf[i] * iq * wq;
    kf[i] = kf[i] * ik * wk;
  }
  workgroupBarrier();
}

// The ring's keys and values of block j0 .. j0 + KB - 1 that precede this position (key p, the new
// one, comes from kf / VN): each thread's K chunks (score layout) and V vectors (value layout).
fn load_k(h: u32, i: u32, j0: u32) -> array<vec4<f32>, 8> {
  var o: array<vec4<f32>, 8>;
  let j = j0 + i / LPK;
  if (j < P.pos0) {
    let kr = ((j % P.cap) * P.hkv + h / (P.hq / P.hkv)) * HD4;
    for (var t = 0u; t < CPT; t++) {
      let c = i % LPK + LPK * t;
      if (c < HD4) { o[t] = KC[kr + c]; }
    }
  }
  return o;
}

fn load_v(h: u32, i: u32, j0: u32) -> array<vec4<f32>, 8> {
  var o: array<vec4<f32>, 8>;
  let part = i / HD4;
  if (part < PARTS) {
    let kvh = h / (P.hq / P.hkv);
    for (var v = 0u; v < VPT; v++) {
      let j = j0 + part + PARTS * v;
      if (j < P.pos0 && part + PARTS * v < KB) { o[v] = VC[((j % P.cap) * P.hkv + kvh) * HD4 + i % HD4]; }
    }
  }
  return o;
}

fn first_key() -> u32 {
  let p = P.pos0;
  return select(0u, p + 1u - P.window, P.window > 0u && p + 1u > P.window);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  // the first block's ring loads go out before everything else: they wait on nothing
  let k0 = load_k(wid.x, i, first_key());
  let v0 = load_v(wid.x, i, first_key());
  let cs = rope_cs(i);
  load_qk(wid.x, i);
  attend(wid.x, i, k0, v0, cs);
}

@compute @workgroup_size(WG)
fn main_norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let k0 = load_k(wid.x, i, first_key());
  let v0 = load_v(wid.x, i, first_key());
  let cs = rope_cs(i);
  load_qk(wid.x, i);
  norm_qk(wid.x, i);
  attend(wid.x, i, k0, v0, cs);
}

// This position's (cos, sin) of rotary pair i (i < half).
fn rope_cs(i: u32) -> vec2<f32> {
  if (i >= P.half) { return vec2<f32>(1.0, 0.0); }
  return vec2<f32>(CS[P.cs_offset + 2u * i], CS[P.cs_offset + 2u * i + 1u]);
}

// Rotation, ring write and attention of q head h (qf) against its kv head (kf the new key); k0 / v0
// the first block's ring loads, cs the rotation of pair i.
fn attend(h: u32, i: u32, k0: array<vec4<f32>, 8>, v0: array<vec4<f32>, 8>, cs: vec2<f32>) {
  let hd = P.hd;
  let group = P.hq / P.hkv;
  let kvh = h / group;
  let p = P.pos0;
  let half = P.half;
  // rotate q and the new key in place (pairs (e, e + half)), then scale q
  var qa = 0.0;
  var qb = 0.0;
  var ka = 0.0;
  var kb = 0.0;
  if (i < half) {
    qa = qf[i] * cs.x - qf[i + half] * cs.y;
    qb = qf[i + half] * cs.x + qf[i] * cs.y;
    ka = kf[i] * cs.x - kf[i + half] * cs.y;
    kb = kf[i + half] * cs.x + kf[i] * cs.y;
  }
  workgroupBarrier();
  if (i < half) {
    qf[i] = qa;
    qf[i + half] = qb;
    kf[i] = ka;
    kf[i + half] = kb;
  }
  workgroupBarrier();
  for (var d = i; d < hd; d += WG) { qf[d] = qf[d] * P.scale; }
  // the first q head of the kv group writes the ring row of this position
  let row4 = ((p % P.cap) * P.hkv + kvh) * HD4;
  let vn4 = (P.v_offset + kvh * hd) / 4u;
  if (h % group == 0u) {
    for (var c = i; c < HD4; c += WG) {
      KC[row4 + c] = k4(c);
      VC[row4 + c] = VN[vn4 + c];
    }
  }
  workgroupBarrier();
  var m = NEG_BIG;
  var l = 0.0;
  if (P.has_sinks != 0u) {
    m = SINK[h];
    l = 1.0;
  }
  // score layout: key slot i / LPK, chunks i % LPK + LPK t; value layout: dims d4, key slots
  // part + PARTS v
  let d4 = i % HD4;
  let part = i / HD4;
  var qr: array<vec4<f32>, 8>;
  for (var t = 0u; t < CPT; t++) {
    let c = i % LPK + LPK * t;
    if (c < HD4) { qr[t] = q4(c); }
  }
  var kr = k0;
  var vr = v0;
  var acc = vec4<f32>(0.0);
  for (var j0 = first_key(); j0 <= p; j0 += KB) {
    // key p (this token's): from kf and VN
    if (j0 + i / LPK == p) {
      for (var t = 0u; t < CPT; t++) {
        let c = i % LPK + LPK * t;
        if (c < HD4) { kr[t] = k4(c); }
      }
    }
    if (part < PARTS) {
      for (var v = 0u; v < VPT; v++) {
        if (j0 + part + PARTS * v == p) { vr[v] = VN[vn4 + d4]; }
      }
    }
    var dv = vec4<f32>(0.0);
    for (var t = 0u; t < CPT; t++) { dv += qr[t] * kr[t]; }
    sc[i] = (dv.x + dv.y) + (dv.z + dv.w);
    let more = j0 + KB <= p;
    if (more) { kr = load_k(h, i, j0 + KB); } // the next block's keys, in flight during this block's softmax
    workgroupBarrier();
    var s = NEG_BIG;
    let live = i < KB && j0 + i <= p;
    if (live) {
      s = 0.0;
      for (var q = 0u; q < LPK; q++) { s += sc[i * LPK + q]; }
    }
    let mn = max(m, reduce(i, s, true));
    var w = 0.0;
    if (live) { w = exp(s - mn); }
    pw[i] = w;
    let a = exp(m - mn);
    l = l * a + reduce(i, w, false);
    m = mn;
    acc *= a;
    if (part < PARTS) {
      for (var v = 0u; v < VPT; v++) {
        let b = part + PARTS * v;
        if (b < KB && j0 + b <= p) { acc += pw[b] * vr[v]; }
      }
    }
    if (more) { vr = load_v(h, i, j0 + KB); }
    workgroupBarrier();
  }
  parts_acc[i] = acc;
  workgroupBarrier();
  if (i < HD4) {
    var o = vec4<f32>(0.0);
    for (var q = 0u; q < PARTS; q++) { o += parts_acc[q * HD4 + i]; }
    o = o / l;
    let oo = P.o_offset + h * hd + 4u * i;
    O[oo] = o.x;
    O[oo + 1u] = o.y;
    O[oo + 2u] = o.z;
    O[oo + 3u] = o.w;
  }
}
