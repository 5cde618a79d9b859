// f16-probe: whether unpack2x16float keeps f16 subnormals (drivers may flush them to zero; the
// mxfp4 decoder DQ = 2 of the fast matvec builds E2M1 values of 0.5 as f16 subnormals).
// Input word 0x80010200 from memory (a constant could be folded by the compiler): low half
// 0x0200 = 2^-15, high half 0x8001 = -2^-24. The caller compares O with those two values.
//
// Bindings: 0 I (1 u32) input, 1 O (2 f32) out. Dispatch: workgroup (1, 1, 1); grid (1, 1).

@group(0) @binding(0) var<storage, read> I: array<u32>;
@group(0) @binding(1) var<storage, read_write> O: array<f32>;

@compute @workgroup_size(1)
fn main() {
  let v = unpack2x16float(I[0]);
  O[0] = v.x;
  O[1] = v.y;
}
