// elementwise: small in-place ops of the lightning layers and OLMoE's clip_qkv.
//
// Math (i < n, flat):
//   silu_inplace:   X[x_offset + i] = X * sigmoid(X)              (q, k, v of lightning layers)
//   sigmoid_gate:   X[x_offset + i] *= sigmoid(G[g_offset + i])    (lightning output gate)
//   clamp_inplace:  X[x_offset + i] = clamp(X, -limit, limit)      (clip_qkv)
//   sigmoid is overflow-safe: exp(-|x|) never overflows.
//
// Bindings:
//   0 P: Params (uniform)
//   1 G: array<f32>   gate logits (sigmoid_gate only)
//   2 X: array<f32>   data, updated in place
//
// Dispatch: one thread per element; workgroup (WG, 1, 1); grid linearGrid(n, WG).

override WG: u32 = 64u;

struct Params {
  n: u32,
  x_offset: u32,
  g_offset: u32,
  limit: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> X: array<f32>;

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

fn flat_id(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

@compute @workgroup_size(WG)
fn silu_inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flat_id(wid, nwg, lid);
  if (i >= P.n) { return; }
  let x = X[P.x_offset + i];
  X[P.x_offset + i] = x * sigmoid(x);
}

@compute @workgroup_size(WG)
fn sigmoid_gate(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flat_id(wid, nwg, lid);
  if (i >= P.n) { return; }
  X[P.x_offset + i] = X[P.x_offset + i] * sigmoid(G[P.g_offset + i]);
}

@compute @workgroup_size(WG)
fn clamp_inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = flat_id(wid, nwg, lid);
  if (i >= P.n) { return; }
  X[P.x_offset + i] = clamp(X[P.x_offset + i], -P.limit, P.limit);
}
