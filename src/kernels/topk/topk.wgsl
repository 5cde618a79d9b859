// topk: the k largest logits with their ids, sorted (value desc, id asc), skipping banned ids —
// the candidates a CPU sampler needs (temperature / top-p / min-p over the top k) without reading
// back the whole vocabulary.
//
// Math: ids/values of the k best L[offset + i], i < n, i not in BAN, by (value desc, index asc).
//   Missing entries (n - banned < k) are id 0xffffffff, value -3e38.
//   Two stages without workgroup barriers:
//     partial: chunk c keeps its own sorted top k in registers -> PART[(c k + j) 2 + {0, 1}]
//     final:   one thread merges the chunks' candidates the same way
//
// Bindings:
//   0 P: Params (uniform)
//   1 L: array<f32>      logits (n) at offset
//   2 BAN: array<u32>    banned ids (n_banned)
//   3 PART: array<u32>   (chunks, k, 2) scratch
//   4 IDS: array<u32>    (k) at out_offset
//   5 VALS: array<f32>   (k) at out_offset
//
// Dispatch: partial: one thread per chunk, grid linearGrid(chunks, WG); final: grid (1), one thread.
//   k <= 64.

override WG: u32 = 64u;
const MAX_K: u32 = 64u;
const NONE: u32 = 0xffffffffu;
const NEG_BIG: f32 = -3.0e38;

struct Params {
  n: u32,
  offset: u32,
  chunk: u32,
  chunks: u32,
  k: u32,
  n_banned: u32,
  out_offset: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> L: array<f32>;
@group(0) @binding(2) var<storage, read> BAN: array<u32>;
@group(0) @binding(3) var<storage, read_write> PART: array<u32>;
@group(0) @binding(4) var<storage, read_write> IDS: array<u32>;
@group(0) @binding(5) var<storage, read_write> VALS: array<f32>;

var<private> ids: array<u32, MAX_K>;
var<private> vals: array<f32, MAX_K>;
var<private> count: u32;

fn banned(i: u32) -> bool {
  for (var b = 0u; b < P.n_banned; b++) {
    if (BAN[b] == i) { return true; }
  }
  return false;
}

fn better(v: f32, i: u32, w: f32, j: u32) -> bool {
  return v > w || (v == w && i < j);
}

// Insert (v, i) into the sorted private list of at most k entries.
fn offer(v: f32, i: u32) {
  let k = P.k;
  if (count == k && !better(v, i, vals[k - 1u], ids[k - 1u])) { return; }
  var j = min(count, k - 1u); // slot to fill, moving worse entries down
  if (count < k) { count++; }
  loop {
    if (j == 0u || !better(v, i, vals[j - 1u], ids[j - 1u])) { break; }
    vals[j] = vals[j - 1u];
    ids[j] = ids[j - 1u];
    j--;
  }
  vals[j] = v;
  ids[j] = i;
}

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = (wid.y * nwg.x + wid.x) * WG + lid.x;
  if (c >= P.chunks) { return; }
  count = 0u;
  let end = min(P.n, (c + 1u) * P.chunk);
  for (var i = c * P.chunk; i < end; i++) {
    if (!banned(i)) { offer(L[P.offset + i], i); }
  }
  for (var j = 0u; j < P.k; j++) {
    let o = 2u * (c * P.k + j);
    PART[o] = select(NONE, ids[j], j < count);
    PART[o + 1u] = bitcast<u32>(select(NEG_BIG, vals[j], j < count));
  }
}

@compute @workgroup_size(1)
fn final_pass() {
  count = 0u;
  for (var e = 0u; e < P.chunks * P.k; e++) {
    let i = PART[2u * e];
    if (i != NONE) { offer(bitcast<f32>(PART[2u * e + 1u]), i); }
  }
  for (var j = 0u; j < P.k; j++) {
    IDS[P.out_offset + j] = select(NONE, ids[j], j < count);
    VALS[P.out_offset + j] = select(NEG_BIG, vals[j], j < count);
  }
}
