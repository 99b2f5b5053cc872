// sattn_mac_array: the QK multiply-accumulate lanes.
//
// Each cycle LANES element pairs (a[k], b[k]) are multiplied and reduced into a running dot
// product. Integer mode (i8/i4 codes, sign-extended in the low 8 bits): exact int32 products and
// sums. Floating mode (fp32, bf16 widened to fp32): fp32 products summed by a pairwise adder tree,
// then accumulated, every step rounded to nearest even. `in_first` starts a new dot product,
// `in_last` ends it: one cycle later out_valid carries it as fp32 (integers converted exactly
// while |sum| < 2^24). `in_end` passes a row-end marker through in order with the results.
module sattn_mac_array #(
  parameter int LANES = 16,
  parameter int TAGW = 8
) (
  input  logic                  clk,
  input  logic                  rst_n,
  input  logic                  in_valid,
  input  logic                  in_first,
  input  logic                  in_last,
  input  logic                  in_end,
  input  logic [TAGW-1:0]       in_tag,
  input  logic                  is_int,
  input  logic [LANES-1:0]      lane_en,
  input  logic [LANES*32-1:0]   a,
  input  logic [LANES*32-1:0]   b,
  output logic                  out_valid,
  output logic                  out_end,
  output logic [TAGW-1:0]       out_tag,
  output logic [31:0]           out_dot
);
  import sattn_fp_pkg::*;

  logic signed [31:0] acc_i, sum_i, next_i;
  logic [31:0] acc_f, next_f;
  logic [31:0] tree [2*LANES];

  always_comb begin
    sum_i = '0;
    for (int k = 0; k < LANES; k++) begin
      tree[LANES + k] = lane_en[k] ? fp_mul(a[k*32 +: 32], b[k*32 +: 32]) : 32'd0;
      if (lane_en[k]) sum_i = sum_i + 32'(signed'(a[k*32 +: 8]) * signed'(b[k*32 +: 8]));
    end
    tree[0] = 32'd0;
    for (int n = LANES - 1; n >= 1; n--) tree[n] = fp_add(tree[2*n], tree[2*n + 1]);
    next_i = (in_first ? 32'sd0 : acc_i) + sum_i;
    next_f = fp_add(in_first ? 32'd0 : acc_f, tree[1]);
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      acc_i <= '0;
      acc_f <= '0;
      out_valid <= 1'b0;
      out_end <= 1'b0;
      out_tag <= '0;
      out_dot <= '0;
    end else begin
      out_valid <= in_valid && (in_end || in_last);
      out_end <= in_valid && in_end;
      out_tag <= in_tag;
      if (in_valid && !in_end) begin
        if (is_int) acc_i <= next_i; else acc_f <= next_f;
        if (in_last) out_dot <= is_int ? fp_from_int(next_i) : next_f;
      end
    end
  end
endmodule
