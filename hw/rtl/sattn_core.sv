// sattn_core: the compute pipeline of one query row at a time, fed by the gather unit's tokens.
//
//   tokens -> [QK issue] -> K/Q scratchpad read -> [MAC array: q.k] -> score FIFO
//          -> [softmax: m, l, p, alpha] -> [PV issue] -> V scratchpad read
//          -> [PV lanes: acc = acc*alpha + p*v] ... row end: [finalize: out = acc * out_scale/l]
//          -> output buffer -> write-back unit
//
// QK and PV run concurrently on consecutive keys: with D/LANES_QK == D/LANES_PV cycles per key on
// each side the lanes stay busy back to back. A key waits (stall) until its K row (QK side) or V
// row (PV side) has arrived in the scratchpad; the gather unit fetches ahead of this pipeline.
module sattn_core
  import sattn_isa_pkg::*;
  import sattn_types_pkg::*;
(
  input  logic                  clk,
  input  logic                  rst_n,
  input  logic                  soft_reset,
  input  logic [EW-1:0]         head_dim,
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
  input  logic                  ob_done,
  // activity for the counters
  output logic [EW-1:0]         qk_lanes_busy,
  output logic [EW-1:0]         pv_lanes_busy,
  output logic                  pair_done,
  output logic                  row_done,
  output logic                  stall_kv,
  output logic                  idle
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
  assign pv_nch = CW'((head_dim + EW'(LANES_PV - 1)) / EW'(LANES_PV));
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

  always_ff @(posedge clk) begin
    if (!rst_n || soft_reset) inflight <= '0;
    else inflight <= inflight + FW'(qk_go && (tok.is_end || qk_first)) - FW'(sf_pop);
  end

  // ---------------- softmax ----------------
  logic sm_valid, sm_end, sm_ready;
  logic [31:0] sm_p, sm_alpha, sm_l;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [TAGW-1:0] sm_tag;
  /* verilator lint_on UNUSEDSIGNAL */

  sattn_softmax #(.TAGW(TAGW)) u_softmax (
    .clk, .rst_n, .soft_reset, .score_scale,
    .in_valid(!sf_empty), .in_end(sf_dout[TAGW+32]), .in_dot(sf_dout[31:0]),
    .in_tag(sf_dout[TAGW+31:32]), .in_ready(sm_in_ready),
    .out_valid(sm_valid), .out_end(sm_end), .out_p(sm_p), .out_alpha(sm_alpha), .out_l(sm_l),
    .out_tag(sm_tag), .out_ready(sm_ready)
  );

  // ---------------- PV issue / finalize ----------------
  logic [KW-1:0] sm_key;
  logic [AW-1:0] sm_oaddr;
  logic [CW-1:0] pv_c;
  logic pv_last, pv_go, fin_go;
  logic [EW-1:0] pv_rem;
  logic p1_valid;
  logic [CW-1:0] p1_c;
  logic [31:0] p1_p, p1_alpha;
  logic [LANES_PV-1:0] p1_en;
  logic [EW-1:0] p1_n;
  logic [DMAX-1:0][31:0] acc;   // the output row being accumulated (registers)
  logic [DMAX-1:0][31:0] obuf;  // the finished row waiting for write-back
  logic [31:0] fin_mul;

  assign sm_key = sm_tag[AW +: KW];  // sm_tag[TAGW-1] (is_end) duplicates sm_end
  assign sm_oaddr = sm_tag[AW-1:0];
  assign v_query = sm_key;
  assign pv_last = pv_c == pv_nch - 1'b1;
  assign pv_rem = head_dim - EW'(pv_c) * EW'(LANES_PV);
  // a row end waits until the last key's lanes have written the accumulator, and until the
  // output buffer has been drained by the write-back unit
  assign pv_go = sm_valid && !sm_end && v_ready;
  assign fin_go = sm_valid && sm_end && !p1_valid && !ob_valid;
  assign sm_ready = (pv_go || fin_go) && pv_last;
  assign v_re = pv_go;
  assign v_raddr = SPAD_AW'(sm_key) * SPAD_AW'(DMAX) + SPAD_AW'(pv_c) * SPAD_AW'(LANES_PV);
  // out_scale / l (an empty row has l == 0 and yields zeros)
  assign fin_mul = fp_is_zero(sm_l) ? 32'd0 : fp_mul(out_scale, fp_recip(sm_l));

  always_ff @(posedge clk) begin
    if (!rst_n || soft_reset) begin
      pv_c <= '0;
      p1_valid <= 1'b0;
      p1_c <= '0;
      p1_p <= '0;
      p1_alpha <= '0;
      p1_en <= '0;
      p1_n <= '0;
      ob_valid <= 1'b0;
      ob_addr <= '0;
      acc <= '0;
    end else begin
      p1_valid <= pv_go;
      p1_c <= pv_c;
      p1_p <= sm_p;
      p1_alpha <= sm_alpha;
      p1_n <= (pv_rem > EW'(LANES_PV)) ? EW'(LANES_PV) : pv_rem;
      for (int k = 0; k < LANES_PV; k++) p1_en[k] <= EW'(k) < pv_rem;
      if (pv_go || fin_go) pv_c <= pv_last ? '0 : pv_c + 1'b1;
      // PV lanes: acc = acc * alpha + p * v
      if (p1_valid) begin
        for (int k = 0; k < LANES_PV; k++) begin
          if (p1_en[k]) begin
            acc[int'(p1_c) * LANES_PV + k] <= fp_add(
              fp_mul(acc[int'(p1_c) * LANES_PV + k], p1_alpha),
              fp_mul(p1_p, is_int ? fp_from_int(v_rdata[k*32 +: 32]) : v_rdata[k*32 +: 32]));
          end
        end
      end
      // finalize: out = acc * out_scale / l, clearing the accumulator for the next row
      if (fin_go) begin
        for (int k = 0; k < LANES_PV; k++) begin
          obuf[int'(pv_c) * LANES_PV + k] <= fp_mul(acc[int'(pv_c) * LANES_PV + k], fin_mul);
          acc[int'(pv_c) * LANES_PV + k] <= 32'd0;
        end
        if (pv_last) begin
          ob_valid <= 1'b1;
          ob_addr <= sm_oaddr;
        end
      end
      if (ob_done) ob_valid <= 1'b0;
    end
  end

  assign ob_data = obuf;

  assign pv_lanes_busy = p1_valid ? p1_n : '0;
  assign pair_done = pv_go && pv_last;
  assign row_done = fin_go && pv_last;
  assign idle = !tok_valid && !s1_valid && sf_empty && inflight == '0 && !mac_valid && !sm_valid
                && !p1_valid && !ob_valid;
endmodule
