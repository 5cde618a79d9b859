// decoders: number formats shared by the fast matvec designs (matvec-fast / -sx / -wide.wgsl)
// and the f16 prefill products (matmul-hmma.wgsl), appended to each by matvec.ts / matmul-hmma.ts
// (WGSL has no includes, and its module-scope declarations may follow their uses).

const MAGIC: u32 = 0x4B000000u; // 2^23: u | MAGIC reads as 2^23 + u for u < 2^23
const MAGIC_F: f32 = 8388608.0;

// 16-entry E2M1 table (value x 2, sign applied), one entry per lane (DQ = 1).
fn e2m1_x2(c: u32) -> f32 {
  let f = f32(c & 7u);
  let m = max(f, max(2.0 * f - 4.0, 4.0 * f - 16.0));
  return select(m, -m, c >= 8u);
}

// 2 x E2M1 value of four codes: magnitude from the max formula, sign bit moved to bit 31 (DQ = 0).
fn e2m1_vec(c: vec4<u32>) -> vec4<f32> {
  let f = bitcast<vec4<f32>>((c & vec4<u32>(7u)) | vec4<u32>(MAGIC)) - vec4<f32>(MAGIC_F);
  let m = max(f, max(2.0 * f - 4.0, 4.0 * f - 16.0));
  return bitcast<vec4<f32>>(bitcast<vec4<u32>>(m) | ((c & vec4<u32>(8u)) << vec4<u32>(28u)));
}

// The eight E2M1 codes of word u (code n at bits 4n) as v 2^-14 (v the E2M1 value), codes 0..3
// in lo and 4..7 in hi, from f16 bit patterns: code k and k + 4 (k < 4) make one pair, their
// magnitude bits (e1 e0 m) moved to the f16's bits 9..11 and their signs to bit 15: exponent
// field e, mantissa m / 2, so e > 0 reads 2^(e - 15)(1 + m / 2) = v 2^-14 and e = 0 the subnormal
// m 2^-15 = v 2^-14, all exact. Two shifts, two masks and one f16 pair conversion per two codes,
// no table reads (which share the load / shuffle pipe with the weight loads). Needs f16
// subnormals kept by the conversion (caps.f16Subnormals).
struct E2m1x8 { lo: vec4<f32>, hi: vec4<f32> }

fn e2m1_f16(u: u32) -> E2m1x8 {
  let M = 0x0E000E00u;
  let S = 0x80008000u;
  let p0 = unpack2x16float(((u << 9u) & M) | ((u << 12u) & S));
  let p1 = unpack2x16float(((u << 5u) & M) | ((u << 8u) & S));
  let p2 = unpack2x16float(((u << 1u) & M) | ((u << 4u) & S));
  let p3 = unpack2x16float(((u >> 3u) & M) | (u & S));
  return E2m1x8(vec4<f32>(p0.x, p1.x, p2.x, p3.x), vec4<f32>(p0.y, p1.y, p2.y, p3.y));
}

// Word u's eight codes against x vec4s a (codes 0..3) and b (4..7), as 2 x value (DQ = 2): the
// sum of e2m1_f16's values times 2^15, the scale of the table decoders.
fn e2m1_bits(u: u32, a: vec4<f32>, b: vec4<f32>) -> f32 {
  let c = e2m1_f16(u);
  return (dot(c.lo, a) + dot(c.hi, b)) * 32768.0;
}
