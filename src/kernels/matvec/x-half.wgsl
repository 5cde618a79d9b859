// x-half: rows of f32 x as f16 for matmul-hmma.wgsl, in 16 x 16 blocks: the kernel loads each
// token matrix as one block of 512 contiguous bytes (a constant stride of 16 halves), which ran
// ~2x faster on the H100 than a matrix load striding through whole rows.
//   out row i, column c (half index): ((i / 16) (cols / 16) + c / 16) 256 + (i % 16) 16 + c % 16
//   out[i, c] = f16(x[x_offset + src(i) x_stride + c])   (round to nearest even; beyond f16's
//   range: +-65504, as pack2x16float leaves such values undefined), or 0 where i has no source
// Sources: mode 0 (dense products): src(i) = i for i < n. Mode 1 (grouped experts, tiles of BT
// problems from moe-plan.wgsl): out rows i BT .. of plan tile i hold that tile's problems, problem
// p reading x row ORDER[p] / DIV (gate_up: the token; down: the problem), so a tile's tokens are
// BT consecutive rows at a block boundary whatever its expert's offset. The out buffer has rows
// for the most tiles a plan can have; rows past the plan's tiles are left unwritten.
//
// How it parallelizes: one workgroup per out row, WG threads along it, four values a thread and step.
//
// Bindings: 0 P, 1 X f32, 2 PLAN, 3 ORDER (mode 1), 4 OUT (rows, cols) halves as vec2<u32>.
// Dispatch: grid (out rows: a multiple of 16). cols % 16 == 0, x_offset and x_stride % 4 == 0.

override WG: u32 = 64u;

struct Params {
  n: u32,
  cols: u32,
  x_offset: u32,
  x_stride: u32,
  mode: u32,
  div: u32,
  bt: u32,
  experts: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> PLAN: array<u32>;
@group(0) @binding(3) var<storage, read> ORDER: array<u32>;
@group(0) @binding(4) var<storage, read_write> OUT: array<vec2<u32>>;

const NONE: u32 = 0xffffffffu;

// The x row out row i reads, or NONE.
fn source(i: u32) -> u32 {
  if (P.mode == 0u) { return select(NONE, i, i < P.n); }
  let E = P.experts;
  let tile = i / P.bt;
  if (tile >= PLAN[2u * E + 1u]) { return NONE; }
  let entry = PLAN[2u * E + 2u + tile];
  let e = entry & 0xffffu;
  let jt = (entry >> 16u) * P.bt + i % P.bt;
  if (jt >= PLAN[e]) { return NONE; }
  return ORDER[PLAN[E + e] + jt] / P.div;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x;
  // mode 1: rows past the plan's tiles are never read (their workgroups of the product return)
  if (P.mode == 1u && i / P.bt >= PLAN[2u * P.experts + 1u]) { return; }
  let src = source(i);
  let xo = (P.x_offset + src * P.x_stride) / 4u;
  let row = (i / 16u) * (P.cols / 16u) * 64u + (i % 16u) * 4u; // vec2 index of the row's first block
  for (var c = lid; c < P.cols / 4u; c += WG) {
    var o = vec2<u32>(0u);
    if (src != NONE) {
      let v = clamp(X[xo + c], vec4<f32>(-65504.0), vec4<f32>(65504.0)); // f16's range: no inf
      o = vec2<u32>(pack2x16float(v.xy), pack2x16float(v.zw));
    }
    OUT[row + (c / 4u) * 64u + c % 4u] = o;
  }
}
