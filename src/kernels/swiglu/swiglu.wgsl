// swiglu: expert activation a = act(gate, up) elementwise, for P problems of n values.
//
// Math:
//   swiglu (clamped = 0):          a = silu(g) u = g sigmoid(g) u
//   clamped swiglu (gpt-oss, 1):   gc = min(g, limit), uc = clamp(u, -limit, limit),
//                                  a = (uc + 1) gc sigmoid(alpha gc)
//   sigmoid is overflow-safe: exp(-|x|) never overflows.
//
// Bindings:
//   0 P: Params (uniform)
//   1 G: array<f32>   gate outputs (P, in_stride) at g_offset
//   2 U: array<f32>   up outputs   (P, in_stride) at u_offset (may be the same buffer as G)
//   3 A: array<f32>   activations  (P, out_stride) at o_offset
//
// Dispatch: one thread per (p, i); workgroup (WG, 1, 1); grid linearGrid(P n, WG).

override WG: u32 = 64u;

struct Params {
  n: u32,
  problems: u32,
  g_offset: u32,
  u_offset: u32,
  in_stride: u32,
  o_offset: u32,
  out_stride: u32,
  clamped: u32,
  alpha: f32,
  limit: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> U: array<f32>;
@group(0) @binding(3) var<storage, read_write> A: array<f32>;

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let id = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (id >= P.n * P.problems) { return; }
  let p = id / P.n;
  let i = id % P.n;
  let g = G[P.g_offset + p * P.in_stride + i];
  let u = U[P.u_offset + p * P.in_stride + i];
  var a = 0.0;
  if (P.clamped != 0u) {
    let gc = min(g, P.limit);
    let uc = clamp(u, -P.limit, P.limit);
    a = (uc + 1.0) * gc * sigmoid(P.alpha * gc);
  } else {
    a = g * sigmoid(g) * u;
  }
  A[P.o_offset + p * P.out_stride + i] = a;
}
