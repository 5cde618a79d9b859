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
// How it parallelizes: as attention-fast.wgsl (keys of a block across threads, value dims by
// quads x key parts); q and the new key are rotated in workgroup memory first.
//
// Bindings: 0 P (attention-fast's Params + cs_offset, half, qk_norm, eps), 1 Q, 2 KN, 3 VN (this
//   token's q / k / v, unrotated), 4 KC, 5 VC (rings, written), 6 SINK, 7 O, 8 CS; main_norm also
//   9 QNW, 10 KNW (the norms' weights).
// Dispatch: workgroup (WG, 1, 1); grid (hq, 1). Requirements as attention-fast.wgsl.

override WG: u32 = 128u;
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
  let wq = select(0u, h * hd, whole);
  let wk = select(0u, kvh * hd, whole);
  for (var d = i; d < hd; d += WG) {
    qf[d] = qf[d] * iq * QNW[wq + d];
    kf[d] = kf[d] * ik * KNW[wk + d];
  }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  load_qk(wid.x, i);
  attend(wid.x, i);
}

@compute @workgroup_size(WG)
fn main_norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  load_qk(wid.x, i);
  norm_qk(wid.x, i);
  attend(wid.x, i);
}

// Rotation, ring write and attention of q head h (qf) against its kv head (kf the new key).
fn attend(h: u32, i: u32) {
  let hd = P.hd;
  let hd4 = hd / 4u;
  let group = P.hq / P.hkv;
  let kvh = h / group;
  let p = P.pos0;
  let half = P.half;
  var first = 0u;
  if (P.window > 0u && p + 1u > P.window) { first = p + 1u - P.window; }
  // rotate q and the new key in place (pairs (e, e + half)), then scale q
  var qa = 0.0;
  var qb = 0.0;
  var ka = 0.0;
  var kb = 0.0;
  if (i < half) {
    let c = CS[P.cs_offset + 2u * i];
    let s = CS[P.cs_offset + 2u * i + 1u];
    qa = qf[i] * c - qf[i + half] * s;
    qb = qf[i + half] * c + qf[i] * s;
    ka = kf[i] * c - kf[i + half] * s;
    kb = kf[i + half] * c + kf[i] * s;
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
  let row4 = ((p % P.cap) * P.hkv * hd + kvh * hd) / 4u;
  if (h % group == 0u) {
    for (var c = i; c < hd4; c += WG) {
      KC[row4 + c] = k4(c);
      VC[row4 + c] = VN[(P.v_offset + kvh * hd) / 4u + c];
    }
  }
  workgroupBarrier();
  var m = NEG_BIG;
  var l = 0.0;
  if (P.has_sinks != 0u) {
    m = SINK[h];
    l = 1.0;
  }
  let d4 = i % hd4;
  let part = i / hd4;
  let parts = WG / hd4;
  var acc = vec4<f32>(0.0);
  for (var j0 = first; j0 <= p; j0 += WG) {
    let j = j0 + i;
    var s = NEG_BIG;
    if (j <= p) {
      var dv = vec4<f32>(0.0);
      if (j == p) {
        for (var c = 0u; c < hd4; c++) { dv += q4(c) * k4(c); }
      } else {
        let kr = ((j % P.cap) * P.hkv * hd + kvh * hd) / 4u;
        for (var c = 0u; c < hd4; c++) { dv += q4(c) * KC[kr + c]; }
      }
      s = dv.x + dv.y + dv.z + dv.w;
    }
    let mn = max(m, reduce(i, s, true));
    var w = 0.0;
    if (j <= p) { w = exp(s - mn); }
    pw[i] = w;
    let a = exp(m - mn);
    l = l * a + reduce(i, w, false);
    m = mn;
    acc *= a;
    if (part < parts) {
      let n = min(WG, p + 1u - j0);
      for (var b = part; b < n; b += parts) {
        let jj = j0 + b;
        if (jj == p) {
          acc += pw[b] * VN[(P.v_offset + kvh * hd) / 4u + d4];
        } else {
          acc += pw[b] * VC[((jj % P.cap) * P.hkv * hd + kvh * hd) / 4u + d4];
        }
      }
    }
    workgroupBarrier();
  }
  parts_acc[i] = acc;
  workgroupBarrier();
  if (i < hd4) {
    var o = vec4<f32>(0.0);
    for (var q = 0u; q < parts; q++) { o += parts_acc[q * hd4 + i]; }
    o = o / l;
    let oo = P.o_offset + h * hd + 4u * i;
    O[oo] = o.x;
    O[oo + 1u] = o.y;
    O[oo + 2u] = o.z;
    O[oo + 3u] = o.w;
  }
}
