// sattn_spad: an element scratchpad (K rows, V rows or Q rows) built from one-read-one-write
// SRAM banks.
//
// Elements are stored unpacked as 32-bit words (fp32 bits, or sign-extended integer codes); the
// DMA unpacks each memory beat on fill. Element e of row r has the flat address a = r*DMAX + e;
// it lies in bank row a / GROUP, at position g = a mod GROUP of it: in bank g / BW, element slot
// g mod BW of that bank's word a / GROUP. With GROUP = 32 and BW = 1 (the K/V scratchpads: 32
// banks of one element) that is "bank e mod 32"; BW = 16 (the Q buffers) makes two banks of
// 16-element words. A write fills up to WLANES consecutive elements of one bank row (one DMA beat,
// starting at a multiple of WALIGN, with a per-element mask); a read returns RLANES consecutive
// elements of one bank row, starting at a multiple of RLANES, one cycle after `re` (the banks'
// clocked read; the lanes are then selected from the bank outputs).
//
// Each bank has one write port and one read port (a two-port SRAM), each with its own address:
// a write beat touches each bank at most once (its elements are consecutive) and so does a read,
// so neither ever waits for the other — no bank conflicts, the DMA never stalls the MAC lanes.
// Depth (ROWS) is a parameter: a streaming K/V tile buffer is a parameter change.
module sattn_spad #(
  parameter int ROWS = 16,
  parameter int DMAX = 128,
  parameter int WLANES = 32,
  parameter int WALIGN = 4,
  parameter int RLANES = 16,
  parameter int GROUP = 32,
  parameter int BW = 1,
  localparam int AW = $clog2(ROWS * DMAX)
) (
  input  logic                 clk,
  input  logic                 we,
  input  logic [AW-1:0]        waddr,
  input  logic [WLANES-1:0]    wmask,
  input  logic [WLANES*32-1:0] wdata,
  input  logic                 re,
  input  logic [AW-1:0]        raddr,
  output logic [RLANES*32-1:0] rdata
);
  localparam int BANKS = GROUP / BW;
  localparam int WORDS = ROWS * DMAX / GROUP;
  localparam int GW = $clog2(GROUP);
  localparam int WA = WORDS > 1 ? $clog2(WORDS) : 1;
  localparam int WOFFS = GROUP / WALIGN;   // write start positions within a bank row
  localparam int ROFFS = GROUP / RLANES;   // read start positions within a bank row
  localparam int WOW = WOFFS > 1 ? $clog2(WOFFS) : 1;
  localparam int ROW = ROFFS > 1 ? $clog2(ROFFS) : 1;

  logic [WOW-1:0] wo;
  logic [ROW-1:0] ro, ro_q;
  logic [WA-1:0] wword, rword;
  logic [BANKS-1:0][BW-1:0] bmask;
  logic [BANKS-1:0][BW*32-1:0] bwdata, bq;

  assign wo = WOFFS > 1 ? WOW'(waddr[GW-1:0] / GW'(WALIGN)) : '0;
  assign ro = ROFFS > 1 ? ROW'(raddr[GW-1:0] / GW'(RLANES)) : '0;
  assign wword = WA'(waddr >> GW);
  assign rword = WA'(raddr >> GW);

  // write lane k goes to bank-row position wo*WALIGN + k (lanes past the bank row are masked off)
  always_comb begin
    bmask = '0;
    bwdata = '0;
    for (int g = 0; g < GROUP; g++) begin
      for (int o = 0; o < WOFFS; o++) begin
        int k;
        k = g - o * WALIGN;
        if (k < 0 || k >= WLANES) k = 0;  // no lane of this offset lands here (guarded below)
        if (int'(wo) == o && g - o * WALIGN >= 0 && g - o * WALIGN < WLANES && wmask[k]) begin
          bmask[g / BW][g % BW] = we;
          bwdata[g / BW][(g % BW)*32 +: 32] = wdata[k*32 +: 32];
        end
      end
    end
  end

  for (genvar b = 0; b < BANKS; b++) begin : g_bank
    logic [BW*32-1:0] mem [WORDS];
    always_ff @(posedge clk) begin
      for (int w = 0; w < BW; w++) begin
        if (bmask[b][w]) mem[wword][w*32 +: 32] <= bwdata[b][w*32 +: 32];
      end
      if (re) bq[b] <= mem[rword];
    end
  end

  always_ff @(posedge clk) begin
    if (re) ro_q <= ro;
  end

  // read lane i comes from bank-row position ro*RLANES + i
  always_comb begin
    rdata = '0;
    for (int i = 0; i < RLANES; i++) begin
      for (int o = 0; o < ROFFS; o++) begin
        if (int'(ro_q) == o)
          rdata[i*32 +: 32] = bq[(o * RLANES + i) / BW][((o * RLANES + i) % BW)*32 +: 32];
      end
    end
  end
endmodule
