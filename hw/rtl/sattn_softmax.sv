// sattn_softmax: the fused streaming (online) softmax of one query row.
//
// For each score s of the row, in key order:  m' = max(m, s);  p = e^(s - m');
// alpha = e^(m - m');  l' = l * alpha + p.  (p, alpha) go to the P.V lanes, which rescale
// their accumulator by alpha and add p * v. A row-end marker emits the final l (the softmax
// denominator) and resets the state. Scores are scaled here (s = dot * score_scale).
// The exp is sattn_fp_pkg::fp_exp_neg (fixed-point range reduction + 64-entry 2^(i/64) ROM +
// cubic; <= 2 ulp, measured in tests/hw). One registered stage; valid/ready on both sides.
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
  output logic [31:0]     out_p,
  output logic [31:0]     out_alpha,
  output logic [31:0]     out_l,
  output logic [TAGW-1:0] out_tag,
  input  logic            out_ready
);
  import sattn_fp_pkg::*;

  logic        have_m;
  logic [31:0] m, l;
  logic [31:0] s, m_new, p, alpha, l_new;

  always_comb begin
    s = fp_mul(in_dot, score_scale);
    if (!have_m) begin
      m_new = s;
      p = FP_ONE;
      alpha = 32'd0;
    end else begin
      m_new = fp_gt(s, m) ? s : m;
      p = fp_exp_neg(fp_sub(s, m_new));
      alpha = fp_exp_neg(fp_sub(m, m_new));
    end
    l_new = fp_add(fp_mul(l, alpha), p);
  end

  assign in_ready = !out_valid || out_ready;

  always_ff @(posedge clk) begin
    if (!rst_n || soft_reset) begin
      have_m <= 1'b0;
      m <= '0;
      l <= '0;
      out_valid <= 1'b0;
      out_end <= 1'b0;
      out_p <= '0;
      out_alpha <= '0;
      out_l <= '0;
      out_tag <= '0;
    end else begin
      if (out_ready) out_valid <= 1'b0;
      if (in_valid && in_ready) begin
        out_valid <= 1'b1;
        out_end <= in_end;
        out_tag <= in_tag;
        if (in_end) begin
          out_l <= l;
          have_m <= 1'b0;
          l <= '0;
        end else begin
          out_p <= p;
          out_alpha <= alpha;
          have_m <= 1'b1;
          m <= m_new;
          l <= l_new;
        end
      end
    end
  end
endmodule
