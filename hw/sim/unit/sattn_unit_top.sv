// sattn_unit_top: the MAC array and the streaming softmax alone, for their C++ unit test
// (hw/sim/unit/tb_unit.cpp). Ports are the units' own, prefixed mac_ and sm_.
module sattn_unit_top #(
  parameter int LANES = 16,
  parameter int TAGW = 8
) (
  input  logic                clk,
  input  logic                rst_n,
  // MAC array
  input  logic                mac_in_valid,
  input  logic                mac_in_first,
  input  logic                mac_in_last,
  input  logic                mac_in_end,
  input  logic [TAGW-1:0]     mac_in_tag,
  input  logic                mac_is_int,
  input  logic [LANES-1:0]    mac_lane_en,
  input  logic [LANES*32-1:0] mac_a,
  input  logic [LANES*32-1:0] mac_b,
  output logic                mac_out_valid,
  output logic                mac_out_end,
  output logic [TAGW-1:0]     mac_out_tag,
  output logic [31:0]         mac_out_dot,
  // softmax
  input  logic                sm_soft_reset,
  input  logic [31:0]         sm_score_scale,
  input  logic                sm_in_valid,
  input  logic                sm_in_end,
  input  logic [31:0]         sm_in_dot,
  input  logic [TAGW-1:0]     sm_in_tag,
  output logic                sm_in_ready,
  output logic                sm_out_valid,
  output logic                sm_out_end,
  output logic [31:0]         sm_out_p,
  output logic [31:0]         sm_out_alpha,
  output logic [TAGW-1:0]     sm_out_tag,
  input  logic                sm_out_ready,
  output logic                sm_busy
);
  sattn_mac_array #(.LANES(LANES), .TAGW(TAGW)) u_mac (
    .clk, .rst_n, .in_valid(mac_in_valid), .in_first(mac_in_first), .in_last(mac_in_last),
    .in_end(mac_in_end), .in_tag(mac_in_tag), .is_int(mac_is_int), .lane_en(mac_lane_en),
    .a(mac_a), .b(mac_b), .out_valid(mac_out_valid), .out_end(mac_out_end),
    .out_tag(mac_out_tag), .out_dot(mac_out_dot)
  );
  sattn_softmax #(.TAGW(TAGW)) u_sm (
    .clk, .rst_n, .soft_reset(sm_soft_reset), .score_scale(sm_score_scale),
    .in_valid(sm_in_valid), .in_end(sm_in_end), .in_dot(sm_in_dot), .in_tag(sm_in_tag),
    .in_ready(sm_in_ready), .out_valid(sm_out_valid), .out_end(sm_out_end), .out_p(sm_out_p),
    .out_alpha(sm_out_alpha), .out_tag(sm_out_tag), .out_ready(sm_out_ready),
    .busy(sm_busy)
  );
endmodule
