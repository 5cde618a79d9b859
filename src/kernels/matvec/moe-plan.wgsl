// moe-plan: group the (token, k) problems of a chunk by expert, on the GPU, so the expert matmuls
// read each expert's weights once per tile of its tokens instead of once per problem.
//
// Math: problems p < n (p = t K + k) routed to expert IDS[i_offset + p] < E.
//   counts[e]  = #{p : ids[p] = e}
//   offsets[e] = sum_{e' < e} counts[e']          (offsets[E] = n)
//   ORDER[offsets[e] .. offsets[e] + counts[e]) = the problems of expert e (any order: each
//     problem's result is independent of its neighbours, so the output is deterministic)
//   tiles: for each e, ceil(counts[e] / BT) entries e | (j << 16), j the tile index within e,
//     listed expert after expert; their number at tiles_total.
//
// PLAN layout (u32): [0, E) counts | [E, 2E + 1) offsets | 2E + 1: tiles_total | 2E + 2 ..: tiles
//
// Bindings: 0 P: Params, 1 IDS: array<u32> (read), 2 PLAN: array<u32>, 3 ORDER: array<u32>
// Dispatch: one workgroup of WG threads (n <= 65535 problems, E <= MAX_E experts).

override WG: u32 = 256u;
const MAX_E: u32 = 1024u;

struct Params {
  n: u32,
  experts: u32,
  bt: u32,
  i_offset: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> IDS: array<u32>;
@group(0) @binding(2) var<storage, read_write> PLAN: array<u32>;
@group(0) @binding(3) var<storage, read_write> ORDER: array<u32>;

var<workgroup> cnt: array<atomic<u32>, MAX_E>;
var<workgroup> fill: array<atomic<u32>, MAX_E>;
var<workgroup> off: array<u32, MAX_E>;
var<workgroup> tstart: array<u32, MAX_E>;

@compute @workgroup_size(WG)
fn plan(@builtin(local_invocation_index) lid: u32) {
  let E = P.experts;
  for (var e = lid; e < E; e += WG) {
    atomicStore(&cnt[e], 0u);
    atomicStore(&fill[e], 0u);
  }
  workgroupBarrier();
  for (var i = lid; i < P.n; i += WG) { atomicAdd(&cnt[min(IDS[P.i_offset + i], E - 1u)], 1u); }
  workgroupBarrier();
  if (lid == 0u) {
    var o = 0u;
    var t = 0u;
    for (var e = 0u; e < E; e++) {
      let c = atomicLoad(&cnt[e]);
      off[e] = o;
      tstart[e] = t;
      PLAN[e] = c;
      PLAN[E + e] = o;
      o += c;
      t += (c + P.bt - 1u) / P.bt;
    }
    PLAN[2u * E] = o;
    PLAN[2u * E + 1u] = t;
  }
  workgroupBarrier();
  for (var i = lid; i < P.n; i += WG) {
    let e = min(IDS[P.i_offset + i], E - 1u);
    ORDER[off[e] + atomicAdd(&fill[e], 1u)] = i;
  }
  for (var e = lid; e < E; e += WG) {
    let tiles = (atomicLoad(&cnt[e]) + P.bt - 1u) / P.bt;
    for (var j = 0u; j < tiles; j++) { PLAN[2u * E + 2u + tstart[e] + j] = e | (j << 16u); }
  }
}
