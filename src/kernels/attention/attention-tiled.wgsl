// attention (tiled variant, for prefill chunks): the math of attention.wgsl (read its header:
// causal softmax of T new queries over the cache ring plus the chunk's own keys, full or sliding
// window, sinks, GQA; keys j >= pos0 come from KN / VN, older ones from the ring at j % cap), with
// one WORKGROUP per (tile of TQ tokens, HPW query heads of one kv head): every key and value row
// is read from memory once per tile into workgroup memory and used by all TQ x HPW query rows,
// instead of once per (token, head) as in attention-fast.wgsl.
//
// Threads: S lanes of one subgroup a query row (row r = i / S, slice s = i % S, S a power of two
// no larger than the subgroup); a thread keeps its slice of q (pre-scaled) and of the output (the
// row's vec4s s, s + S, s + 2 S, ...: the S lanes of a row read S consecutive vec4s of a key, in
// different banks; contiguous slices were 4-way bank conflicts at head_dim 128), DPT4
// vec4s each (hd / 4 = S x DPT4, DPT4 <= 16; 8 where the subgroup allows: on an H100 at gpt-oss's
// shape 8 beat 4 (fewer shuffles) and 16 (registers)), in registers. The thread index i numbers subgroups in the order they arrive and lanes in
// order, so a row's S lanes are consecutive lanes of one subgroup whatever the hardware's mapping.
// Row r is token tt = r / HPW of the tile and head hh = r % HPW of the head block; R = WG / S
// rows, TQ = R / HPW tokens a tile.
//
// Per block of B keys (flash attention, online softmax): the block's key and value rows are
// stored into kb / vb from registers, where they were read during the previous block (zeros past
// the tile's last key); each thread scores its row's keys four at a time over its slice, the S
// slices meet by subgroup shuffles (xor butterfly), keys outside the row's [first, p] are masked,
// and the row's running max m, denominator l and output are rescaled once per four keys.
// m starts at a finite -3e38 (or the sink logit with l = 1 for has_sinks), so no infinities;
// masked keys get weight exactly 0.
//
// Requirements (the wrapper checks): subgroups of at least S lanes; hd % 4 == 0; k/v offsets and
// strides % 4 == 0; HPW divides hq / hkv and HPW <= R.
// Bindings: as attention.wgsl (0 P, 1 Q, 2 KN, 3 VN, 4 KC, 5 VC, 6 SINK, 7 O), keys and values
//   read as vec4.
// Dispatch: workgroup (WG, 1, 1); grid (ceil(T / TQ), hq / HPW).

enable subgroups;

override WG: u32 = 128u;
override S: u32 = 4u;
override DPT4: u32 = 4u;
override HPW: u32 = 8u;
override HD4: u32 = S * DPT4; // hd / 4
const B: u32 = 16u;
const MAXD4: u32 = 16u;
override NL: u32 = (B * HD4 + WG - 1u) / WG; // key (and value) vec4s a thread moves a block
const MAXNL: u32 = 8u;
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
var<workgroup> arrived: atomic<u32>; // subgroups numbered so far

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

// Read block j0's key / value vec4s e = i + n WG (zeros past the tile's last key hi) into kr / vr.
fn fetch(kr: ptr<function, array<vec4<f32>, MAXNL>>, vr: ptr<function, array<vec4<f32>, MAXNL>>, j0: u32, hi: u32, kvh: u32, i: u32) {
  for (var n = 0u; n < NL; n++) {
    let e = i + n * WG;
    let j = j0 + e / HD4;
    let c = e % HD4;
    var kv = vec4<f32>(0.0);
    var vv = vec4<f32>(0.0);
    if (e < B * HD4 && j <= hi) {
      if (j >= P.pos0) {
        kv = KN[row4(j, kvh, P.k_offset) + c];
        vv = VN[row4(j, kvh, P.v_offset) + c];
      } else {
        kv = KC[row4(j, kvh, 0u) + c];
        vv = VC[row4(j, kvh, 0u) + c];
      }
    }
    (*kr)[n] = kv;
    (*vr)[n] = vv;
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg_size: u32) {
  var ord = 0u;
  if (subgroupElect()) { ord = atomicAdd(&arrived, 1u); }
  let i = subgroupBroadcastFirst(ord) * sg_size + lane;
  let rows = WG / S;
  let tq = rows / HPW;
  let r = i / S;
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
  let sl = i % S; // this thread's vec4s of a row: sl, sl + S, sl + 2 S, ...

  var q: array<vec4<f32>, MAXD4>; // zero-initialized, as every WGSL variable without an initializer
  var o: array<vec4<f32>, MAXD4>;
  if (live) {
    let qo = P.q_offset + t * P.q_tstride + h * P.hd + 4u * sl;
    for (var c = 0u; c < DPT4; c++) {
      let at = qo + 4u * S * c;
      q[c] = vec4<f32>(Q[at], Q[at + 1u], Q[at + 2u], Q[at + 3u]) * P.scale;
    }
  }
  var m = NEG_BIG;
  var l = 0.0;
  if (live && P.has_sinks != 0u) {
    m = SINK[h];
    l = 1.0;
  }

  // the block's key / value vec4s this thread moves (e = i + n WG), read from memory one block ahead
  var kr: array<vec4<f32>, MAXNL>;
  var vr: array<vec4<f32>, MAXNL>;
  fetch(&kr, &vr, lo, hi, kvh, i);
  for (var j0 = lo; j0 <= hi; j0 += B) {
    workgroupBarrier(); // the previous block's kb / vb are no longer read
    for (var n = 0u; n < NL; n++) {
      let e = i + n * WG;
      if (e < B * HD4) {
        kb[e] = kr[n];
        vb[e] = vr[n];
      }
    }
    workgroupBarrier();
    if (j0 + B <= hi) { fetch(&kr, &vr, j0 + B, hi, kvh, i); }
    // keys b .. b + 3 at a time: four independent dot products, one shuffle butterfly for the
    // four, one rescale of the output
    for (var b = 0u; b < B; b += 4u) {
      var d = array<vec4<f32>, 4>();
      for (var c = 0u; c < DPT4; c++) {
        let qc = q[c];
        d[0] += qc * kb[b * HD4 + c * S + sl];
        d[1] += qc * kb[(b + 1u) * HD4 + c * S + sl];
        d[2] += qc * kb[(b + 2u) * HD4 + c * S + sl];
        d[3] += qc * kb[(b + 3u) * HD4 + c * S + sl];
      }
      let one = vec4<f32>(1.0);
      var s4 = vec4<f32>(dot(d[0], one), dot(d[1], one), dot(d[2], one), dot(d[3], one));
      for (var x = 1u; x < S; x <<= 1u) { s4 += subgroupShuffleXor(s4, x); }
      let j = vec4<u32>(j0 + b) + vec4<u32>(0u, 1u, 2u, 3u);
      let ok = vec4<bool>(live) & (j >= vec4<u32>(first)) & (j <= vec4<u32>(p));
      s4 = select(vec4<f32>(NEG_BIG), s4, ok);
      let mb = max(m, max(max(s4.x, s4.y), max(s4.z, s4.w)));
      let a = exp(m - mb);
      let w = select(vec4<f32>(0.0), exp(s4 - vec4<f32>(mb)), ok);
      l = l * a + (w.x + w.y + w.z + w.w);
      for (var c = 0u; c < DPT4; c++) {
        o[c] = o[c] * a + w.x * vb[b * HD4 + c * S + sl] + w.y * vb[(b + 1u) * HD4 + c * S + sl] + w.z * vb[(b + 2u) * HD4 + c * S + sl] + w.w * vb[(b + 3u) * HD4 + c * S + sl];
      }
      m = mb;
    }
  }
  if (live) {
    let oo = P.o_offset + t * P.o_tstride + h * P.hd + 4u * sl;
    for (var c = 0u; c < DPT4; c++) {
      let v = o[c] / l;
      let at = oo + 4u * S * c;
      O[at] = v.x;
      O[at + 1u] = v.y;
      O[at + 2u] = v.z;
      O[at + 3u] = v.w;
    }
  }
}
