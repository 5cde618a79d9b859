// attention: causal softmax attention of T new queries over the KV cache plus the chunk's own
// keys (decode: T = 1; prefill: T > 1), full or sliding window, optional learned sinks, GQA.
//
// Math: query t of head h sits at position p = pos0 + t and sees keys j in [first, p], where
//   first = max(0, p - window + 1) on sliding layers (window > 0) and 0 on full layers.
//   Key/value j comes from the chunk (KN/VN row j - pos0) when j >= pos0, else from the cache ring
//   (KC/VC row j % cap) — so record this before kvWrite of the same chunk.
//     s_j = scale * q . k_j        (kv head = h / (hq / hkv))
//     m   = max(max_j s_j, sink_h)     (sink only with has_sinks)
//     o   = sum_j exp(s_j - m) v_j / (sum_j exp(s_j - m) + exp(sink_h - m))
//   computed online (running max and rescaling) in f32; no infinities: the running max starts
//   at a finite -3e38, whose weight exp(-3e38 - s) is exactly 0.
//
// Bindings:
//   0 P: Params (uniform)
//   1 Q: array<f32>    (T, q_tstride) at q_offset; head h at + h hd
//   2 KN: array<f32>   new keys   (T, kv_tstride) at k_offset
//   3 VN: array<f32>   new values (T, kv_tstride) at v_offset
//   4 KC: array<f32>   key cache   (cap, hkv hd)
//   5 VC: array<f32>   value cache (cap, hkv hd)
//   6 SINK: array<f32> (hq) sink logits (read only with has_sinks)
//   7 O: array<f32>    (T, o_tstride) at o_offset
//
// Dispatch: one thread per (t, h); workgroup (WG, 1, 1); grid linearGrid(T * hq, WG).
//   hd <= 256 (q and the output accumulator live in registers).

override WG: u32 = 64u;
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

var<private> q: array<f32, MAX_HD>;
var<private> acc: array<f32, MAX_HD>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let id = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (id >= P.tokens * P.hq) { return; }
  let t = id / P.hq;
  let h = id % P.hq;
  let hd = P.hd;
  let kvh = h / (P.hq / P.hkv);
  let p = P.pos0 + t;
  var first = 0u;
  if (P.window > 0u && p + 1u > P.window) { first = p + 1u - P.window; }
  let qo = P.q_offset + t * P.q_tstride + h * hd;
  for (var d = 0u; d < hd; d++) {
    q[d] = Q[qo + d] * P.scale;
    acc[d] = 0.0;
  }
  var m = NEG_BIG;
  var l = 0.0;
  if (P.has_sinks != 0u) {
    m = SINK[h];
    l = 1.0;
  }
  let width = P.hkv * hd;
  for (var j = first; j <= p; j++) {
    let fresh = j >= P.pos0;
    var ko = (j % P.cap) * width + kvh * hd;
    var vo = ko;
    if (fresh) {
      ko = P.k_offset + (j - P.pos0) * P.kv_tstride + kvh * hd;
      vo = P.v_offset + (j - P.pos0) * P.kv_tstride + kvh * hd;
    }
    var s = 0.0;
    if (fresh) {
      for (var d = 0u; d < hd; d++) { s += q[d] * KN[ko + d]; }
    } else {
      for (var d = 0u; d < hd; d++) { s += q[d] * KC[ko + d]; }
    }
    let mn = max(m, s);
    let a = exp(m - mn);
    let b = exp(s - mn);
    l = l * a + b;
    m = mn;
    if (fresh) {
      for (var d = 0u; d < hd; d++) { acc[d] = acc[d] * a + b * VN[vo + d]; }
    } else {
      for (var d = 0u; d < hd; d++) { acc[d] = acc[d] * a + b * VC[vo + d]; }
    }
  }
  let inv = 1.0 / l;
  let oo = P.o_offset + t * P.o_tstride + h * hd;
  for (var d = 0u; d < hd; d++) { O[oo + d] = acc[d] * inv; }
}
