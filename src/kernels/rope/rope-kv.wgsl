// rope-kv: the rotations of rope.wgsl for q AND k, plus kv-cache.wgsl's write of the chunk's keys
// and values into the ring, in one dispatch (three in the unfused recording).
//
// Math: for token t (position pos0 + t), with (c, s) from CS as rope.wgsl:
//   q heads h < hq, k heads h < hkv, pairs i < half = rot / 2: (a, b) = (x[i], x[i + half]) ->
//     (a c - b s, b c + a s); dims >= rot pass through.
//   then KC / VC row (pos0 + t) % cap = the rotated k row / the v row, for t >= T - cap.
// Writing the ring before attention is only valid when no query of the chunk still needs a key
// the write replaces: T == 1, or pos0 + T <= cap (the wrapper checks; attention reads the chunk's
// own keys from K / V either way).
//
// Bindings:
//   0 P: Params (uniform)
//   1 CS: array<f32>  (T, half, 2) cos/sin at cs_offset
//   2 Q: array<f32>   (T, q_tstride) at q_offset, rotated in place
//   3 K: array<f32>   (T, kv_tstride) at k_offset, rotated in place
//   4 V: array<f32>   (T, kv_tstride) at v_offset
//   5 KC, 6 VC: array<f32>  rings (cap, hkv hd)
//
// Dispatch: one thread per (t, e), e < max(hq half, hkv hd); workgroup (WG, 1, 1);
//   grid linearGrid(T * width, WG).

override WG: u32 = 64u;

struct Params {
  tokens: u32,
  hq: u32,
  hkv: u32,
  hd: u32,
  half: u32,
  width: u32,
  q_offset: u32,
  q_tstride: u32,
  k_offset: u32,
  v_offset: u32,
  kv_tstride: u32,
  cs_offset: u32,
  pos0: u32,
  cap: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> CS: array<f32>;
@group(0) @binding(2) var<storage, read_write> Q: array<f32>;
@group(0) @binding(3) var<storage, read_write> K: array<f32>;
@group(0) @binding(4) var<storage, read> V: array<f32>;
@group(0) @binding(5) var<storage, read_write> KC: array<f32>;
@group(0) @binding(6) var<storage, read_write> VC: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let id = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (id >= P.tokens * P.width) { return; }
  let t = id / P.width;
  let e = id % P.width;
  let half = P.half;
  let kw = P.hkv * P.hd;
  let cached = t + P.cap >= P.tokens; // else a later token of the chunk takes this ring row
  let row = ((P.pos0 + t) % P.cap) * kw;
  if (e < P.hq * half) {
    let i = e % half;
    let cs = P.cs_offset + 2u * (t * half + i);
    let c = CS[cs];
    let s = CS[cs + 1u];
    let o = P.q_offset + t * P.q_tstride + (e / half) * P.hd + i;
    let a = Q[o];
    let b = Q[o + half];
    Q[o] = a * c - b * s;
    Q[o + half] = b * c + a * s;
  }
  if (e < P.hkv * half) {
    let i = e % half;
    let h = e / half;
    let cs = P.cs_offset + 2u * (t * half + i);
    let c = CS[cs];
    let s = CS[cs + 1u];
    let o = P.k_offset + t * P.kv_tstride + h * P.hd + i;
    let a = K[o];
    let b = K[o + half];
    let ra = a * c - b * s;
    let rb = b * c + a * s;
    K[o] = ra;
    K[o + half] = rb;
    if (cached) {
      KC[row + h * P.hd + i] = ra;
      KC[row + h * P.hd + i + half] = rb;
    }
  }
  if (e < kw && cached) {
    if (e % P.hd >= 2u * half) { KC[row + e] = K[P.k_offset + t * P.kv_tstride + e]; }
    VC[row + e] = V[P.v_offset + t * P.kv_tstride + e];
  }
}
