// argmax (fast variant): argmax.wgsl's result (the lowest index of the largest value, banned ids
// skipped; 0xffffffff when none is left) with workgroups instead of single threads: the LM head's
// 150k-200k logits take ~130 us through one-thread chunks and a one-thread final pass.
//
// How it parallelizes: `partial`: workgroup c scans [c chunk, (c + 1) chunk) with its threads
// strided, then a workgroup tree reduction of (value, index) pairs, ordered by value desc then
// index asc; `final_pass`: one workgroup reduces the chunks' pairs the same way.
//
// Bindings: as argmax.wgsl (0 P, 1 L, 2 BAN, 3 PART, 4 OUT).
// Dispatch: partial: grid (chunks), workgroup WG; final_pass: grid (1), workgroup WG.

override WG: u32 = 256u;
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

var<workgroup> rv: array<f32, WG>;
var<workgroup> ri: array<u32, WG>;

fn banned(i: u32) -> bool {
  for (var b = 0u; b < P.n_banned; b++) {
    if (BAN[b] == i) { return true; }
  }
  return false;
}

// (v, i) beats (bv, bi): a real index, and a larger value or the same value at a lower index.
fn better(v: f32, i: u32, bv: f32, bi: u32) -> bool {
  return i != NONE && (bi == NONE || v > bv || (v == bv && i < bi));
}

fn reduce(t: u32, v: f32, i: u32) {
  rv[t] = v;
  ri[t] = i;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s && better(rv[t + s], ri[t + s], rv[t], ri[t])) {
      rv[t] = rv[t + s];
      ri[t] = ri[t + s];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let c = wid.y * nwg.x + wid.x;
  if (c >= P.chunks) { return; }
  let end = min(P.n, (c + 1u) * P.chunk);
  var best = NONE;
  var best_v = 0.0;
  for (var i = c * P.chunk + t; i < end; i += WG) {
    let v = L[P.offset + i];
    if (better(v, i, best_v, best) && !banned(i)) {
      best = i;
      best_v = v;
    }
  }
  reduce(t, best_v, best);
  if (t == 0u) {
    PART[2u * c] = ri[0];
    PART[2u * c + 1u] = bitcast<u32>(rv[0]);
  }
}

@compute @workgroup_size(WG)
fn final_pass(@builtin(local_invocation_index) t: u32) {
  var best = NONE;
  var best_v = 0.0;
  for (var c = t; c < P.chunks; c += WG) {
    let i = PART[2u * c];
    let v = bitcast<f32>(PART[2u * c + 1u]);
    if (better(v, i, best_v, best)) {
      best = i;
      best_v = v;
    }
  }
  reduce(t, best_v, best);
  if (t == 0u) { OUT[P.out_offset] = ri[0]; }
}
