// attention (fast variant): the math of attention.wgsl (read its header: causal softmax of T new
// queries over the cache ring plus the chunk's own keys, full or sliding window, sinks, GQA; keys
// j >= pos0 come from KN / VN, older ones from the ring at j % cap), one WORKGROUP per (t, h)
// instead of one thread, so a decode step's few heads use many threads.
//
// How it parallelizes: the visible keys [first, p] are taken in blocks of WG.
//   scores: thread i scores key j0 + i (q . k with vec4 loads; q scaled, in workgroup memory);
//     the block's max and sum come from workgroup tree reductions; the running max m and
//     denominator l are rescaled online (flash attention).
//   values: the WG threads split as (hd / 4 dim quads) x (WG / (hd / 4) key parts): thread (d4,
//     part) accumulates vec4 dims d4 over the block's keys part, part + parts, ... (value rows
//     read coalesced across the quads); the parts are summed once at the end.
//   m starts at a finite -3e38 (or the sink logit with l = 1 for has_sinks), so no infinities.
//
// Requirements (the wrapper checks): hd % 4 == 0, hd / 4 <= WG, k/v offsets and strides % 4 == 0.
// Bindings: as attention.wgsl (0 P, 1 Q, 2 KN, 3 VN, 4 KC, 5 VC, 6 SINK, 7 O), keys and values
//   read as vec4.
// Dispatch: workgroup (WG, 1, 1); grid (hq, T).

override WG: u32 = 128u;
const MAX_HD4: u32 = 64u;
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
@group(0) @binding(2) var<storage, read> KN: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> VN: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> KC: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> VC: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> SINK: array<f32>;
@group(0) @binding(7) var<storage, read_write> O: array<f32>;

var<workgroup> qs: array<vec4<f32>, MAX_HD4>;
var<workgroup> pw: array<f32, WG>; // the block's key weights
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

// vec4 index of key / value row j, head kvh (chunk rows for j >= pos0, else the ring).
fn row4(j: u32, kvh: u32, chunk_offset: u32) -> u32 {
  if (j >= P.pos0) { return (chunk_offset + (j - P.pos0) * P.kv_tstride + kvh * P.hd) / 4u; }
  return ((j % P.cap) * P.hkv * P.hd + kvh * P.hd) / 4u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let h = wid.x;
  let t = wid.y;
  let hd = P.hd;
  let hd4 = hd / 4u;
  let kvh = h / (P.hq / P.hkv);
  let p = P.pos0 + t;
  var first = 0u;
  if (P.window > 0u && p + 1u > P.window) { first = p + 1u - P.window; }
  let qo = P.q_offset + t * P.q_tstride + h * hd;
  for (var d = i; d < hd4; d += WG) {
    qs[d] = vec4<f32>(Q[qo + 4u * d], Q[qo + 4u * d + 1u], Q[qo + 4u * d + 2u], Q[qo + 4u * d + 3u]) * P.scale;
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
  var acc = vec4<f32>(0.0); // dims 4 d4 .. 4 d4 + 3 over this thread's keys
  for (var j0 = first; j0 <= p; j0 += WG) {
    let j = j0 + i;
    var s = NEG_BIG;
    if (j <= p) {
      let ko = row4(j, kvh, P.k_offset);
      var dv = vec4<f32>(0.0);
      if (j >= P.pos0) {
        for (var c = 0u; c < hd4; c++) { dv += qs[c] * KN[ko + c]; }
      } else {
        for (var c = 0u; c < hd4; c++) { dv += qs[c] * KC[ko + c]; }
      }
      s = dv.x + dv.y + dv.z + dv.w;
    }
    let mn = max(m, reduce(i, s, true));
    var w = 0.0;
    if (j <= p) { w = exp(s - mn); }
    pw[i] = w;
    let a = exp(m - mn);
    l = l * a + reduce(i, w, false); // the reduction's barriers also publish pw
    m = mn;
    acc *= a;
    if (part < parts) {
      let n = min(WG, p + 1u - j0);
      for (var b = part; b < n; b += parts) {
        let jj = j0 + b;
        let vo = row4(jj, kvh, P.v_offset) + d4;
        if (jj >= P.pos0) { acc += pw[b] * VN[vo]; } else { acc += pw[b] * VC[vo]; }
      }
    }
    workgroupBarrier(); // pw is rewritten by the next block
  }
  parts_acc[i] = acc;
  workgroupBarrier();
  if (i < hd4) {
    var o = vec4<f32>(0.0);
    for (var q = 0u; q < parts; q++) { o += parts_acc[q * hd4 + i]; }
    o = o / l;
    let oo = P.o_offset + t * P.o_tstride + h * hd + 4u * i;
    O[oo] = o.x;
    O[oo + 1u] = o.y;
    O[oo + 2u] = o.z;
    O[oo + 3u] = o.w;
  }
}
