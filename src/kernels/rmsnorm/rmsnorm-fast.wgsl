// rmsnorm (fast variant): the math of rmsnorm.wgsl (read its header: rows are (token, head)
// pairs, y = w * x / sqrt(mean(x^2) + eps), in place with `main_inplace`), one WORKGROUP per row
// instead of one thread: a decode step normalizes a single 2880-6144-wide row, which one thread
// walks serially (hundreds of microseconds on a GPU).
//
// How it parallelizes: thread i sums x[j]^2 for j = i, i + WG, ...; a workgroup tree reduction
// gives the row's sum; each thread then writes its own elements.
//
// Bindings: as rmsnorm.wgsl (0 P, 1 X, 2 Wt, 3 Y). Dispatch: workgroup (WG, 1, 1);
//   grid linearGrid(rows, 1) (flat workgroup id = row).

override WG: u32 = 128u;

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

var<workgroup> red: array<f32, WG>;

fn start(r: u32, offset: u32, tstride: u32) -> u32 {
  return offset + (r / P.heads) * tstride + (r % P.heads) * P.n;
}

fn row_inv(i: u32, ss: f32) -> f32 {
  red[i] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (i < s) { red[i] += red[i + s]; }
    workgroupBarrier();
  }
  return inverseSqrt(red[0] / f32(P.n) + P.eps);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= P.rows) { return; }
  let xs = start(r, P.x_offset, P.x_tstride);
  let ys = start(r, P.y_offset, P.y_tstride);
  var ss = 0.0;
  for (var j = i; j < P.n; j += WG) { let v = X[xs + j]; ss += v * v; }
  let inv = row_inv(i, ss);
  for (var j = i; j < P.n; j += WG) { Y[ys + j] = Wt[P.w_offset + j] * (X[xs + j] * inv); }
}

@compute @workgroup_size(WG)
fn main_inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= P.rows) { return; }
  let ys = start(r, P.y_offset, P.y_tstride);
  var ss = 0.0;
  for (var j = i; j < P.n; j += WG) { let v = Y[ys + j]; ss += v * v; }
  let inv = row_inv(i, ss);
  for (var j = i; j < P.n; j += WG) { Y[ys + j] = Wt[P.w_offset + j] * (Y[ys + j] * inv); }
}
