// sattn_topn: keeps the n best of a stream of block scores (NSA's and bsr's block selection).
//
// Scores arrive one per cycle at most, in ascending block index, as fp32 of either sign (NSA's
// sums of probabilities; bsr's raw q.k block scores; +inf for a forced block; no NaN). Each
// score is compared through its order-preserving 32-bit key (sign set: all bits inverted; sign
// clear: the sign bit set; -0.0 taken as +0.0 so that the two zeros tie), an unsigned compare
// that orders the keys like the numbers; for non-negative scores it is the unsigned compare of
// the 31 magnitude bits it always was. The kept list is sorted by score,
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
  input  logic [31:0]              in_score,   // fp32, no NaN
  /* verilator lint_on UNUSEDSIGNAL */
  input  logic [IW-1:0]            in_idx,
  output logic [NMAX-1:0]          kept_valid,
  output logic [NMAX-1:0][IW-1:0]  kept_idx,
  output logic [NMAX-1:0][31:0]    kept_score  // order keys (see above)
);
  logic [NMAX-1:0] stay;  // entry i keeps its place: it is valid and its score >= the new one
  logic [31:0] in_key;    // the new score's order key

  always_comb begin
    if (in_score == 32'h8000_0000) in_key = 32'h8000_0000;  // -0.0 ties with +0.0
    else if (in_score[31]) in_key = ~in_score;
    else in_key = in_score | 32'h8000_0000;
    for (int i = 0; i < NMAX; i++) stay[i] = kept_valid[i] && kept_score[i] >= in_key;
  end

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
            kept_score[i] <= in_key;
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
