// combine: weighted sum of the K expert outputs of each token.
//
// Math: out[t, d] = sum_{k < K} w[t, k] y[t K + k, d], summed in k order in f32 (as the reference).
//
// Bindings:
//   0 P: Params (uniform)
//   1 Y: array<f32>    expert outputs (T K, y_stride) at y_offset
//   2 WTS: array<f32>  routing weights (T, K) at w_offset
//   3 OUT: array<f32>  (T, o_stride) at o_offset
//
// Dispatch: one thread per (t, d); workgroup (WG, 1, 1); grid linearGrid(T D, WG).

override WG: u32 = 64u;

struct Params {
  tokens: u32,
  k: u32,
  dim: u32,
  y_offset: u32,
  y_stride: u32,
  w_offset: u32,
  o_offset: u32,
  o_stride: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Y: array<f32>;
@group(0) @binding(2) var<storage, read> WTS: array<f32>;
@group(0) @binding(3) var<storage, read_write> OUT: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let id = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (id >= P.tokens * P.dim) { return; }
  let t = id / P.dim;
  let d = id % P.dim;
  var acc = 0.0;
  for (var k = 0u; k < P.k; k++) {
    let p = t * P.k + k;
    acc += WTS[P.w_offset + p] * Y[P.y_offset + p * P.y_stride + d];
  }
  OUT[P.o_offset + t * P.o_stride + d] = acc;
}
