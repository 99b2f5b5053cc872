// sattn_spad: the banked element scratchpad (K rows, V rows or Q rows).
//
// Elements are stored unpacked as 32-bit words (fp32 bits, or sign-extended integer codes); the
// DMA unpacks each memory beat on fill. Element e of row r lives at r*DMAX + e, in bank e mod 32:
// a fill writes up to WLANES consecutive elements (one beat of i4 codes) and a read returns
// RLANES consecutive elements one cycle later (synchronous read, as an SRAM macro would).
module sattn_spad #(
  parameter int ROWS = 16,
  parameter int DMAX = 128,
  parameter int WLANES = 32,
  parameter int RLANES = 16,
  localparam int AW = $clog2(ROWS * DMAX)
) (
  input  logic                   clk,
  input  logic                   we,
  input  logic [AW-1:0]          waddr,
  input  logic [WLANES-1:0]      wmask,
  input  logic [WLANES*32-1:0]   wdata,
  input  logic                   re,
  input  logic [AW-1:0]          raddr,
  output logic [RLANES*32-1:0]   rdata
);
  logic [31:0] mem [ROWS * DMAX];

  always_ff @(posedge clk) begin
    if (we) begin
      for (int k = 0; k < WLANES; k++) begin
        if (wmask[k]) mem[waddr + AW'(k)] <= wdata[k*32 +: 32];
      end
    end
    if (re) begin
      for (int k = 0; k < RLANES; k++) rdata[k*32 +: 32] <= mem[raddr + AW'(k)];
    end
  end
endmodule
