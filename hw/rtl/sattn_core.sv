// sattn_core: the compute pipeline of one query row at a time, fed by the gather unit's tokens.
//
//   tokens -> [QK issue] -> K/Q scratchpad read -> [MAC array: q.k] -> score FIFO
//          -> [softmax: m, l, p, alpha] -> [PV issue] -> V scratchpad read
//          -> [PV lanes: acc = acc*alpha + p*v] ... row end: [finalize: out = acc * out_scale/l]
//          -> output buffer -> write-back unit
//
// QK and PV run concurrently on consecutive keys: with D/LANES_QK == Dv/LANES_PV cycles per key on
// each side the lanes stay busy back to back (Dv != D: the wider side sets the pace). A key waits (stall) until its K row (QK side) or V
// row (PV side) has arrived in the scratchpad; the gather unit fetches ahead of this pipeline.
module sattn_core
  import sattn_isa_pkg::*;
  import sattn_types_pkg::*;
(
  input  logic                  clk,
  input  logic                  rst_n,
  input  logic                  soft_reset,
  input  logic [EW-1:0]         head_dim,    // D: q.k elements
  input  logic [EW-1:0]         head_dim_v,  // Dv: elements of a V row and of the output row
  input  logic                  is_int,
  input  logic [31:0]           score_scale,
  input  logic [31:0]           out_scale,
  // token stream from the gather unit
  input  logic                  tok_valid,
  input  token_t                tok,
  output logic                  tok_pop,
  // readiness of rows in the scratchpads (combinational lookups)
  output logic [KW-1:0]         k_query,
  input  logic                  k_ready,
  output logic [KW-1:0]         v_query,
  input  logic                  v_ready,
  output logic [QSW-1:0]        q_query,
  input  logic                  q_ready,
  output logic                  q_release,
  output logic [QSW-1:0]        q_release_slot,
  // scratchpad read ports (data one cycle after the address)
  output logic                  k_re,
  output logic [SPAD_AW-1:0]    k_raddr,
  input  logic [LANES_QK*32-1:0] k_rdata,
  output logic                  q_re,
  output logic [QBUF_AW-1:0]    q_raddr,
  input  logic [LANES_QK*32-1:0] q_rdata,
  output logic                  v_re,
  output logic [SPAD_AW-1:0]    v_raddr,
  input  logic [LANES_PV*32-1:0] v_rdata,
  // output row buffer to the write-back unit
  output logic                  ob_valid,
  output logic [AW-1:0]         ob_addr,
  output logic [DMAX*32-1:0]    ob_data,
  output logic [31:0]           ob_m,      // the row's running max and denominator (a partial
  output logic [31:0]           ob_l,      // record's last two words, sattn_writeback)
  input  logic                  ob_done,
  // activity for the counters
  output logic [EW-1:0]         qk_lanes_busy,
  output logic [EW-1:0]         pv_lanes_busy,
  output logic                  pair_done,
  output logic                  row_done,
  output logic                  stall_kv,
  output logic                  idle,
  // taps for NSA's scoring path (sattn_nsa): each q.k dot as it leaves the score FIFO (a row
  // end: dot_end), and each finalized row's max and denominator
  output logic                  dot_valid,
  output logic                  dot_end,
  output logic [KW-1:0]         dot_key,
  output logic [31:0]           dot,
  output logic                  fin_valid,
  output logic [31:0]           fin_m,
  output logic [31:0]           fin_l
);
  import sattn_fp_pkg::*;

  localparam int CW = $clog2(DMAX / LANES_QK + 1);
  // keys (and row ends) between QK issue and the softmax: covers the MAC array's pipeline (15
  // cycles from issue at 16 lanes) when a key is one chunk (D <= LANES_QK), plus slack
  localparam int SCORE_DEPTH = 24;
  localparam int FW = $clog2(SCORE_DEPTH + 1);
  localparam int TAGW = 1 + KW + AW;  // {is_end, key, oaddr}

  // ---------------- QK issue ----------------
  logic [CW-1:0] qk_c, qk_nch, pv_nch;
  logic [FW-1:0] inflight;             // keys/ends issued but not yet popped from the score FIFO
  logic          credit_ok;
  logic          qk_go, qk_first, qk_last;
  logic [EW-1:0] qk_rem;

  assign qk_nch = CW'((head_dim + EW'(LANES_QK - 1)) / EW'(LANES_QK));
  assign pv_nch = CW'((head_dim_v + EW'(LANES_PV - 1)) / EW'(LANES_PV));
  assign credit_ok = inflight < FW'(SCORE_DEPTH);
  assign k_query = tok.key;
  assign q_query = tok.slot;
  assign qk_first = qk_c == '0;
  assign qk_last = qk_c == qk_nch - 1'b1;
  assign qk_rem = head_dim - EW'(qk_c) * EW'(LANES_QK);

  always_comb begin
    qk_go = 1'b0;
    stall_kv = 1'b0;
    if (tok_valid) begin
      if (tok.is_end) qk_go = credit_ok;
      else begin
        qk_go = (credit_ok || !qk_first) && k_ready && q_ready;
        stall_kv = !(k_ready && q_ready);
      end
    end
  end

  assign tok_pop = qk_go && (tok.is_end || qk_last);
  assign q_release = qk_go && tok.is_end && tok.has_q;
  assign q_release_slot = tok.slot;
  assign k_re = qk_go && !tok.is_end;
  assign q_re = k_re;
  assign k_raddr = SPAD_AW'(tok.key) * SPAD_AW'(DMAX) + SPAD_AW'(qk_c) * SPAD_AW'(LANES_QK);
  assign q_raddr = QBUF_AW'(tok.slot) * QBUF_AW'(DMAX) + QBUF_AW'(qk_c) * QBUF_AW'(LANES_QK);

  // stage s1: scratchpad data arrives, MAC array consumes it
  logic s1_valid, s1_first, s1_last, s1_end;
  logic [TAGW-1:0] s1_tag;
  logic [LANES_QK-1:0] s1_en;
  logic [EW-1:0] s1_n;

  always_ff @(posedge clk) begin
    if (!rst_n || soft_reset) begin
      qk_c <= '0;
      s1_valid <= 1'b0;
      s1_first <= 1'b0;
      s1_last <= 1'b0;
      s1_end <= 1'b0;
      s1_tag <= '0;
      s1_en <= '0;
      s1_n <= '0;
    end else begin
      s1_valid <= qk_go;
      s1_first <= qk_first;
      s1_last <= qk_last;
      s1_end <= tok.is_end;
      s1_tag <= {tok.is_end, tok.key, tok.oaddr};
      s1_n <= (qk_rem > EW'(LANES_QK)) ? EW'(LANES_QK) : qk_rem;
      for (int k = 0; k < LANES_QK; k++) s1_en[k] <= EW'(k) < qk_rem;
      if (qk_go && !tok.is_end) qk_c <= qk_last ? '0 : qk_c + 1'b1;
    end
  end

  assign qk_lanes_busy = (s1_valid && !s1_end) ? s1_n : '0;

  logic mac_valid, mac_end;
  logic [TAGW-1:0] mac_tag;
  logic [31:0] mac_dot;

  sattn_mac_array #(.LANES(LANES_QK), .TAGW(TAGW)) u_mac (
    .clk, .rst_n,
    .in_valid(s1_valid), .in_first(s1_first), .in_last(s1_last), .in_end(s1_end),
    .in_tag(s1_tag), .is_int, .lane_en(s1_en), .a(q_rdata), .b(k_rdata),
    .out_valid(mac_valid), .out_end(mac_end), .out_tag(mac_tag), .out_dot(mac_dot)
  );

  // score FIFO between the MAC array and the softmax
  logic sf_empty, sf_pop;
  logic [1+TAGW+32-1:0] sf_dout;
  logic sm_in_ready;
  /* verilator lint_off UNUSEDSIGNAL */
  logic sf_full;
  logic [FW-1:0] sf_count;
  /* verilator lint_on UNUSEDSIGNAL */

  sattn_fifo #(.W(1 + TAGW + 32), .DEPTH(SCORE_DEPTH)) u_scores (
    .clk, .rst_n, .flush(soft_reset),
    .push(mac_valid), .din({mac_end, mac_tag, mac_dot}),
    .pop(sf_pop), .dout(sf_dout), .empty(sf_empty), .full(sf_full), .count(sf_count)
  );
  assign sf_pop = !sf_empty && sm_in_ready;
  assign dot_valid = sf_pop && !sf_dout[TAGW+32];
  assign dot_end = sf_pop && sf_dout[TAGW+32];
  assign dot_key = sf_dout[32 + AW +: KW];  // the tag is {is_end, key, oaddr}
  assign dot = sf_dout[31:0];

  always_ff @(posedge clk) begin
    if (!rst_n || soft_reset) inflight <= '0;
    else inflight <= inflight + FW'(qk_go && (tok.is_end || qk_first)) - FW'(sf_pop);
  end

  // ---------------- softmax ----------------
  logic sm_valid, sm_end, sm_ready, sm_busy;
  logic [31:0] sm_p, sm_alpha;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [TAGW-1:0] sm_tag;
  /* verilator lint_on UNUSEDSIGNAL */

  sattn_softmax #(.TAGW(TAGW)) u_softmax (
    .clk, .rst_n, .soft_reset, .score_scale,
    .in_valid(!sf_empty), .in_end(sf_dout[TAGW+32]), .in_dot(sf_dout[31:0]),
    .in_tag(sf_dout[TAGW+31:32]), .in_ready(sm_in_ready),
    .out_valid(sm_valid), .out_end(sm_end), .out_p(sm_p), .out_alpha(sm_alpha),
    .out_tag(sm_tag), .out_ready(sm_ready), .busy(sm_busy)
  );

  // ---------------- PV issue / PV lanes / finalize ----------------
  // PV lanes, pipelined (stage pN holds chunk c of a key issued at cycle t during cycle t+N):
  //   p1: V data arrives, integer codes converted (exact, fp_from_int8)
  //   p2: acc[c] read; fmul_s1(acc, alpha), fmul_s1(p, v)      (l lane, chunk 0: fmul_s1(l, alpha))
  //   p3: fmul_s2 both                                          (l lane: fmul_s2)
  //   p4: fadd_s1(acc * alpha, p * v)                           (l lane: fadd_s1(l * alpha, p))
  //   p5: acc[c] written (fadd_s23)                             (l lane: l written, one-sign add)
  // acc = acc * alpha + p * v and l = l * alpha + p, as the single-cycle lanes computed them
  // (bit-identical). acc[c] is read at t+2 and written at the end of t+5: the loop is PV_LOOP = 4
  // cycles, so chunk c of the next key may issue at t+4 at the earliest -- or at t+2 when its
  // alpha is exactly 1.0 (the running max did not move): acc * 1.0 is acc, so such a key skips
  // the multiply and reads acc (and l) at p4, straight into the adder (bit-identical; a SAT
  // proof in tests/hw/test_pv_shortcuts.py). A key of pv_nch >= 4
  // chunks (D >= 4 * LANES_PV) therefore never waits; a shorter key waits 4 - pv_nch cycles (the
  // measured cost is in docs/rocc.md).
  // Finalize (row end, once the lanes have drained): acc is copied into the output buffer, one
  // chunk per cycle, clearing it, so the next row's keys may start right after. Meanwhile 1/l
  // (the eight reciprocal stages) times out_scale (two stages) comes out FIN_LAT + 1 = 10 cycles
  // after the copy's first chunk, and the buffer is scaled in place, one chunk per cycle
  // (obuf = obuf * fin_mul, two multiplier stages), before it goes to the write-back unit.
  localparam int PV_LOOP = 4;
  localparam int FIN_LAT = 9;   // fin_start to fin_mul's register (see fin_cnt)
  localparam int FCW = $clog2(FIN_LAT + 1);
  localparam int WW = $clog2(PV_LOOP + 1);

  typedef struct packed {
    logic          valid;
    logic          first;  // chunk 0: the l lane updates too
    logic          one;    // alpha == 1.0: acc and l enter the adder unscaled (read at p4)
    logic [CW-1:0] c;
    logic [LANES_PV-1:0] en;
    logic [31:0]   p;
    logic [31:0]   alpha;
  } pv_t;

  logic [KW-1:0] sm_key;
  logic [AW-1:0] sm_oaddr;
  logic [CW-1:0] pv_c;
  logic pv_last, pv_go, pv_gap_ok, fin_start, fin_go, sc_go;
  logic [WW-1:0] pv_wait;             // cycles a new key must still wait (the loop above)
  logic [EW-1:0] pv_rem;
  pv_t p1, p2, p3;
  /* verilator lint_off UNUSEDSIGNAL */
  pv_t p4, p5;  // their p and alpha were used in earlier stages
  /* verilator lint_on UNUSEDSIGNAL */
  logic [EW-1:0] p1_n;
  logic [LANES_PV-1:0][31:0] p2_v;
  fmul1_t ma1 [LANES_PV], pm1 [LANES_PV];
  logic [31:0] ma2 [LANES_PV], pm2 [LANES_PV];
  fadd1_t ad1 [LANES_PV];
  fmul1_t la1;
  logic [31:0] la2, lp2, lp3;
  fadd1_t lad1;
  logic [31:0] l;                     // the row's softmax denominator
  logic [DMAX-1:0][31:0] acc;         // the output row being accumulated (registers)
  logic [DMAX-1:0][31:0] obuf;        // the finished row waiting for write-back
  // finalize
  logic sc_busy, l_zero;               // scaling the output buffer
  logic [FCW-1:0] fin_cnt;
  logic [CW-1:0] sc_c;
  logic sc_last;
  frec_t rc [7];
  logic [31:0] rcp, fin_mul;
  fmul1_t fs1;
  logic f1_valid, f1_last;
  logic [CW-1:0] f1_c;
  fmul1_t fm1 [LANES_PV];
  logic [AW-1:0] f_oaddr;
  logic [31:0] f_m, f_l;               // the finalized row's m and l (held while it is written)

  assign sm_key = sm_tag[AW +: KW];  // sm_tag[TAGW-1] (is_end) duplicates sm_end
  assign sm_oaddr = sm_tag[AW-1:0];
  assign v_query = sm_key;
  assign pv_last = pv_c == pv_nch - 1'b1;
  assign pv_rem = head_dim_v - EW'(pv_c) * EW'(LANES_PV);
  // a key whose alpha is 1.0 reads acc two stages later (at p4, skipping acc * 1.0, which is
  // acc exactly), so it may issue two cycles sooner
  assign pv_gap_ok = pv_c != '0 || pv_wait == '0 || (sm_alpha == FP_ONE && pv_wait <= WW'(2));
  assign pv_go = sm_valid && !sm_end && v_ready && pv_gap_ok;
  // a row end waits until the lanes have drained (acc and l final) and the output buffer is free
  assign fin_start = sm_valid && sm_end && pv_c == '0 && !p1.valid && !p2.valid && !p3.valid
                     && !p4.valid && !p5.valid && !sc_busy && !f1_valid && !ob_valid;
  assign fin_go = fin_start || (sm_valid && sm_end && pv_c != '0);
  assign sc_go = sc_busy && fin_cnt == '0;
  assign sc_last = sc_c == pv_nch - 1'b1;
  assign sm_ready = (pv_go || fin_go) && pv_last;
  assign v_re = pv_go;
  assign v_raddr = SPAD_AW'(sm_key) * SPAD_AW'(DMAX) + SPAD_AW'(pv_c) * SPAD_AW'(LANES_PV);

  // datapath registers (no reset needed: qualified by the valid bits below)
  always_ff @(posedge clk) begin
    // p1 -> p2: V conversion
    for (int k = 0; k < LANES_PV; k++)
      p2_v[k] <= is_int ? fp_from_int8(v_rdata[k*32 +: 8]) : v_rdata[k*32 +: 32];
    // p2 -> p3: products
    for (int k = 0; k < LANES_PV; k++) begin
      ma1[k] <= fmul_s1(acc[int'(p2.c) * LANES_PV + k], p2.alpha);
      pm1[k] <= fmul_s1(p2.p, p2_v[k]);
    end
    la1 <= fmul_s1(l, p2.alpha);
    lp2 <= p2.p;
    // p3 -> p4
    for (int k = 0; k < LANES_PV; k++) begin
      ma2[k] <= fmul_s2(ma1[k]);
      pm2[k] <= fmul_s2(pm1[k]);
    end
    la2 <= fmul_s2(la1);
    lp3 <= lp2;
    // p4 -> p5: first adder stage
    for (int k = 0; k < LANES_PV; k++)
      ad1[k] <= fadd_s1(p4.one ? acc[int'(p4.c) * LANES_PV + k] : ma2[k], pm2[k]);
    lad1 <= fadd_s1(p4.one ? l : la2, lp3);
    // finalize: out_scale / l (an empty row has l == 0 and yields zeros)
    rc[0] <= frec_seed(l);
    rc[1] <= frec_my(rc[0]);
    rc[2] <= frec_two_minus(rc[1]);
    rc[3] <= frec_step(rc[2]);
    rc[4] <= frec_my(rc[3]);
    rc[5] <= frec_two_minus(rc[4]);
    rc[6] <= frec_step(rc[5]);
    rcp <= frec_pack(rc[6]);
    fs1 <= fmul_s1(out_scale, rcp);
    if (sc_busy && fin_cnt == FCW'(1)) fin_mul <= l_zero ? 32'd0 : fmul_s2(fs1);
    for (int k = 0; k < LANES_PV; k++) fm1[k] <= fmul_s1(obuf[int'(sc_c) * LANES_PV + k], fin_mul);
    f1_c <= sc_c;
    // the copy (chunk c at T + c) always precedes the scaling of chunk c (T + 10 + c)
    if (f1_valid)
      for (int k = 0; k < LANES_PV; k++) obuf[int'(f1_c) * LANES_PV + k] <= fmul_s2(fm1[k]);
    else if (fin_go)
      for (int k = 0; k < LANES_PV; k++)
        obuf[int'(pv_c) * LANES_PV + k] <= acc[int'(pv_c) * LANES_PV + k];
  end

  always_ff @(posedge clk) begin
    if (!rst_n || soft_reset) begin
      pv_c <= '0;
      pv_wait <= '0;
      p1 <= '0;
      p2 <= '0;
      p3 <= '0;
      p4 <= '0;
      p5 <= '0;
      p1_n <= '0;
      l <= '0;
      acc <= '0;
      sc_busy <= 1'b0;
      sc_c <= '0;
      fin_cnt <= '0;
      l_zero <= 1'b0;
      f1_valid <= 1'b0;
      f1_last <= 1'b0;
      f_oaddr <= '0;
      f_m <= '0;
      f_l <= '0;
      ob_valid <= 1'b0;
      ob_addr <= '0;
    end else begin
      p1.valid <= pv_go;
      p1.first <= pv_c == '0;
      p1.c <= pv_c;
      p1.p <= sm_p;
      p1.alpha <= sm_alpha;
      p1.one <= sm_alpha == FP_ONE;
      p1_n <= (pv_rem > EW'(LANES_PV)) ? EW'(LANES_PV) : pv_rem;
      for (int k = 0; k < LANES_PV; k++) p1.en[k] <= EW'(k) < pv_rem;
      p2 <= p1;
      p3 <= p2;
      p4 <= p3;
      p5 <= p4;
      if (pv_go || fin_go) pv_c <= pv_last ? '0 : pv_c + 1'b1;
      if (pv_go && pv_last)
        pv_wait <= (int'(pv_nch) >= PV_LOOP) ? '0 : WW'(PV_LOOP) - WW'(pv_nch);
      else if (pv_wait != '0) pv_wait <= pv_wait - 1'b1;
      // p5: accumulators and l written
      if (p5.valid) begin
        for (int k = 0; k < LANES_PV; k++)
          if (p5.en[k]) acc[int'(p5.c) * LANES_PV + k] <= fadd_s23(ad1[k]);
        // l * alpha >= 0 and p >= 0: the one-sign adder (no leading-zero count), which kept
        // this register off the 8.45 ns clock (8.77 ns with fadd_s23; docs/rocc.md)
        if (p5.first) l <= fadd_same_sign_s23(lad1);
      end
      // finalize
      if (fin_start) begin
        sc_busy <= 1'b1;
        fin_cnt <= FCW'(FIN_LAT);
        l_zero <= fp_is_zero(l);
        f_oaddr <= sm_oaddr;
        f_m <= sm_p;  // a row end carries the row's max in p (sattn_softmax)
        f_l <= l;
      end else if (sc_busy && fin_cnt != '0) fin_cnt <= fin_cnt - 1'b1;
      if (fin_go) begin
        for (int k = 0; k < LANES_PV; k++) acc[int'(pv_c) * LANES_PV + k] <= 32'd0;
        if (pv_last) l <= '0;
      end
      if (sc_go) begin
        sc_c <= sc_last ? '0 : sc_c + 1'b1;
        if (sc_last) sc_busy <= 1'b0;
      end
      f1_valid <= sc_go;
      f1_last <= sc_go && sc_last;
      if (f1_valid && f1_last) begin
        ob_valid <= 1'b1;
        ob_addr <= f_oaddr;
      end
      if (ob_done) ob_valid <= 1'b0;
    end
  end

  assign ob_data = obuf;
  assign fin_valid = fin_start;
  assign fin_m = sm_p;  // a row end carries the row's max in p
  assign fin_l = l;
  assign ob_m = f_m;  // fin_start waits for !ob_valid: f_m/f_l stay put while the row is written
  assign ob_l = f_l;

  assign pv_lanes_busy = p1.valid ? p1_n : '0;
  assign pair_done = pv_go && pv_last;
  assign row_done = fin_go && pv_last;
  assign idle = !tok_valid && !s1_valid && sf_empty && inflight == '0 && !mac_valid && !sm_busy
                && !p1.valid && !p2.valid && !p3.valid && !p4.valid && !p5.valid && !sc_busy && !f1_valid
                && !ob_valid;
endmodule
