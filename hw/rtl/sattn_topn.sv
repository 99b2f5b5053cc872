// sattn_topn: keeps the n best of a stream of block scores (NSA's block selection).
//
// Scores arrive one per cycle at most, in ascending block index, as non-negative fp32 (sums of
// probabilities; no NaN): for such values the IEEE bit patterns order like the numbers, so the
// comparison is an unsigned compare of the 31 magnitude bits. The kept list is sorted by score,
// best first, NMAX entries wide, the first n used. A new score is inserted after every kept
// score that is >= it -- an equal score that came earlier has the lower block index, so exact
// ties go to the lower index -- and the entries behind it shift down by one (the last kept one
// drops out when the list is full). One compare per entry, all in parallel: a score per cycle,
// the list final the cycle after the last score. The drain (reading the list by rank) is the
// caller's: kept_idx / kept_valid are registers.
module sattn_topn #(
  parameter int NMAX = 32,
  parameter int IW = 16,
  localparam int NW = $clog2(NMAX + 1)
) (
  input  logic                     clk,
  input  logic                     rst_n,
  input  logic                     clear,      // start a new selection (empties the list)
  input  logic [NW-1:0]            n,          // entries to keep (1..NMAX)
  input  logic                     in_valid,
  /* verilator lint_off UNUSEDSIGNAL */
  input  logic [31:0]              in_score,   // non-negative fp32 (the sign bit is 0)
  /* verilator lint_on UNUSEDSIGNAL */
  input  logic [IW-1:0]            in_idx,
  output logic [NMAX-1:0]          kept_valid,
  output logic [NMAX-1:0][IW-1:0]  kept_idx,
  output logic [NMAX-1:0][30:0]    kept_score  // magnitude bits (the sign is 0)
);
  logic [NMAX-1:0] stay;  // entry i keeps its place: it is valid and its score >= the new one

  always_comb
    for (int i = 0; i < NMAX; i++) stay[i] = kept_valid[i] && kept_score[i] >= in_score[30:0];

  always_ff @(posedge clk) begin
    if (!rst_n || clear) begin
      kept_valid <= '0;
      kept_idx <= '0;
      kept_score <= '0;
    end else if (in_valid) begin
      // stay is a prefix of ones (the list is sorted): the new entry goes to the first !stay
      for (int i = 0; i < NMAX; i++) begin
        automatic int up = (i == 0) ? 0 : i - 1;  // the entry that shifts into i
        if (!stay[i] && NW'(i) < n) begin
          if (i == 0 || stay[up]) begin
            kept_valid[i] <= 1'b1;
            kept_idx[i] <= in_idx;
            kept_score[i] <= in_score[30:0];
          end else begin
            kept_valid[i] <= kept_valid[up];
            kept_idx[i] <= kept_idx[up];
            kept_score[i] <= kept_score[up];
          end
        end
      end
    end
  end
endmodule
