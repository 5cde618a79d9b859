// embedding: Y[t, d] = dequant(Wt[tokens[t], d]) — gather T rows of a packed (V, D) table.
//
// Math: the row of token id tok = TOK[tok_offset + t] (clamped to V - 1), element d decoded from
//   the quant-layout.ts layout KIND (f32, f16, q8, q4, mxfp4) with its group scale.
//   Token ids come from a GPU buffer, so a sampled id (argmax) can feed the next step directly.
//
// Bindings:
//   0 P: Params (uniform)
//   1 W: array<u32>   the packed table (V, D), starting at word w_offset
//   2 TOK: array<u32> token ids (T)
//   3 Y: array<f32>   output rows (T, y_stride) starting at y_offset
//
// Dispatch: one thread per (d, t); workgroup (WG, 1, 1); grid (ceil(D / WG), T).

override KIND: u32 = 0u; // 0 f32, 1 f16, 2 q8, 3 q4, 4 mxfp4
override WG: u32 = 64u;

struct Params {
  vocab: u32,
  dim: u32,
  tokens: u32,
  w_offset: u32,
  tok_offset: u32,
  y_offset: u32,
  y_stride: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> TOK: array<u32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

const GROUP: u32 = 32u;
const E2M1_X2: u32 = 0xC8643210u; // FP4 E2M1 magnitudes x2, one nibble each

fn f16_at(word_base: u32, i: u32) -> f32 {
  let h = unpack2x16float(W[word_base + i / 2u]);
  return select(h.x, h.y, (i & 1u) == 1u);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let d = gid.x;
  let t = wid.y;
  if (d >= P.dim || t >= P.tokens) { return; }
  let row = min(TOK[P.tok_offset + t], P.vocab - 1u);
  let D = P.dim;
  let m = P.w_offset;
  let groups = (D + GROUP - 1u) / GROUP;
  let g = row * groups + d / GROUP; // scale index
  var v = 0.0;
  switch KIND {
    case 0u: { v = bitcast<f32>(W[m + row * D + d]); }
    case 1u: { v = f16_at(m + row * ((D + 1u) / 2u), d); }
    case 2u: {
      let w = W[m + row * groups * 8u + d / 4u];
      let q = f32(bitcast<i32>(w << (24u - 8u * (d & 3u))) >> 24u);
      v = q * f16_at(m + P.vocab * groups * 8u, g);
    }
    case 3u: {
      let w = W[m + row * groups * 4u + d / 8u];
      let q = f32(i32((w >> (4u * (d & 7u))) & 15u) - 8);
      v = q * f16_at(m + P.vocab * groups * 4u, g);
    }
    default: {
      let w = W[m + row * groups * 4u + d / 8u];
      let code = (w >> (4u * (d & 7u))) & 15u;
      let mag = f32((E2M1_X2 >> (4u * (code & 7u))) & 15u) * 0.5;
      let sb = m + P.vocab * groups * 4u;
      let s = (W[sb + g / 4u] >> (8u * (g & 3u))) & 0xffu;
      v = select(mag, -mag, code >= 8u) * bitcast<f32>(min(s, 254u) << 23u);
    }
  }
  Y[P.y_offset + t * P.y_stride + d] = v;
}
