// lightning: MiniMax-Text-01 lightning (linear, decayed) attention over a per-head f32 state
// KV (hd x hd), for T new tokens whose q, k, v already went through SiLU.
//
// Math (per head h with decay s = DECAY[h]):
//   recurrence (entry `recurrent`, any T, token by token):
//     KV = exp(-s) KV + k_t^T v_t,   o_t = q_t KV
//   block form (entries `block_scores`, `block_output`, `block_state`, once per block of n tokens,
//   in that order; i, j are 0-based inside the block):
//     S[i, j]  = exp(-s (i - j)) (q_i . k_j) for j <= i, else 0 (explicit zero, no -inf mask)
//     o_i      = exp(-s (i + 1)) q_i KV_prev + sum_j S[i, j] v_j
//     KV_new   = exp(-s n) KV_prev + sum_j exp(-s (n - 1 - j)) k_j^T v_j
//   Both forms are the same function of the inputs (reference/attention.ts lightningAttention).
//
// Bindings (each entry uses a subset):
//   0 P: Params (uniform)
//   1 Q: array<f32>      (T, in_tstride) at q_offset, head h at + h hd
//   2 K: array<f32>      (T, in_tstride) at k_offset
//   3 V: array<f32>      (T, in_tstride) at v_offset
//   4 DECAY: array<f32>  (H) decay rates s_h
//   5 KV: array<f32>     (H, hd, hd) state, KV[h, a, c] at (h hd + a) hd + c
//   6 SCR: array<f32>    (H, block, block) block scores scratch
//   7 O: array<f32>      (T, o_tstride) at o_offset
//
// Dispatch (workgroup (WG, 1, 1), flat ids through linearGrid):
//   recurrent:    one thread per (h, c): H hd threads, each walks the T tokens
//   block_scores: one thread per (h, i, j):  H n n
//   block_output: one thread per (h, i, c):  H n hd
//   block_state:  one thread per (h, a, c):  H hd hd

override WG: u32 = 64u;

struct Params {
  tokens: u32,
  heads: u32,
  hd: u32,
  q_offset: u32,
  k_offset: u32,
  v_offset: u32,
  in_tstride: u32,
  o_offset: u32,
  o_tstride: u32,
  block_start: u32,
  block_len: u32,
  block: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;
@group(0) @binding(4) var<storage, read> DECAY: array<f32>;
@group(0) @binding(5) var<storage, read_write> KV: array<f32>;
@group(0) @binding(6) var<storage, read_write> SCR: array<f32>;
@group(0) @binding(7) var<storage, read_write> O: array<f32>;

fn flat_id(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid.x;
}

// first element of token t's head h in an input with offset `off`
fn in_at(off: u32, t: u32, h: u32) -> u32 {
  return off + t * P.in_tstride + h * P.hd;
}

@compute @workgroup_size(WG)
fn recurrent(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let id = flat_id(wid, nwg, lid);
  let hd = P.hd;
  if (id >= P.heads * hd) { return; }
  let h = id / hd;
  let c = id % hd;
  let ratio = exp(-DECAY[h]);
  let kv0 = h * hd * hd + c; // KV[h, a, c] = KV[kv0 + a hd]
  for (var t = 0u; t < P.tokens; t++) {
    let qo = in_at(P.q_offset, t, h);
    let ko = in_at(P.k_offset, t, h);
    let vc = V[in_at(P.v_offset, t, h) + c];
    var o = 0.0;
    for (var a = 0u; a < hd; a++) {
      let x = ratio * KV[kv0 + a * hd] + K[ko + a] * vc;
      KV[kv0 + a * hd] = x;
      o += Q[qo + a] * x;
    }
    O[P.o_offset + t * P.o_tstride + h * hd + c] = o;
  }
}

@compute @workgroup_size(WG)
fn block_scores(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let id = flat_id(wid, nwg, lid);
  let n = P.block_len;
  if (id >= P.heads * n * n) { return; }
  let j = id % n;
  let i = (id / n) % n;
  let h = id / (n * n);
  var v = 0.0;
  if (j <= i) {
    let qo = in_at(P.q_offset, P.block_start + i, h);
    let ko = in_at(P.k_offset, P.block_start + j, h);
    var dot = 0.0;
    for (var a = 0u; a < P.hd; a++) { dot += Q[qo + a] * K[ko + a]; }
    v = dot * exp(-DECAY[h] * f32(i - j));
  }
  SCR[(h * P.block + i) * P.block + j] = v;
}

@compute @workgroup_size(WG)
fn block_output(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let id = flat_id(wid, nwg, lid);
  let n = P.block_len;
  let hd = P.hd;
  if (id >= P.heads * n * hd) { return; }
  let c = id % hd;
  let i = (id / hd) % n;
  let h = id / (hd * n);
  let qo = in_at(P.q_offset, P.block_start + i, h);
  var inter = 0.0;
  for (var a = 0u; a < hd; a++) { inter += Q[qo + a] * KV[(h * hd + a) * hd + c]; }
  var o = inter * exp(-DECAY[h] * f32(i + 1u));
  for (var j = 0u; j <= i; j++) {
    o += SCR[(h * P.block + i) * P.block + j] * V[in_at(P.v_offset, P.block_start + j, h) + c];
  }
  O[P.o_offset + (P.block_start + i) * P.o_tstride + h * hd + c] = o;
}

@compute @workgroup_size(WG)
fn block_state(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let id = flat_id(wid, nwg, lid);
  let hd = P.hd;
  if (id >= P.heads * hd * hd) { return; }
  let c = id % hd;
  let a = (id / hd) % hd;
  let h = id / (hd * hd);
  let s = DECAY[h];
  let n = P.block_len;
  var x = exp(-s * f32(n)) * KV[id];
  for (var j = 0u; j < n; j++) {
    let t = P.block_start + j;
    x += K[in_at(P.k_offset, t, h) + a] * exp(-s * f32(n - 1u - j)) * V[in_at(P.v_offset, t, h) + c];
  }
  KV[id] = x;
}
