// argmax: index of the largest logit (ties to the lower index), skipping banned ids, so greedy
// decode reads back one u32 — or feeds it to the next step's embedding without a readback.
//
// Math: out = argmax_{i < n, i not in BAN} L[offset + i]; 0xffffffff when every id is banned.
//   Two stages without workgroup barriers (fast on SwiftShader, fine elsewhere):
//     partial: chunk c scans [c chunk, min(n, (c + 1) chunk)) -> PART[2c] = index, PART[2c+1] = value bits
//     final:   one thread scans the chunks in order (strict > keeps the lowest index on ties)
//
// Bindings:
//   0 P: Params (uniform)
//   1 L: array<f32>     logits (n) at offset
//   2 BAN: array<u32>   banned ids (n_banned)
//   3 PART: array<u32>  (chunks, 2) scratch
//   4 OUT: array<u32>   result at out_offset (final)
//
// Dispatch: partial: one thread per chunk, grid linearGrid(chunks, WG); final: grid (1), one thread.

override WG: u32 = 64u;
const NONE: u32 = 0xffffffffu;

struct Params {
  n: u32,
  offset: u32,
  chunk: u32,
  chunks: u32,
  n_banned: u32,
  out_offset: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> L: array<f32>;
@group(0) @binding(2) var<storage, read> BAN: array<u32>;
@group(0) @binding(3) var<storage, read_write> PART: array<u32>;
@group(0) @binding(4) var<storage, read_write> OUT: array<u32>;

fn banned(i: u32) -> bool {
  for (var b = 0u; b < P.n_banned; b++) {
    if (BAN[b] == i) { return true; }
  }
  return false;
}

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (c >= P.chunks) { return; }
  let end = min(P.n, (c + 1u) * P.chunk);
  var best = NONE;
  var best_v = 0.0;
  for (var i = c * P.chunk; i < end; i++) {
    let v = L[P.offset + i];
    if ((best == NONE || v > best_v) && !banned(i)) {
      best = i;
      best_v = v;
    }
  }
  PART[2u * c] = best;
  PART[2u * c + 1u] = bitcast<u32>(best_v);
}

@compute @workgroup_size(1)
fn final_pass() {
  var best = NONE;
  var best_v = 0.0;
  for (var c = 0u; c < P.chunks; c++) {
    let i = PART[2u * c];
    let v = bitcast<f32>(PART[2u * c + 1u]);
    if (i != NONE && (best == NONE || v > best_v)) {
      best = i;
      best_v = v;
    }
  }
  OUT[P.out_offset] = best;
}
