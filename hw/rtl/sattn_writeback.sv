// sattn_writeback: drains the finished output row (fp32) to memory, BUS_BYTES per beat, while
// the core computes the next row. With `partial` the row is the partial record [o, m, l]:
// the Dv output words, then the row's running max m and its denominator l (Dv + 2 words).
module sattn_writeback
  import sattn_isa_pkg::*;
  import sattn_types_pkg::*;
(
  input  logic                   clk,
  input  logic                   rst_n,
  input  logic [EW-1:0]          head_dim,  // Dv: words of an output row
  input  logic                   partial,
  input  logic                   ob_valid,
  input  logic [AW-1:0]          ob_addr,
  input  logic [DMAX*32-1:0]     ob_data,
  input  logic [31:0]            ob_m,
  input  logic [31:0]            ob_l,
  output logic                   ob_done,
  output logic                   mem_wr_valid,
  input  logic                   mem_wr_ready,
  output logic [63:0]            mem_wr_addr,
  output logic [BUS_BYTES*8-1:0] mem_wr_data,
  output logic [BUS_BYTES-1:0]   mem_wr_strb,
  output logic [7:0]             bytes_out
);
  localparam int EPB = BUS_BYTES / 4;  // fp32 elements per beat
  localparam int BW = $clog2((DMAX + 2) / EPB + 2);
  localparam int WIW = $clog2(DMAX + 2 + EPB);  // word index within the record

  logic [BW-1:0] beat, nbeats;
  logic [EW:0] words;
  logic [15:0] left;
  logic fire;

  assign words = {1'b0, head_dim} + ((EW + 1)'(partial) << 1);
  assign nbeats = BW'((words + (EW + 1)'(EPB - 1)) / (EW + 1)'(EPB));
  assign left = 16'(words) * 16'd4 - 16'(beat) * 16'(BUS_BYTES);
  assign mem_wr_valid = ob_valid;
  assign mem_wr_addr = 64'(ob_addr) + 64'(beat) * 64'(BUS_BYTES);
  for (genvar k = 0; k < EPB; k++) begin : g_word
    logic [WIW-1:0] w;  // the record word this lane of the beat carries
    assign w = WIW'(beat) * WIW'(EPB) + WIW'(k);
    assign mem_wr_data[k*32 +: 32] = (w < WIW'(head_dim)) ? ob_data[32 * int'(w[$clog2(DMAX)-1:0]) +: 32]
                                   : (w == WIW'(head_dim)) ? ob_m : ob_l;
  end
  always_comb begin
    for (int b = 0; b < BUS_BYTES; b++) mem_wr_strb[b] = 16'(b) < left;
  end
  assign fire = mem_wr_valid && mem_wr_ready;
  assign ob_done = fire && beat == nbeats - 1'b1;
  assign bytes_out = fire ? 8'(left > 16'(BUS_BYTES) ? 16'(BUS_BYTES) : left) : 8'd0;

  always_ff @(posedge clk) begin
    if (!rst_n) beat <= '0;
    else if (fire) beat <= ob_done ? '0 : beat + 1'b1;
  end
endmodule
