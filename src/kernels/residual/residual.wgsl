// residual: x = alpha r + beta s, with r = x (pre-norm) or the normed input h (post-norm,
// MiniMax-Text-01); reference/forward.ts `residual`.
//
// Math: X[i] = alpha (from_normed ? H[i] : X[i]) + beta S[i] for i < n (flat, contiguous).
//
// Bindings:
//   0 P: Params (uniform)
//   1 H: array<f32>   normed input at h_offset (read only when from_normed)
//   2 S: array<f32>   sublayer output at s_offset
//   3 X: array<f32>   residual stream at x_offset, updated in place
//
// Dispatch: one thread per element; workgroup (WG, 1, 1); grid linearGrid(n, WG).

override WG: u32 = 64u;

struct Params {
  n: u32,
  x_offset: u32,
  h_offset: u32,
  s_offset: u32,
  from_normed: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> H: array<f32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read_write> X: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (i >= P.n) { return; }
  var r = X[P.x_offset + i];
  if (P.from_normed != 0u) { r = H[P.h_offset + i]; }
  X[P.x_offset + i] = P.alpha * r + P.beta * S[P.s_offset + i];
}
