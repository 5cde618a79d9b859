// x-half: rows of f32 x as f16 (pairs packed in u32 words) for matmul-hmma.wgsl, which loads its
// token matrices straight from this copy. Optionally gathered: out row i is x row ORDER[i] / DIV
// (the problems of the grouped experts in expert order, so an expert's tile is BT consecutive
// rows); rows from n up to the padded count are written as zeros (a last tile reads them).
//   out[i, c] = f16(x[x_offset + src(i) x_stride + c])   (round to nearest even; beyond f16's
//   range: +-65504, as pack2x16float leaves such values undefined)
//
// How it parallelizes: one workgroup per out row, WG threads along it, a vec4 of x per thread and
// step (two output words).
//
// Bindings: 0 P, 1 X f32, 2 ORDER (gathered) u32, 3 OUT (rows, cols / 2) u32.
// Dispatch: grid (rows with padding). cols % 4 == 0, x_offset and x_stride % 4 == 0.

override WG: u32 = 64u;

struct Params {
  n: u32,
  cols: u32,
  x_offset: u32,
  x_stride: u32,
  gathered: u32,
  div: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> ORDER: array<u32>;
@group(0) @binding(3) var<storage, read_write> OUT: array<vec2<u32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x;
  let q = P.cols / 4u; // vec4 a row
  var src = i;
  if (P.gathered != 0u && i < P.n) { src = ORDER[i] / P.div; }
  let xo = (P.x_offset + src * P.x_stride) / 4u;
  for (var c = lid; c < q; c += WG) {
    var o = vec2<u32>(0u);
    if (i < P.n) {
      let v = clamp(X[xo + c], vec4<f32>(-65504.0), vec4<f32>(65504.0)); // f16's range: no inf
      o = vec2<u32>(pack2x16float(v.xy), pack2x16float(v.zw));
    }
    OUT[i * q + c] = o;
  }
}
