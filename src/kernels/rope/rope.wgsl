// rope: rotate the first rotary_dim dims of each head in place (NeoX halves: pairs (i, i + r/2)).
//
// Math: for token t (position pos0 + t), head h, i < half = rotary_dim / 2:
//     a = x[i], b = x[i + half]
//     x[i] = a c - b s,  x[i + half] = b c + a s
//   with (c, s) = CS[cs_offset + 2 (t half + i) + {0, 1}]: cos and sin of the angle
//   pos * inv_freq[i], times the YaRN attention factor, computed on the CPU in f64 from
//   reference/ops.ts ropeTable (see ropeCosSin in rope.ts). Dims >= rotary_dim pass through.
//
// Bindings:
//   0 P: Params (uniform)
//   1 CS: array<f32>  (T, half, 2) cos/sin for this chunk's positions
//   2 X: array<f32>   (T, t_stride): heads of hd values starting at x_offset + t t_stride, in place
//
// Dispatch: one thread per (t, h, i); workgroup (WG, 1, 1); grid linearGrid(T * heads * half, WG).

override WG: u32 = 64u;

struct Params {
  tokens: u32,
  heads: u32,
  hd: u32,
  half: u32,
  x_offset: u32,
  x_tstride: u32,
  cs_offset: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> CS: array<f32>;
@group(0) @binding(2) var<storage, read_write> X: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let id = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (id >= P.tokens * P.heads * P.half) { return; }
  let i = id % P.half;
  let h = (id / P.half) % P.heads;
  let t = id / (P.half * P.heads);
  let cs = P.cs_offset + 2u * (t * P.half + i);
  let c = CS[cs];
  let s = CS[cs + 1u];
  let o = P.x_offset + t * P.x_tstride + h * P.hd + i;
  let a = X[o];
  let b = X[o + P.half];
  X[o] = a * c - b * s;
  X[o + P.half] = b * c + a * s;
}
