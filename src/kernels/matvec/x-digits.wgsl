// x-digits: f32 rows as signed 8-bit digit planes for matvec-dp.wgsl's packed integer dot
// products. Per 32-value group g of a row (optionally RMS-normalized first: x nw / rms(x), the
// normed row also written to H):
//   s = max |x_g| / (127 2^16),  v_i = round(x_i / s) = d0 2^16 + d1 2^8 + d2  (|v_i| <= 127 2^16,
//   each digit an i8: d2 = the low byte sign-extended, d1 the next of (v - d2) / 2^8, d0 the rest)
// so x_i = s v_i to 2^-24 of the group's largest value: f32-like precision, not an 8-bit x.
//
// Record of a group (7 vec4 = 28 u32): vec4 2k and 2k + 1 = digit plane k (d0, d1, d2) of the
// group's even / odd elements: byte b of word j of the even vec4 is the digit of element 8 j + 2 b,
// of the odd vec4 element 8 j + 2 b + 1 — the order of a q4 word's codes as (w & 0x0F0F0F0F) and
// ((w >> 4) & 0x0F0F0F0F); vec4 6 = (s, sum of the group's x, 0, 0) as f32 bits.
//
// How it parallelizes: four threads per group (one per 8-element word; the group's max and sum
// meet in workgroup memory), WG / 4 groups per workgroup; with the norm every workgroup first
// reduces its row's sum of squares (a tree in workgroup memory). WG is a multiple of 4.
//
// Bindings: 0 P, 1 X (rows, x_stride) f32 at x_offset, 2 NW (cols) norm weight, 3 XD records
//   (rows, cols / 32, 7) vec4, 4 H (rows, cols) normed rows at h_offset (write_h).
// Dispatch: grid (ceil(4 cols / 32 / WG), rows). cols % 32 == 0.

override WG: u32 = 64u;

struct Params {
  cols: u32,
  x_offset: u32,
  x_stride: u32,
  has_norm: u32,
  eps: f32,
  write_h: u32,
  h_offset: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> NW: array<f32>;
@group(0) @binding(3) var<storage, read_write> XD: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> H: array<f32>;

var<workgroup> red: array<f32, WG>;
var<workgroup> part: array<vec2<f32>, WG>; // per thread: max |x| and sum of its 8 values
var<private> inv: f32 = 1.0;

fn xval(xb: u32, c: u32) -> f32 {
  if (P.has_norm != 0u) { return X[xb + c] * inv * NW[c]; }
  return X[xb + c];
}

// v's digits (d0, d1, d2) as bytes.
fn digits(v: i32) -> vec3<u32> {
  let d2 = (v << 24u) >> 24u;
  let v1 = (v - d2) >> 8u;
  let d1 = (v1 << 24u) >> 24u;
  return vec3<u32>(bitcast<vec3<u32>>(vec3<i32>((v1 - d1) >> 8u, d1, d2)) & vec3<u32>(0xffu));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y;
  let xb = P.x_offset + row * P.x_stride;
  let G = P.cols / 32u;
  if (P.has_norm != 0u) {
    var ss = 0.0;
    for (var c = lid; c < P.cols; c += WG) { let v = X[xb + c]; ss += v * v; }
    red[lid] = ss;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (lid < s) { red[lid] += red[lid + s]; }
      workgroupBarrier();
    }
    inv = inverseSqrt(red[0] / f32(P.cols) + P.eps);
  }
  // four threads per group: thread j of group g packs word j (elements 8 j .. 8 j + 7) of all six
  // digit vectors; the group's max and sum meet in workgroup memory
  let g = (wid.x * WG + lid) / 4u;
  let j = lid % 4u;
  let c0 = 32u * min(g, G - 1u);
  var mx = 0.0;
  var sum = 0.0;
  var vals: array<f32, 8>;
  for (var e = 0u; e < 8u; e++) {
    let v = xval(xb, c0 + 8u * j + e);
    vals[e] = v;
    mx = max(mx, abs(v));
    sum += v;
  }
  part[lid] = vec2<f32>(mx, sum);
  workgroupBarrier();
  if (g >= G) { return; }
  let q = lid - j;
  mx = max(max(part[q].x, part[q + 1u].x), max(part[q + 2u].x, part[q + 3u].x));
  sum = (part[q].y + part[q + 1u].y) + (part[q + 2u].y + part[q + 3u].y);
  let s = mx / 8323072.0; // 127 * 2^16
  let rs = select(0.0, 1.0 / s, mx > 0.0);
  let rec = (row * G + g) * 7u;
  var even = vec3<u32>(0u);
  var odd = vec3<u32>(0u);
  for (var e = 0u; e < 8u; e++) {
    let xv = vals[e];
    if (P.write_h != 0u) { H[P.h_offset + row * P.cols + c0 + 8u * j + e] = xv; }
    let v = clamp(i32(round(xv * rs)), -8323072, 8323072);
    let d = digits(v) << vec3<u32>(8u * (e / 2u));
    if (e % 2u == 0u) { even |= d; } else { odd |= d; }
  }
  for (var k = 0u; k < 3u; k++) {
    XD[rec + 2u * k][j] = even[k];
    XD[rec + 2u * k + 1u][j] = odd[k];
  }
  if (j == 0u) { XD[rec + 6u] = vec4<u32>(bitcast<u32>(s), bitcast<u32>(sum), 0u, 0u); }
}
