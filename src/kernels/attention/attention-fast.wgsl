// attention (fast variant): the math of attention.wgsl (read its header: causal softmax of T new
// queries over the cache ring plus the chunk's own keys, full or sliding window, sinks, GQA; keys
// j >= pos0 come from KN / VN, older ones from the ring at j % cap), one WORKGROUP per (t, h)
// instead of one thread, so a decode step's few heads use many threads.
//
// How it parallelizes: the visible keys [first, p] are taken in blocks of WG. Thread i scores key
// j0 + i (q . k, q kept scaled in workgroup memory), the block's max and sum come from workgroup
// tree reductions, the running max m and denominator l are rescaled online (flash attention), and
// for the weighted sum of values each thread owns output dims d = i, i + WG, ... (hd <= 4 WG) and
// walks the block's keys, reading value rows coalesced across threads.
//   m starts at a finite -3e38 (or the sink logit with l = 1 for has_sinks), so no infinities.
//
// Bindings: as attention.wgsl (0 P, 1 Q, 2 KN, 3 VN, 4 KC, 5 VC, 6 SINK, 7 O).
// Dispatch: workgroup (WG, 1, 1); grid (hq, T).

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
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> KN: array<f32>;
@group(0) @binding(3) var<storage, read> VN: array<f32>;
@group(0) @binding(4) var<storage, read> KC: array<f32>;
@group(0) @binding(5) var<storage, read> VC: array<f32>;
@group(0) @binding(6) var<storage, read> SINK: array<f32>;
@group(0) @binding(7) var<storage, read_write> O: array<f32>;

var<workgroup> qs: array<f32, MAX_HD>;
var<workgroup> pw: array<f32, WG>; // the block's key weights
var<workgroup> red: array<f32, WG>;

fn reduce_max(i: u32, v: f32) -> f32 {
  red[i] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (i < s) { red[i] = max(red[i], red[i + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_sum(i: u32, v: f32) -> f32 {
  red[i] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (i < s) { red[i] = red[i] + red[i + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

// Row offset of key/value j (new keys from the chunk, older ones from the ring).
fn k_row(j: u32, kvh: u32) -> u32 {
  if (j >= P.pos0) { return P.k_offset + (j - P.pos0) * P.kv_tstride + kvh * P.hd; }
  return (j % P.cap) * P.hkv * P.hd + kvh * P.hd;
}

fn v_row(j: u32, kvh: u32) -> u32 {
  if (j >= P.pos0) { return P.v_offset + (j - P.pos0) * P.kv_tstride + kvh * P.hd; }
  return (j % P.cap) * P.hkv * P.hd + kvh * P.hd;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let h = wid.x;
  let t = wid.y;
  let hd = P.hd;
  let kvh = h / (P.hq / P.hkv);
  let p = P.pos0 + t;
  var first = 0u;
  if (P.window > 0u && p + 1u > P.window) { first = p + 1u - P.window; }
  let qo = P.q_offset + t * P.q_tstride + h * hd;
  for (var d = i; d < hd; d += WG) { qs[d] = Q[qo + d] * P.scale; }
  workgroupBarrier();
  var m = NEG_BIG;
  var l = 0.0;
  if (P.has_sinks != 0u) {
    m = SINK[h];
    l = 1.0;
  }
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0); // dims i, i + WG, i + 2 WG, i + 3 WG
  for (var j0 = first; j0 <= p; j0 += WG) {
    let j = j0 + i;
    var s = NEG_BIG;
    if (j <= p) {
      let ko = k_row(j, kvh);
      var dotv = 0.0;
      if (j >= P.pos0) {
        for (var d = 0u; d < hd; d++) { dotv += qs[d] * KN[ko + d]; }
      } else {
        for (var d = 0u; d < hd; d++) { dotv += qs[d] * KC[ko + d]; }
      }
      s = dotv;
    }
    let mn = max(m, reduce_max(i, s));
    var w = 0.0;
    if (j <= p) { w = exp(s - mn); }
    pw[i] = w;
    let a = exp(m - mn);
    l = l * a + reduce_sum(i, w); // the reduction's barriers also publish pw
    m = mn;
    let n = min(WG, p + 1u - j0);
    for (var c = 0u; c < 4u; c++) {
      let d = i + c * WG;
      if (d < hd) {
        var v = acc[c] * a;
        for (var b = 0u; b < n; b++) {
          let jj = j0 + b;
          let vo = v_row(jj, kvh) + d;
          if (jj >= P.pos0) { v += pw[b] * VN[vo]; } else { v += pw[b] * VC[vo]; }
        }
        acc[c] = v;
      }
    }
    workgroupBarrier(); // pw is rewritten by the next block
  }
  let inv = 1.0 / l;
  let oo = P.o_offset + t * P.o_tstride + h * hd;
  for (var c = 0u; c < 4u; c++) {
    let d = i + c * WG;
    if (d < hd) { O[oo + d] = acc[c] * inv; }
  }
}
