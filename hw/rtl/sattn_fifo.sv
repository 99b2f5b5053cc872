// sattn_fifo: synchronous show-ahead FIFO (head visible while not empty).
module sattn_fifo #(
  parameter int W = 8,
  parameter int DEPTH = 4
) (
  input  logic         clk,
  input  logic         rst_n,
  input  logic         flush,
  input  logic         push,
  input  logic [W-1:0] din,
  input  logic         pop,
  output logic [W-1:0] dout,
  output logic         empty,
  output logic         full,
  output logic [$clog2(DEPTH+1)-1:0] count
);
  localparam int PW = $clog2(DEPTH);
  logic [W-1:0] mem [DEPTH];
  logic [PW-1:0] rp, wp;

  assign empty = count == '0;
  assign full  = count == ($clog2(DEPTH+1))'(DEPTH);
  assign dout  = mem[rp];

  always_ff @(posedge clk) begin
    if (!rst_n || flush) begin
      rp <= '0;
      wp <= '0;
      count <= '0;
    end else begin
      if (push && !full) begin
        mem[wp] <= din;
        wp <= (wp == PW'(DEPTH - 1)) ? '0 : wp + 1'b1;
      end
      if (pop && !empty) rp <= (rp == PW'(DEPTH - 1)) ? '0 : rp + 1'b1;
      count <= count + ($clog2(DEPTH+1))'(push && !full) - ($clog2(DEPTH+1))'(pop && !empty);
    end
  end
endmodule
