// matvec-wide experts: the fused expert products of the wide design (gate_up, down_sum; the
// math, Params and bindings of matvec-fast.wgsl's), appended to matvec-wide.wgsl by matvec.ts and
// built on its rows_dot / rows_dot2, unit decoders and epilogue.
//   GU (gate_up): a team's RPT registers hold RPT / 2 gate rows and the same up rows, read in
//   one unit loop, instead of RPT gate rows then RPT up rows in two loops one after the other.
//   KX (down_sum): the K experts of a token inside the unit loop (their loads in flight together).
//   KT (down_sum): a workgroup of K teams, team k expert k's rows (the K experts' loads spread
//   over K times the threads, not one after another in one team), summed in workgroup memory;
//   K <= 8.

var<workgroup> kt_red: array<vec4<f32>, 16>; // KT: each team's weighted rows (.a, .b)

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

@compute @workgroup_size(WG)
fn gate_up(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  gate_up_rows(wid, lid, S[P.slot_offset + wid.y]);
}

// gate_up_routed (decode, every expert resident): the token's top-k chosen inside each workgroup
// from its router logits (route-choose-sg.wgsl, appended by matvec.ts: route-fast's order and
// weights, with subgroup argmax rounds; every workgroup makes the same choice) instead of a
// route-fast dispatch between the router and this one — a dependent dispatch costs more than the
// choice (H100). Problem p = t K + k takes choice
// k; its slot is S[slot_offset + expert] (S the layer's expert -> slot table); workgroup (0, t K)
// also writes the token's ids, weights and slots for down_sum.
// Bindings beyond gate_up's: 10 RL router logits (T, E) at r_l_offset, 11 RSB selection bias (E),
//   12 RIDS, 13 RWTS, 14 RSLOTS (T, K) out at r_out_offset.
@group(0) @binding(10) var<storage, read> RL: array<f32>;
@group(0) @binding(11) var<storage, read> RSB: array<f32>;
@group(0) @binding(12) var<storage, read_write> RIDS: array<u32>;
@group(0) @binding(13) var<storage, read_write> RWTS: array<f32>;
@group(0) @binding(14) var<storage, read_write> RSLOTS: array<u32>;

@compute @workgroup_size(WG)
fn gate_up_routed(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_size) sgs: u32) {
  let K = P.k_experts;
  let E = P.r_experts;
  let t = wid.y / K;
  let f = P.r_flags;
  let c = RouteCfg(E, K, (f & 1u) != 0u, (f & 2u) != 0u, (f & 4u) != 0u, (f & 8u) != 0u, P.r_scaling);
  for (var e = lid; e < E; e += WG) {
    rc_lg[e] = RL[P.r_l_offset + t * E + e];
    if (c.biased) { rc_sb[e] = RSB[e]; }
  }
  workgroupBarrier();
  let w = rs_choose(lid, sgs, c);
  if (wid.x == 0u && wid.y % K == 0u && lid < K) {
    let o = P.r_out_offset + t * K + lid;
    RIDS[o] = rc_sel[lid];
    RWTS[o] = w;
    RSLOTS[o] = S[P.slot_offset + rc_sel[lid]];
  }
  let e = workgroupUniformLoad(&rc_sel[wid.y % K]);
  gate_up_rows(wid, lid, S[P.slot_offset + e]);
}

// The gate + up rows of problem wid.y (expert blob at word `slot`) through the activation.
fn gate_up_rows(wid: vec3<u32>, lid: u32, slot: u32) {
  let lane = lid % TPR;
  let NR = select(RPT, RPT / 2u, GU); // output rows a team
  let r0 = (wid.x * (WG / TPR) + lid / TPR) * NR;
  let p = wid.y;
  let x4 = (P.x_offset + (p / P.x_div) * P.x_stride) / 4u;
  let lut = lut_entry(lid); // the table by subgroup lane (lid % 16: subgroups of >= 16 start at multiples of 16)
  var ga: Acc;
  var ua: Acc;
  if (GU) {
    // gate rows in .a, up rows in .b (NR <= 4 each)
    let both = rows_dot2(P.w_offset + slot, P.w2_offset + slot, P.rows, r0, r0, NR, NR, x4, lane, lut);
    ga = Acc(both.a, vec4<f32>(0.0));
    ua = Acc(both.b, vec4<f32>(0.0));
  } else {
    ga = rows_dot(P.w_offset + slot, P.rows, r0, x4, lane, lut);
    ua = rows_dot(P.w2_offset + slot, P.rows, r0, x4, lane, lut);
  }
  if (lane != 0u) { return; }
  for (var i = 0u; i < NR; i++) {
    let r = r0 + i;
    if (r < P.rows) {
      var g = pick8(ga, i);
      var u = pick8(ua, i);
      if (P.has_bias != 0u) {
        g += B[P.b_offset + slot + r];
        u += B[P.b2_offset + slot + r];
      }
      var a = 0.0;
      if (P.act == 1u) {
        let gc = min(g, P.act_limit);
        let uc = clamp(u, -P.act_limit, P.act_limit);
        a = (uc + 1.0) * gc * sigmoid(P.act_alpha * gc);
      } else {
        a = g * sigmoid(g) * u;
      }
      Y[P.y_offset + p * P.y_stride + r] = a;
    }
  }
}

// down_sum with KX > 0: the unit loop outside, the KX experts inside (a constant trip count, so
// the loads of every expert's unit can be in flight together); sum_k w_k (row . a_k) per lane,
// then one team sum; biases added after it.
fn down_sum_kx(r0: u32, t: u32, lane: u32, lut: f32) -> Acc {
  let G = P.cols / 32u;
  let bits = select(select(select(4u, 8u, KIND == 2u), 16u, KIND == 1u), 32u, KIND == 0u);
  let row_words = P.cols * bits / 32u;
  let U = row_words / 4u;
  let wpg = select(4u, 8u, KIND == 2u);
  let rows = P.rows;
  let last = rows - 1u;
  let na = min(RPT, 4u);
  let nb = RPT - na;
  let ra = vec4<u32>(min(r0, last), min(r0 + 1u, last), min(r0 + 2u, last), min(r0 + 3u, last));
  let rb4 = vec4<u32>(min(r0 + 4u, last), min(r0 + 5u, last), min(r0 + 6u, last), min(r0 + 7u, last));
  var acc = Acc(vec4<f32>(0.0), vec4<f32>(0.0));
  for (var u0 = 0u; u0 < U; u0 += TPR) {
    let ul = u0 + lane;
    let u = min(ul, U - 1u);
    let live = ul < U;
    for (var k = 0u; k < KX; k++) {
      let p = t * KX + k;
      let mat = P.w_offset + S[P.slot_offset + p];
      let sbase = mat + rows * G * wpg;
      let cur_a = load_unit(vec4<u32>(mat) + ra * row_words, ra, u, sbase, G, na);
      let cur_b = load_unit(vec4<u32>(mat) + rb4 * row_words, rb4, u, sbase, G, nb);
      let x = load_x((P.x_offset + p * P.x_stride) / 4u, u);
      let wk = select(0.0, WTS[P.wts_offset + p], live);
      acc.a += wk * unit_rows(cur_a, ra, u, G, x, lut, na);
      if (nb > 0u) { acc.b += wk * unit_rows(cur_b, rb4, u, G, x, lut, nb); }
    }
  }
  acc.a = team_sum(acc.a);
  if (nb > 0u) { acc.b = team_sum(acc.b); }
  if (P.has_bias != 0u) {
    for (var k = 0u; k < KX; k++) {
      let p = t * KX + k;
      let slot = S[P.slot_offset + p];
      let wk = WTS[P.wts_offset + p];
      acc.a += wk * bias4(P.b_offset + slot, r0);
      if (RPT > 4u) { acc.b += wk * bias4(P.b_offset + slot, r0 + 4u); }
    }
  }
  return acc;
}

// Problem p's (token, expert) rows r0 .. r0 + RPT - 1 of down, plus its bias, times its routing
// weight, summed over the team.
fn expert_rows(p: u32, r0: u32, lane: u32, lut: f32) -> Acc {
  let slot = S[P.slot_offset + p];
  var v = rows_dot(P.w_offset + slot, P.rows, r0, (P.x_offset + p * P.x_stride) / 4u, lane, lut);
  if (P.has_bias != 0u) {
    v.a += bias4(P.b_offset + slot, r0);
    if (RPT > 4u) { v.b += bias4(P.b_offset + slot, r0 + 4u); }
  }
  let wk = WTS[P.wts_offset + p];
  return Acc(wk * v.a, wk * v.b);
}

@compute @workgroup_size(WG)
fn down_sum(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lane = lid % TPR;
  if (KT > 0u) {
    // team k: expert k's RPT rows (as one of a dense matvec's teams), weighted; then threads
    // i < RPT each sum row i over the teams
    let k = lid / TPR;
    let r0 = wid.x * RPT;
    let v = expert_rows(wid.y * KT + k, r0, lane, lut_entry(lid));
    if (lane == 0u) {
      kt_red[2u * k] = v.a;
      kt_red[2u * k + 1u] = v.b;
    }
    workgroupBarrier();
    for (var i = lid; i < RPT; i += WG) { // (a workgroup may have fewer threads than rows)
      let r = r0 + i;
      if (r >= P.rows) { break; }
      var y = 0.0;
      for (var j = 0u; j < KT; j++) { y += pick8(Acc(kt_red[2u * j], kt_red[2u * j + 1u]), i); }
      epilogue(P.y_offset + wid.y * P.y_stride + r, P.h_offset + wid.y * P.y_stride + r, y);
    }
    return;
  }
  let r0 = (wid.x * (WG / TPR) + lid / TPR) * RPT;
  let t = wid.y;
  let lut = lut_entry(lid); // the table by subgroup lane (lid % 16: subgroups of >= 16 start at multiples of 16)
  var out = Acc(vec4<f32>(0.0), vec4<f32>(0.0));
  if (KX > 0u) { out = down_sum_kx(r0, t, lane, lut); }
  for (var k = 0u; k < select(P.k_experts, 0u, KX > 0u); k++) {
    let v = expert_rows(t * P.k_experts + k, r0, lane, lut);
    out.a += v.a;
    out.b += v.b;
  }
  if (lane != 0u) { return; }
  for (var i = 0u; i < RPT; i++) {
    let r = r0 + i;
    if (r < P.rows) { epilogue(P.y_offset + t * P.y_stride + r, P.h_offset + t * P.y_stride + r, pick8(out, i)); }
  }
}
