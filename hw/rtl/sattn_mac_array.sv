// sattn_mac_array: the QK multiply-accumulate lanes, pipelined: one chunk per cycle, no stall.
//
// Each cycle LANES element pairs (a[k], b[k]) may enter as one chunk of a dot product. Float mode
// (fp32, bf16 widened to fp32): fp32 products (two stages: fmul_s1 | fmul_s2), a pairwise adder
// tree (two stages per level: fadd_s1 | fadd_s23), an accumulator, every step rounded to nearest
// even. An adder takes two cycles and a chunk may come every cycle, so the accumulator keeps two
// interleaved partial sums: chunk i of a dot product is added to partial i mod 2 (written by its
// chunk i - 2 two cycles before; the first two chunks start from zero), and after the last chunk
// the two partials are added (two more stages). Integer mode (i8/i4 codes, sign-extended in the
// low 8 bits): exact int32 products and sums in the same stages, one int32 accumulator (a 32-bit
// add fits a cycle), converted to fp32 exactly (while |sum| < 2^24) in the last two stages.
// `in_first` starts a new dot product, `in_last` ends it: DEPTH = 6 + 2 log2(LANES) cycles later
// (14 at 16 lanes) out_valid carries it. `in_end` passes a row-end marker through the same
// stages, so results and markers leave in order. `is_int` must not change while chunks are in
// flight (it is a job's precision).
//
// The summation order is pairwise over the lanes, then over the even and the odd chunks, then the
// two partials: per term one product rounding, log2(LANES) tree additions and at most
// ceil(chunks / 2) + 1 accumulator additions (up to 4 + 4 + 1 at D = 128, 16 lanes; the bound
// tests/hw/test_rocc_units.py asserts). With one or two chunks the result is bit-identical to a
// single running sum.
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

  localparam int LEVELS = $clog2(LANES);
  // the stage (register) holding the tree's root value: two product stages, two per tree level
  localparam int TA = 2 + 2 * LEVELS;
  // registers from the operands to out_dot: the tree, two accumulator and two final-add stages
  localparam int DEPTH = TA + 4;

  // the control of the chunk (or marker) in each stage
  typedef struct packed {
    logic            valid;
    logic            first;
    logic            last;
    logic            is_end;
    logic [TAGW-1:0] tag;
  } ctl_t;

  ctl_t ctl [DEPTH - 1];  // ctl[s]: the chunk in register stage s + 1 (out_* is stage DEPTH)

  // ---- products: fmul_s1 | fmul_s2 ----
  fmul1_t m1 [LANES];
  logic [LANES-1:0] m1_en;
  logic signed [15:0] ip1 [LANES];
  logic [31:0] lvl [LEVELS+1][LANES];          // tree inputs of each level (level 0: products)
  logic signed [31:0] ilvl [LEVELS+1][LANES];
  fadd1_t t1 [LEVELS][LANES];                   // first adder stage of each level
  logic signed [31:0] it1 [LEVELS][LANES];

  // ---- accumulator ----
  fadd1_t a1;
  logic a1_ph, a1_single;
  logic signed [31:0] acc_i, a1_i, a2_i;
  logic [31:0] part [2];
  logic a2_ph, a2_single;
  logic ph_n, zero_n;       // phase and zero-start of the next chunk entering the accumulator
  logic cur_ph, cur_zero;
  logic signed [31:0] next_i;
  fadd1_t c1;
  fint1_t c1_i;

  /* verilator lint_off UNUSEDSIGNAL */
  ctl_t ta;                 // the chunk entering the accumulator (the tree root's control)
  /* verilator lint_on UNUSEDSIGNAL */
  assign ta = ctl[TA - 1];
  assign cur_ph = ta.first ? 1'b0 : ph_n;
  assign cur_zero = ta.first || zero_n;
  assign next_i = (ta.first ? 32'sd0 : acc_i) + ilvl[LEVELS][0];

  always_ff @(posedge clk) begin
    // products
    for (int k = 0; k < LANES; k++) begin
      m1[k] <= fmul_s1(a[k*32 +: 32], b[k*32 +: 32]);
      ip1[k] <= lane_en[k] ? 16'(signed'(a[k*32 +: 8]) * signed'(b[k*32 +: 8])) : 16'sd0;
    end
    m1_en <= lane_en;
    for (int k = 0; k < LANES; k++) begin
      lvl[0][k] <= m1_en[k] ? fmul_s2(m1[k]) : 32'd0;
      ilvl[0][k] <= 32'(ip1[k]);
    end
    // adder tree: level j adds pairs of level j's values into level j + 1
    for (int j = 0; j < LEVELS; j++) begin
      for (int n = 0; n < (LANES >> (j + 1)); n++) begin
        t1[j][n] <= fadd_s1(lvl[j][2*n], lvl[j][2*n + 1]);
        it1[j][n] <= ilvl[j][2*n] + ilvl[j][2*n + 1];
        lvl[j + 1][n] <= fadd_s23(t1[j][n]);
        ilvl[j + 1][n] <= it1[j][n];
      end
    end
    // accumulator, first stage: the partial of this chunk's phase (zero for the first two
    // chunks); the int sum
    a1 <= fadd_s1(lvl[LEVELS][0], cur_zero ? 32'd0 : part[cur_ph]);
    a1_ph <= cur_ph;
    a1_single <= ta.first && ta.last;
    a1_i <= next_i;
    // second stage: the partial written
    if (ctl[TA].valid && !ctl[TA].is_end) part[a1_ph] <= fadd_s23(a1);
    a2_ph <= a1_ph;
    a2_single <= a1_single;
    a2_i <= a1_i;
    // final add of the two partials (the one just written and the other), the int conversion
    c1 <= fadd_s1(part[a2_ph], a2_single ? 32'd0 : part[!a2_ph]);
    c1_i <= fint_s1(a2_i);
    if (ctl[DEPTH - 2].valid && !ctl[DEPTH - 2].is_end && ctl[DEPTH - 2].last)
      out_dot <= is_int ? fint_s2(c1_i) : fadd_s23(c1);
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      for (int s = 0; s < DEPTH - 1; s++) ctl[s] <= '0;
      ph_n <= 1'b0;
      zero_n <= 1'b0;
      acc_i <= '0;
      out_valid <= 1'b0;
      out_end <= 1'b0;
      out_tag <= '0;
    end else begin
      ctl[0] <= '{valid: in_valid, first: in_first, last: in_last, is_end: in_end, tag: in_tag};
      for (int s = 1; s < DEPTH - 1; s++) ctl[s] <= ctl[s - 1];
      if (ta.valid && !ta.is_end) begin
        ph_n <= !cur_ph;
        zero_n <= ta.first;
        acc_i <= next_i;
      end
      out_valid <= ctl[DEPTH - 2].valid && (ctl[DEPTH - 2].is_end || ctl[DEPTH - 2].last);
      out_end <= ctl[DEPTH - 2].valid && ctl[DEPTH - 2].is_end;
      out_tag <= ctl[DEPTH - 2].tag;
    end
  end

endmodule
