// Ceiling kernels for the bench (not used by the engine).
//
// f32_matvec: y = W x, W (rows, cols) f32 row-major read as vec4; one workgroup of 256 threads
//   per row, strided vec4 loads, a workgroup-memory tree reduction. The simplest kernel that
//   streams a matrix at full memory bandwidth: its GB/s is the "f32 matvec ceiling" every
//   quantized kernel is compared with. Grid (min(rows, 65535), ceil(rows / 65535)).
// tiny: one workgroup adding 1 to 64 floats (dispatch overhead).
//
// Bindings: 0 P: Params (uniform), 1 W, 2 X, 3 Y.

struct Params {
  rows: u32,
  cols4: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn f32_matvec(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32, @builtin(num_workgroups) nw: vec3<u32>) {
  let row = wg.x + wg.y * nw.x;
  let inside = row < P.rows;
  let r = min(row, P.rows - 1u);
  var acc = 0.0;
  for (var k = t; k < P.cols4; k += 256u) { acc += dot(W[r * P.cols4 + k], X[k]); }
  red[t] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  if (t == 0u && inside) { Y[r] = red[0]; }
}

@compute @workgroup_size(64)
fn tiny(@builtin(local_invocation_index) t: u32) {
  Y[t] += 1.0;
}
