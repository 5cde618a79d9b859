// rmsnorm: y = w * x / sqrt(mean(x^2) + eps) over rows of n values.
//
// Math: rows are (token t, head h) pairs, r = t * heads + h; row r starts at element
//   offset + t * t_stride + h * n of its buffer. One kernel covers:
//     per-token norm (input/post/final, lightning output norm): heads = 1, n = D
//     whole-projection q/k norm (MiniMax):                     heads = 1, n = H * hd
//     per-head q/k norm (Qwen3, OLMoE-style):                  heads = H, n = hd, w has hd values
//   The sum of squares accumulates in f32.
//
// Bindings:
//   0 P: Params (uniform)
//   1 X: array<f32>   input rows            (main only)
//   2 Wt: array<f32>  weight (n) at w_offset
//   3 Y: array<f32>   output rows; `main_inplace` normalizes Y in place
//
// Dispatch: one thread per row; workgroup (WG, 1, 1); grid linearGrid(rows, WG).

override WG: u32 = 64u;

struct Params {
  rows: u32,
  n: u32,
  heads: u32,
  x_offset: u32,
  x_tstride: u32,
  y_offset: u32,
  y_tstride: u32,
  w_offset: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

fn row_id(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

fn start(r: u32, offset: u32, tstride: u32) -> u32 {
  return offset + (r / P.heads) * tstride + (r % P.heads) * P.n;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = row_id(wid, nwg, lid);
  if (r >= P.rows) { return; }
  let xs = start(r, P.x_offset, P.x_tstride);
  let ys = start(r, P.y_offset, P.y_tstride);
  var ss = 0.0;
  for (var i = 0u; i < P.n; i++) { let v = X[xs + i]; ss += v * v; }
  let inv = inverseSqrt(ss / f32(P.n) + P.eps);
  for (var i = 0u; i < P.n; i++) { Y[ys + i] = Wt[P.w_offset + i] * (X[xs + i] * inv); }
}

@compute @workgroup_size(WG)
fn main_inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let r = row_id(wid, nwg, lid);
  if (r >= P.rows) { return; }
  let ys = start(r, P.y_offset, P.y_tstride);
  var ss = 0.0;
  for (var i = 0u; i < P.n; i++) { let v = Y[ys + i]; ss += v * v; }
  let inv = inverseSqrt(ss / f32(P.n) + P.eps);
  for (var i = 0u; i < P.n; i++) { Y[ys + i] = Wt[P.w_offset + i] * (Y[ys + i] * inv); }
}
