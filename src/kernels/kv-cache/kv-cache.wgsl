// kv-cache: append T new key/value rows to a layer's cache, a ring buffer of `cap` rows.
//
// Math: for t in [max(0, T - cap), T): row (pos0 + t) % cap of KC / VC = row t of KN / VN.
//   (When a chunk is longer than the ring, only its last `cap` tokens are kept, so no two threads
//   write the same slot.) Full-attention layers use cap = max length, sliding layers cap = window.
//   Record this after the chunk's attention: attention reads the chunk's own keys from KN / VN.
//
// Bindings:
//   0 P: Params (uniform)
//   1 KN: array<f32>  new keys   (T, kv_tstride) at k_offset
//   2 VN: array<f32>  new values (T, kv_tstride) at v_offset
//   3 KC: array<f32>  key cache   (cap, width), read_write
//   4 VC: array<f32>  value cache (cap, width), read_write
//
// Dispatch: one thread per (t, e < width); workgroup (WG, 1, 1); grid linearGrid(T * width, WG).

override WG: u32 = 64u;

struct Params {
  tokens: u32,
  width: u32,
  pos0: u32,
  cap: u32,
  k_offset: u32,
  v_offset: u32,
  kv_tstride: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> KN: array<f32>;
@group(0) @binding(2) var<storage, read> VN: array<f32>;
@group(0) @binding(3) var<storage, read_write> KC: array<f32>;
@group(0) @binding(4) var<storage, read_write> VC: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let id = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (id >= P.tokens * P.width) { return; }
  let t = id / P.width;
  let e = id % P.width;
  if (t + P.cap < P.tokens) { return; } // overwritten later in this chunk
  let slot = (P.pos0 + t) % P.cap;
  KC[slot * P.width + e] = KN[P.k_offset + t * P.kv_tstride + e];
  VC[slot * P.width + e] = VN[P.v_offset + t * P.kv_tstride + e];
}
