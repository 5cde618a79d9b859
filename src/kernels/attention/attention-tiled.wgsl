// attention (tiled variant, for prefill chunks): the math of attention.wgsl (read its header:
// causal softmax of T new queries over the cache ring plus the chunk's own keys, full or sliding
// window, sinks, GQA; keys j >= pos0 come from KN / VN, older ones from the ring at j % cap), with
// one WORKGROUP per (tile of TQ tokens, HPW query heads of one kv head): every key and value row
// is read from memory once per tile into workgroup memory and used by all TQ x HPW query rows,
// instead of once per (token, head) as in attention-fast.wgsl.
//
// Threads: S threads a query row (row r = i / S, slice s = i % S); a thread keeps its slice of q
// (pre-scaled) and of the output, DPT4 = hd / (4 S) <= 16 vec4s each, in registers. Row r is token
// tt = r / HPW of the tile, head hh = r % HPW of the head block; R = WG / S rows, TQ = R / HPW.
//
// Per block of B keys (flash attention, online softmax): the block's key and value rows are
// loaded into kb / vb (zeros past the tile's last key); each thread scores its row's B keys over
// its slice (S > 1: the slices' partial sums meet in ps, laid out key-major so consecutive threads
// write consecutive words); keys outside the row's [first, p] are masked; the row's running max m
// and denominator l are rescaled once a block. m starts at a finite -3e38 (or the sink logit with
// l = 1 for has_sinks), so no infinities; masked keys get weight exactly 0.
//
// Requirements (the wrapper checks): hd % 4 == 0, hd / 4 = S x DPT4 with DPT4 <= 16; k/v offsets
// and strides % 4 == 0; HPW divides hq / hkv and HPW <= R.
// Bindings: as attention.wgsl (0 P, 1 Q, 2 KN, 3 VN, 4 KC, 5 VC, 6 SINK, 7 O), keys and values
//   read as vec4.
// Dispatch: workgroup (WG, 1, 1); grid (ceil(T / TQ), hq / HPW).

override WG: u32 = 128u;
override S: u32 = 1u;
override HD4: u32 = 16u; // hd / 4
override HPW: u32 = 8u;
const B: u32 = 16u;
const MAXD4: u32 = 16u;
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

var<workgroup> kb: array<vec4<f32>, B * HD4>; // (B keys, hd / 4)
var<workgroup> vb: array<vec4<f32>, B * HD4>;
var<workgroup> ps: array<f32, B * select(1u, WG, S > 1u)>; // (B keys, WG threads) partial scores, S > 1 only

// vec4 index of key / value row j, head kvh (chunk rows for j >= pos0, else the ring).
fn row4(j: u32, kvh: u32, chunk_offset: u32) -> u32 {
  if (j >= P.pos0) { return (chunk_offset + (j - P.pos0) * P.kv_tstride + kvh * P.hd) / 4u; }
  return ((j % P.cap) * P.hkv * P.hd + kvh * P.hd) / 4u;
}

// First visible key of the query at absolute position p.
fn first_key(p: u32) -> u32 {
  if (P.window > 0u && p + 1u > P.window) { return p + 1u - P.window; }
  return 0u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let dpt4 = HD4 / S;
  let rows = WG / S;
  let tq = rows / HPW;
  let r = i / S;
  let sl = i % S;
  let tt = r / HPW;
  let h = wid.y * HPW + r % HPW;
  let kvh = (wid.y * HPW) / (P.hq / P.hkv);
  let t0 = wid.x * tq;
  let t = t0 + tt;
  let live = tt < tq && t < P.tokens;
  let p = P.pos0 + t;
  let first = first_key(p);
  // the tile's keys: from the first token's first key to the last live token's position
  let lo = first_key(P.pos0 + t0);
  let hi = P.pos0 + min(P.tokens, t0 + tq) - 1u;
  let d0 = sl * dpt4; // this thread's first vec4 of a row

  var q: array<vec4<f32>, MAXD4>;
  var o: array<vec4<f32>, MAXD4>;
  if (live) {
    let qo = P.q_offset + t * P.q_tstride + h * P.hd + 4u * d0;
    for (var c = 0u; c < dpt4; c++) {
      q[c] = vec4<f32>(Q[qo + 4u * c], Q[qo + 4u * c + 1u], Q[qo + 4u * c + 2u], Q[qo + 4u * c + 3u]) * P.scale;
    }
  }
  for (var c = 0u; c < dpt4; c++) { o[c] = vec4<f32>(0.0); }
  var m = NEG_BIG;
  var l = 0.0;
  if (live && P.has_sinks != 0u) {
    m = SINK[h];
    l = 1.0;
  }

  var sc: array<f32, B>;
  for (var j0 = lo; j0 <= hi; j0 += B) {
    workgroupBarrier(); // the previous block's kb / vb / ps are no longer read
    for (var e = i; e < B * HD4; e += WG) {
      let j = j0 + e / HD4;
      let c = e % HD4;
      var kv = vec4<f32>(0.0);
      var vv = vec4<f32>(0.0);
      if (j <= hi) {
        if (j >= P.pos0) {
          kv = KN[row4(j, kvh, P.k_offset) + c];
          vv = VN[row4(j, kvh, P.v_offset) + c];
        } else {
          kv = KC[row4(j, kvh, 0u) + c];
          vv = VC[row4(j, kvh, 0u) + c];
        }
      }
      kb[e] = kv;
      vb[e] = vv;
    }
    workgroupBarrier();
    for (var b = 0u; b < B; b++) {
      var dv = vec4<f32>(0.0);
      for (var c = 0u; c < dpt4; c++) { dv += q[c] * kb[b * HD4 + d0 + c]; }
      sc[b] = dv.x + dv.y + dv.z + dv.w;
    }
    if (S > 1u) {
      for (var b = 0u; b < B; b++) { ps[b * WG + i] = sc[b]; }
      workgroupBarrier();
      for (var b = 0u; b < B; b++) {
        var sum = 0.0;
        for (var u = 0u; u < S; u++) { sum += ps[b * WG + r * S + u]; }
        sc[b] = sum;
      }
    }
    var mb = m;
    for (var b = 0u; b < B; b++) {
      let j = j0 + b;
      let ok = live && j >= first && j <= p;
      sc[b] = select(NEG_BIG, sc[b], ok);
      mb = max(mb, sc[b]);
    }
    let a = exp(m - mb);
    l *= a;
    for (var c = 0u; c < dpt4; c++) { o[c] *= a; }
    for (var b = 0u; b < B; b++) {
      let j = j0 + b;
      let w = select(0.0, exp(sc[b] - mb), live && j >= first && j <= p);
      l += w;
      for (var c = 0u; c < dpt4; c++) { o[c] += w * vb[b * HD4 + d0 + c]; }
    }
    m = mb;
  }
  if (live) {
    let oo = P.o_offset + t * P.o_tstride + h * P.hd + 4u * d0;
    for (var c = 0u; c < dpt4; c++) {
      let v = o[c] / l;
      O[oo + 4u * c] = v.x;
      O[oo + 4u * c + 1u] = v.y;
      O[oo + 4u * c + 2u] = v.z;
      O[oo + 4u * c + 3u] = v.w;
    }
  }
}
