// sattn_softmax: the fused streaming (online) softmax of one query row, pipelined.
//
// For each score s of the row, in key order:  m' = max(m, s);  p = e^(s - m');
// alpha = e^(m - m').  (p, alpha) go to the P.V lanes, which rescale their accumulators (and the
// denominator l, kept in the core beside them: l' = l * alpha + p) by alpha and add p * v. The
// first key of a row yields p = 1, alpha = 0. A row-end marker passes through in order and resets
// the running max. Scores are scaled here (s = dot * score_scale).
//
// Stages (a register after each): scale (fmul_s1 | fmul_s2); max (the only loop-carried state:
// one compare and select per cycle); both subtractions (fadd_s1 | fadd_s23); both exps (the eight
// fp_exp_neg stages, sattn_fp_pkg). DEPTH = 13 cycles from an accepted score to the output FIFO.
// A row-end marker leaves with the row's running max m in out_p (the max of its scaled scores;
// a partial record needs it, sattn_core), carried beside the subtract and exp stages.
// The pipeline never stalls: it accepts a score only while the output FIFO has room for
// everything in flight (a credit count), so out_ready reaches no pipeline register. The results
// are bit-identical to the single-cycle unit this replaced (same functions, same order).
module sattn_softmax #(
  parameter int TAGW = 8
) (
  input  logic            clk,
  input  logic            rst_n,
  input  logic            soft_reset,
  input  logic [31:0]     score_scale,
  input  logic            in_valid,
  input  logic            in_end,
  input  logic [31:0]     in_dot,
  input  logic [TAGW-1:0] in_tag,
  output logic            in_ready,
  output logic            out_valid,
  output logic            out_end,
  output logic [31:0]     out_p,       // a row end: the row's running max m
  output logic [31:0]     out_alpha,
  output logic [TAGW-1:0] out_tag,
  input  logic            out_ready,
  output logic            busy        // a score or marker is in the pipeline or the output FIFO
);
  import sattn_fp_pkg::*;

  localparam int OD = 16;  // output FIFO entries: >= the 13 pipeline stages + 1 for one score a cycle
  localparam int OW = $clog2(OD + 1);
  localparam int NX = 8;                // exp stages

  typedef struct packed {
    logic            valid;
    logic            is_end;
    logic            first;  // the row's first key: p = 1, alpha = 0
    logic [TAGW-1:0] tag;
    logic [31:0]     m;      // a row end: the row's max (from stage 4 on)
  } ctl_t;

  logic accept, pop;
  logic [OW-1:0] occ;  // scores/markers in the pipeline or the output FIFO

  assign accept = in_valid && in_ready;
  assign in_ready = occ < OW'(OD);
  assign busy = occ != '0;

  // scale
  ctl_t c1, c2, c3, c4, c5;
  fmul1_t sc1;
  logic [31:0] s2;
  // max
  logic have_m;
  logic [31:0] m;
  logic [31:0] s3, mo3, mn3;   // score, old max, new max
  // subtract
  fadd1_t dp4, da4;
  logic [31:0] dp5, da5;
  // exp
  ctl_t cx [NX];
  fexp_t xp [NX-1], xa [NX-1];
  logic [31:0] ep, ea;

  logic [31:0] mn;
  assign mn = (!have_m || fp_gt(s2, m)) ? s2 : m;

  always_ff @(posedge clk) begin
    sc1 <= fmul_s1(in_dot, score_scale);
    s2 <= fmul_s2(sc1);
    s3 <= s2;
    mo3 <= m;
    mn3 <= mn;
    dp4 <= fadd_s1(s3, {~mn3[31], mn3[30:0]});
    da4 <= fadd_s1(mo3, {~mn3[31], mn3[30:0]});
    dp5 <= fadd_s23(dp4);
    da5 <= fadd_s23(da4);
    xp[0] <= fexp_fixed(dp5);
    xa[0] <= fexp_fixed(da5);
    xp[1] <= fexp_log2e(xp[0]);
    xa[1] <= fexp_log2e(xa[0]);
    xp[2] <= fexp_split(xp[1]);
    xa[2] <= fexp_split(xa[1]);
    xp[3] <= fexp_sq(xp[2]);
    xa[3] <= fexp_sq(xa[2]);
    xp[4] <= fexp_cube(xp[3]);
    xa[4] <= fexp_cube(xa[3]);
    xp[5] <= fexp_poly(xp[4]);
    xa[5] <= fexp_poly(xa[4]);
    xp[6] <= fexp_scale(xp[5]);
    xa[6] <= fexp_scale(xa[5]);
    ep <= fexp_pack(xp[6]);
    ea <= fexp_pack(xa[6]);
  end

  always_ff @(posedge clk) begin
    if (!rst_n || soft_reset) begin
      c1 <= '0;
      c2 <= '0;
      c3 <= '0;
      c4 <= '0;
      c5 <= '0;
      for (int i = 0; i < NX; i++) cx[i] <= '0;
      have_m <= 1'b0;
      m <= '0;
      occ <= '0;
    end else begin
      c1 <= '{valid: accept, is_end: in_end, first: 1'b0, tag: in_tag, m: 32'd0};
      c2 <= c1;
      c3 <= c2;
      c3.first <= !have_m;
      if (c2.valid) begin
        have_m <= !c2.is_end;
        if (!c2.is_end) m <= mn;
      end
      c4 <= c3;
      c4.m <= mo3;  // m before this entry's stage-2 update: a row end's max
      c5 <= c4;
      cx[0] <= c5;
      for (int i = 1; i < NX; i++) cx[i] <= cx[i - 1];
      occ <= occ + OW'(accept) - OW'(pop);
    end
  end

  // output FIFO (no stall upstream: the credit count guarantees room)
  logic of_empty;
  logic [1 + TAGW + 64 - 1:0] of_dout;
  /* verilator lint_off UNUSEDSIGNAL */
  logic of_full;
  logic [OW-1:0] of_count;
  /* verilator lint_on UNUSEDSIGNAL */
  ctl_t co;
  assign co = cx[NX - 1];

  sattn_fifo #(.W(1 + TAGW + 64), .DEPTH(OD)) u_out (
    .clk, .rst_n, .flush(soft_reset),
    .push(co.valid),
    .din({co.is_end, co.tag, co.is_end ? co.m : co.first ? FP_ONE : ep, co.first ? 32'd0 : ea}),
    .pop, .dout(of_dout), .empty(of_empty), .full(of_full), .count(of_count)
  );

  assign out_valid = !of_empty;
  assign pop = out_valid && out_ready;
  assign out_end = of_dout[TAGW + 64];
  assign out_tag = of_dout[64 +: TAGW];
  assign out_p = of_dout[63:32];
  assign out_alpha = of_dout[31:0];
endmodule
