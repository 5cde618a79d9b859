// route-choose-sg: route-choose.wgsl's choice for a workgroup of few threads and many experts
// (matvec-wide-experts.wgsl's gate_up_routed: 64 threads, up to 256 experts), with subgroup
// reductions in place of workgroup trees and rank counting: each thread holds up to 8 experts'
// keys in registers, and the K choices come from K rounds of a workgroup argmax (subgroupMax of
// the keys, subgroupMin of the indices holding the maximum, the subgroups' winners through
// workgroup memory). The same order (key desc, index asc) and the same weights as route-choose
// (its RouteCfg, rc_lg, rc_sel and rc_finish); the softmax sum is added in another order.
// Needs `enable subgroups` and route-choose.wgsl in the module, subgroups of consecutive
// invocations, E <= 8 WG.

const RS_NPT: u32 = 8u; // most experts a thread
const RS_NONE: u32 = 0xffffffffu;

var<workgroup> rs_key: array<f32, 2u * WG>; // each subgroup's candidate key (two buffers of WG: subgroups have >= 1 lane)
var<workgroup> rs_idx: array<u32, 2u * WG>; // and its expert

// Workgroup max (sum = false) or sum of v over the subgroups' partial results in buffer b.
fn rs_reduce(v: f32, sum: bool, lid: u32, sgs: u32, b: u32) -> f32 {
  var s = 0.0;
  if (sum) { s = subgroupAdd(v); } else { s = subgroupMax(v); }
  if (lid % sgs == 0u) { rs_key[b * WG + lid / sgs] = s; }
  workgroupBarrier();
  var r = rs_key[b * WG];
  for (var g = 1u; g < (WG + sgs - 1u) / sgs; g++) {
    let x = rs_key[b * WG + g];
    r = select(max(r, x), r + x, sum);
  }
  return r;
}

// Top-k of the token's logits, already in rc_lg (every thread calls it); returns thread i's
// (< K) final weight, and rc_sel[k] is choice k's expert (the weights: route-choose's rc_finish).
fn rs_choose(lid: u32, sgs: u32, c: RouteCfg) -> f32 {
  let E = c.E;
  let K = c.K;
  // softmax over all experts: max and sum
  var m = 0.0;
  var sum = 1.0;
  if (c.softmax && !c.topk_logits) {
    var lm = RC_NEG_BIG;
    for (var j = 0u; j < RS_NPT; j++) {
      let e = lid + j * WG;
      if (e < E) { lm = max(lm, rc_lg[e]); }
    }
    m = rs_reduce(lm, false, lid, sgs, 0u);
    var ls = 0.0;
    for (var j = 0u; j < RS_NPT; j++) {
      let e = lid + j * WG;
      if (e < E) { ls += exp(rc_lg[e] - m); }
    }
    sum = rs_reduce(ls, true, lid, sgs, 1u);
  }
  // the thread's keys
  var keys: array<f32, RS_NPT>;
  var live = 0u; // bit j: expert lid + j WG not yet chosen
  for (var j = 0u; j < RS_NPT; j++) {
    let e = lid + j * WG;
    if (e < E) {
      keys[j] = rc_key(c, e, m, sum);
      live |= 1u << j;
    }
  }
  // K rounds of a workgroup argmax (buffers alternate, so one barrier a round)
  for (var r = 0u; r < K; r++) {
    var bk = RC_NEG_BIG;
    var bi = RS_NONE;
    for (var j = 0u; j < RS_NPT; j++) {
      // j ascending is index ascending: strict > keeps the lowest index of equal keys
      if ((live & (1u << j)) != 0u && (bi == RS_NONE || keys[j] > bk)) {
        bk = keys[j];
        bi = lid + j * WG;
      }
    }
    let sk = subgroupMax(select(RC_NEG_BIG, bk, bi != RS_NONE));
    let si = subgroupMin(select(RS_NONE, bi, bi != RS_NONE && bk == sk));
    let b = (r & 1u) * WG;
    if (lid % sgs == 0u) {
      rs_key[b + lid / sgs] = sk;
      rs_idx[b + lid / sgs] = si;
    }
    workgroupBarrier();
    var wk = rs_key[b];
    var wi = rs_idx[b];
    for (var g = 1u; g < (WG + sgs - 1u) / sgs; g++) {
      let k2 = rs_key[b + g];
      let i2 = rs_idx[b + g];
      if (i2 != RS_NONE && (wi == RS_NONE || k2 > wk || (k2 == wk && i2 < wi))) {
        wk = k2;
        wi = i2;
      }
    }
    if (wi % WG == lid) { live &= ~(1u << (wi / WG)); }
    if (lid == 0u) { rc_sel[r] = wi; }
  }
  return rc_finish(lid, c, m, sum);
}
