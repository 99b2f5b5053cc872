// sattn_fpu: one module per FP unit of sattn_fp_pkg, for synthesis reports only (not simulated).
//
// The datapath calls the package functions inline (the MAC array, softmax and core each hold
// many copies), so a unit's own area and delay are measured here: operands registered, the
// function, result registered — a register-to-register path through exactly one unit.
module sattn_fpu_mul (
  input  logic        clk,
  input  logic [31:0] a,
  input  logic [31:0] b,
  output logic [31:0] y
);
  import sattn_fp_pkg::*;
  logic [31:0] ra, rb;
  always_ff @(posedge clk) begin
    ra <= a;
    rb <= b;
    y <= fp_mul(ra, rb);
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
  always_ff @(posedge clk) begin
    ra <= a;
    rb <= b;
    y <= fp_add(ra, rb);
  end
endmodule

module sattn_fpu_exp (
  input  logic        clk,
  input  logic [31:0] x,
  output logic [31:0] y
);
  import sattn_fp_pkg::*;
  logic [31:0] rx;
  always_ff @(posedge clk) begin
    rx <= x;
    y <= fp_exp_neg(rx);
  end
endmodule

module sattn_fpu_recip (
  input  logic        clk,
  input  logic [31:0] x,
  output logic [31:0] y
);
  import sattn_fp_pkg::*;
  logic [31:0] rx;
  always_ff @(posedge clk) begin
    rx <= x;
    y <= fp_recip(rx);
  end
endmodule

module sattn_fpu_from_int (
  input  logic        clk,
  input  logic [31:0] x,
  output logic [31:0] y
);
  import sattn_fp_pkg::*;
  logic [31:0] rx;
  always_ff @(posedge clk) begin
    rx <= x;
    y <= fp_from_int(rx);
  end
endmodule
