// sattn_fpu: one module per FP unit of sattn_fp_pkg, pipelined as in the datapath, for the
// synthesis report only (not simulated).
//
// The datapath calls the package's stage functions inline (the MAC array, softmax and core hold
// many copies), so a unit's own area and delay are measured here: operands registered, each
// stage function followed by a register, as the datapath's pipelines place them. A unit's
// critical path is its slowest stage.
module sattn_fpu_mul (
  input  logic        clk,
  input  logic [31:0] a,
  input  logic [31:0] b,
  output logic [31:0] y
);
  import sattn_fp_pkg::*;
  logic [31:0] ra, rb;
  fmul1_t s1;
  always_ff @(posedge clk) begin
    ra <= a;
    rb <= b;
    s1 <= fmul_s1(ra, rb);
    y <= fmul_s2(s1);
  end
endmodule

module sattn_fpu_add (
  input  logic        clk,
  input  logic [31:0] a,
  input  logic [31:0] b,
  output logic [31:0] y
);
  import sattn_fp_pkg::*;
  logic [31:0] ra, rb;
  fadd1_t s1;
  always_ff @(posedge clk) begin
    ra <= a;
    rb <= b;
    s1 <= fadd_s1(ra, rb);
    y <= fadd_s23(s1);
  end
endmodule

module sattn_fpu_exp (
  input  logic        clk,
  input  logic [31:0] x,
  output logic [31:0] y
);
  import sattn_fp_pkg::*;
  logic [31:0] rx;
  fexp_t s0, s1, s2, s3, s4, s5, s6;
  always_ff @(posedge clk) begin
    rx <= x;
    s0 <= fexp_fixed(rx);
    s1 <= fexp_log2e(s0);
    s2 <= fexp_split(s1);
    s3 <= fexp_sq(s2);
    s4 <= fexp_cube(s3);
    s5 <= fexp_poly(s4);
    s6 <= fexp_scale(s5);
    y <= fexp_pack(s6);
  end
endmodule

module sattn_fpu_recip (
  input  logic        clk,
  input  logic [31:0] x,
  output logic [31:0] y
);
  import sattn_fp_pkg::*;
  logic [31:0] rx;
  frec_t s0, s1, s2, s3, s4, s5, s6;
  always_ff @(posedge clk) begin
    rx <= x;
    s0 <= frec_seed(rx);
    s1 <= frec_my(s0);
    s2 <= frec_two_minus(s1);
    s3 <= frec_step(s2);
    s4 <= frec_my(s3);
    s5 <= frec_two_minus(s4);
    s6 <= frec_step(s5);
    y <= frec_pack(s6);
  end
endmodule

module sattn_fpu_from_int (
  input  logic        clk,
  input  logic [31:0] x,
  output logic [31:0] y
);
  import sattn_fp_pkg::*;
  logic [31:0] rx;
  fint1_t s1;
  always_ff @(posedge clk) begin
    rx <= x;
    s1 <= fint_s1(rx);
    y <= fint_s2(s1);
  end
endmodule
