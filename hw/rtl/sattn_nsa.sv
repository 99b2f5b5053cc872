// sattn_nsa: NSA's block selection on chip -- the scoring path and the top-n unit.
//
// A SCORE job (NSA_CTRL bit 0) is an ordinary job over the compressed keys of one query row
// (ROW_COUNT = 1, GROUP heads, key c = compressed key c = selection block c, l = d = b): the core
// computes its compressed attention o_cmp as for any job, and this unit listens:
//   - every q.k dot leaving the MAC array's score FIFO is written into the score buffer at
//     (head, key) (head = row ends seen so far in the job; NSA_SCORE_DEPTH entries, GROUP x NUM_KEYS);
//   - every row end the core finalizes gives the head's softmax max m and denominator l.
// When the job has drained (go), the unit
//   1. computes 1/l of every head (the reciprocal's eight stages, a head per cycle);
//   2. streams the block scores of blocks c = 0 .. own (own = the block holding NSA_POS, found by
//      stepping c*b; blocks after it are no candidates): for every head h in order,
//      p = e^(s - m_h) * (1/l_h) with s = dot * SCORE_SCALE -- the softmax's own scaled score and
//      exp stages, the compressed probability exp(s - m)/l -- or 1.0 for the own block (forced),
//      summed over the heads in head order (score[c] = ((p_0 + p_1) + p_2) + ..., the
//      reference's order); one term every 2 cycles (the fp32 adder's two stages close the
//      accumulation loop), 2 * GROUP cycles a block;
//   3. feeds each block score into sattn_topn (ties to the lower block: the blocks stream in
//      ascending order), and when the last one is in, writes the kept blocks by rank as index
//      runs into run RAM entries 0 .. n-1: start = c*b, len = b (the own block: p + 1 - c*b,
//      its tokens <= p); ranks beyond the candidates get empty runs (len 0, skipped).
// A SELECT job (NSA_CTRL bit 1) then attends exactly those runs (sattn_gather).
//
// bsr (NSA_CTRL bit 2, BSR): block top-k and compression scoring, a SCORE job over the rows of
// a query block (key c = block c, C = B; the job's ROW_COUNT x GROUP softmax rows, in the
// gather's order -- head-major, then row -- are the "heads" summed below; a block too large for
// the score buffer takes several jobs). The candidates are blocks 0 .. NUM_KEYS-1; the
// block holding NSA_POS (the diagonal) is forced with +inf; each block's row score (the sum
// over the heads as above) is added to the block-score RAM (BSR_DEPTH = KV_ROWS entries):
// acc[c] = (FIRST ? 0 : acc[c]) + row score (one more fp32 add, 2 stages), so a block's score
// sums the heads of a row, then the rows in row order. RAW (bit 5): the term is the scaled dot
// s = dot * SCORE_SCALE itself (plain bsr: summed over the heads and rows of the block it is
// rows x mean(Qsum) . mean(K_kb) x SCORE_SCALE, the block score's ranking). LAST (bit 4): the
// accumulated scores stream into the top-n unit as they are written (ascending block), and the
// kept blocks are written as runs start = c*b, len = min(b, NSA_LIMIT - c*b) (no cut at NSA_POS:
// the SELECT job's gather cuts each row at its position). Without LAST no runs are written.
// DIRECT (bit 6): the job's keys are the KV head's tokens and, after them, its compressed keys
// (compressed key c is job key NSA_LIMIT + c; candidates NUM_KEYS - NSA_LIMIT), so that the
// SELECT jobs may keep the tokens in the scratchpad at their own rows across query blocks.
module sattn_nsa
  import sattn_isa_pkg::*;
  import sattn_types_pkg::*;
(
  input  logic        clk,
  input  logic        rst_n,
  input  logic        start,        // a SCORE job starts: clear the head counters and the list
  input  logic [8:0]  heads,        // softmax rows of the job: GROUP (NSA), GROUP x ROW_COUNT (bsr)
  /* verilator lint_off UNUSEDSIGNAL */
  input  logic [15:0] num_keys,       // GROUP x NUM_KEYS <= NSA_SCORE_DEPTH (checked at START)
  /* verilator lint_on UNUSEDSIGNAL */
  input  logic [15:0] pos,
  input  logic [15:0] block,
  input  logic [5:0]  n,
  input  logic        bsr,          // NSA_CTRL[2]: bsr's accumulated block scores (above)
  input  logic        first,        // NSA_CTRL[3]: the accumulation starts from 0
  input  logic        last,         // NSA_CTRL[4]: rank the accumulated scores, write the runs
  input  logic        raw,          // NSA_CTRL[5]: the term is the scaled dot
  input  logic        direct,       // NSA_CTRL[6]: compressed key c is job key NSA_LIMIT + c
  input  logic [16:0] limit,        // NSA_LIMIT: bsr's key count (the last block's run ends there)
  input  logic [31:0] score_scale,
  // what the core computes (sattn_core's score taps)
  input  logic        dot_valid,
  /* verilator lint_off UNUSEDSIGNAL */
  input  logic [KW-1:0] dot_key,      // < NUM_KEYS
  /* verilator lint_on UNUSEDSIGNAL */
  input  logic [31:0] dot,
  input  logic        dot_end,
  input  logic        fin_valid,
  input  logic [31:0] fin_m,
  input  logic [31:0] fin_l,
  // the job has drained: score and select
  input  logic        go,
  output logic        busy,
  // run RAM write port (one entry per cycle)
  output logic        run_we,
  output logic [15:0] run_waddr,
  output logic [31:0] run_wdata
);
  import sattn_fp_pkg::*;

  localparam int SAW = $clog2(NSA_SCORE_DEPTH);
  localparam int NW = $clog2(NSA_TOPN_MAX + 1);
  localparam int HMAX = 256;  // softmax rows a SCORE job may have (checked at START)
  localparam int LAT = 16;    // issue to the accumulator's write (see the stages below)
  localparam int BAW = $clog2(KV_ROWS);  // block-score RAM address (bsr: blocks < NUM_KEYS)

  // bsr DIRECT: the job's keys are the tokens (scratchpad rows 0 .. NSA_LIMIT-1, kept there
  // for the SELECT jobs) and the compressed keys after them: candidates NUM_KEYS - NSA_LIMIT
  logic [15:0] ncand;                // candidate blocks = compressed keys a row scores
  logic [16:0] koff;                 // the job key of compressed key 0
  assign koff = direct ? limit : 17'd0;
  assign ncand = 16'(17'(num_keys) - koff);

  // ---------------- capture ----------------
  logic [31:0] sbuf [NSA_SCORE_DEPTH];  // q.k dots, head-major: head h at h * NUM_KEYS
  logic [31:0] m_h [HMAX], l_h [HMAX], r_h [HMAX];
  logic [SAW:0] wbase;              // head base of the dots being written
  logic [7:0] hf;                   // row ends finalized

  always_ff @(posedge clk) begin
    if (dot_valid) sbuf[SAW'(wbase + (SAW + 1)'(dot_key) - (SAW + 1)'(koff))] <= dot;
    if (fin_valid) begin
      m_h[hf] <= fin_m;
      l_h[hf] <= fin_l;
    end
  end

  // ---------------- sequencing ----------------
  typedef enum logic [2:0] {N_IDLE, N_RECIP, N_SCORE, N_FLUSH, N_DRAIN} nstate_t;
  nstate_t st;
  logic [7:0] h, rh;                 // head being issued; reciprocal result head
  logic [15:0] c, cstart;            // block issued and its first token c*b
  logic [SAW:0] rbase;               // head base of the dot being read
  logic phase;                       // a term issues every other cycle
  logic [4:0] flush;
  logic [NW-1:0] dr;                 // drain rank
  logic own;                         // block c holds pos
  logic forced;                      // block c is forced (NSA: the own block; bsr: holds pos)
  logic final_c;                     // block c is the last candidate
  logic issue;

  assign own = 32'(cstart) + 32'(block) > 32'(pos);
  assign forced = own && (!bsr || cstart <= pos);
  assign final_c = bsr ? 32'(c) + 32'd1 >= 32'(ncand) : own;
  assign issue = st == N_SCORE && !phase && flush == '0;
  assign busy = st != N_IDLE;

  // reciprocal chain (the core's finalize stages): 1/l of head rh enters when st == N_RECIP
  frec_t rc [7];
  logic [7:0] rtag [7];
  logic [6:0] rvalid;                // rc[i] / rtag[i] hold a head's value

  always_ff @(posedge clk) begin
    rc[0] <= frec_seed(l_h[rh]);
    rc[1] <= frec_my(rc[0]);
    rc[2] <= frec_two_minus(rc[1]);
    rc[3] <= frec_step(rc[2]);
    rc[4] <= frec_my(rc[3]);
    rc[5] <= frec_two_minus(rc[4]);
    rc[6] <= frec_step(rc[5]);
    rtag[0] <= rh;
    for (int i = 1; i < 7; i++) rtag[i] <= rtag[i - 1];
    if (rvalid[6]) r_h[rtag[6]] <= frec_pack(rc[6]);
  end

  // ---------------- scoring pipeline ----------------
  typedef struct packed {
    logic        valid;
    logic        first;   // head 0: the accumulator starts from this term
    logic        last;    // last head: the block's score is complete
    logic        forced;  // the own block: the term is 1.0
    logic [7:0]  h;
    logic [15:0] c;
  } tag_t;
  localparam int NS = LAT;           // tag stages t[1] .. t[NS]
  tag_t t [NS + 1];
  logic [31:0] rd;                   // t1: the dot
  fmul1_t sm1;                       // t2
  logic [31:0] s3;                   // t3: s = dot * scale
  logic [31:0] m3;                   // t3: the head's max (a registered read of m_h)
  fadd1_t d4;                        // t4
  logic [31:0] x5;                   // t5: s - m (<= 0)
  fexp_t xe [7];                     // t6 .. t12
  logic [31:0] e13;                  // t13: e^(s - m) (RAW: s)
  logic [31:0] sraw [10];            // t4 .. t13: s, for RAW
  logic [31:0] r13;                  // t13: the head's 1/l (a registered read of r_h)
  fmul1_t pm14;                      // t14
  logic [31:0] p15;                  // t15: the term
  fadd1_t ad16;                      // t16
  logic [31:0] acc;                  // the block's running sum (written at the end of t16)

  always_ff @(posedge clk) begin
    rd <= sbuf[SAW'(rbase + (SAW + 1)'(c))];
    sm1 <= fmul_s1(rd, score_scale);
    s3 <= fmul_s2(sm1);
    m3 <= m_h[t[2].h];
    d4 <= fadd_s1(s3, {~m3[31], m3[30:0]});
    x5 <= fadd_s23(d4);
    xe[0] <= fexp_fixed(x5);
    xe[1] <= fexp_log2e(xe[0]);
    xe[2] <= fexp_split(xe[1]);
    xe[3] <= fexp_sq(xe[2]);
    xe[4] <= fexp_cube(xe[3]);
    xe[5] <= fexp_poly(xe[4]);
    xe[6] <= fexp_scale(xe[5]);
    sraw[0] <= s3;
    for (int i = 1; i < 10; i++) sraw[i] <= sraw[i - 1];
    e13 <= raw ? sraw[9] : fexp_pack(xe[6]);
    r13 <= raw ? FP_ONE : r_h[t[12].h];  // RAW: s * 1.0 = s exactly
    pm14 <= fmul_s1(e13, r13);
    p15 <= t[14].forced ? (bsr ? 32'h7f80_0000 : FP_ONE) : fmul_s2(pm14);  // bsr: +inf
    ad16 <= fadd_s1(t[15].first ? 32'd0 : acc, p15);
    if (t[16].valid) acc <= fadd_s23(ad16);
  end

  // bsr: the row's block score is added to the block-score RAM (2 adder stages)
  logic [31:0] bram [KV_ROWS];       // the block scores accumulated over the rows
  logic [31:0] bram_rd;              // bram[c] of the block whose row score completes
  fadd1_t ad17;                      // (t18) the add's first stage
  logic [31:0] sum18;                // the accumulated score
  logic [31:0] tn_res;               // the accumulated score, to the top-n unit
  logic v17, v18;                    // acc and bram_rd hold a row score (t17) / ad17 does (t18)
  logic [15:0] c17, c18;

  assign sum18 = fadd_s23(ad17);
  always_ff @(posedge clk) begin
    bram_rd <= bram[BAW'(t[NS].c)];
    ad17 <= fadd_s1(first ? 32'd0 : bram_rd, acc);
    if (v18) bram[BAW'(c18)] <= sum18;
    tn_res <= sum18;
  end

  // the block score enters the top-n unit the cycle after its last term is accumulated (bsr:
  // after it was added to the block-score RAM, LAST jobs only)
  logic tn_valid;
  logic [15:0] tn_idx;
  logic [31:0] tn_score;
  assign tn_score = bsr ? tn_res : acc;
  logic [NSA_TOPN_MAX-1:0] kept_valid;
  logic [NSA_TOPN_MAX-1:0][15:0] kept_idx;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [NSA_TOPN_MAX-1:0][31:0] kept_score;
  /* verilator lint_on UNUSEDSIGNAL */

  sattn_topn #(.NMAX(NSA_TOPN_MAX), .IW(16)) u_topn (
    .clk, .rst_n, .clear(start), .n(NW'(n)), .in_valid(tn_valid), .in_score(tn_score),
    .in_idx(tn_idx), .kept_valid, .kept_idx, .kept_score
  );

  // the drained run of rank dr
  logic [15:0] k_start, k_len;
  assign k_start = 16'(32'(kept_idx[dr[NW-2:0]]) * 32'(block));
  assign k_len = bsr ? ((32'(k_start) + 32'(block) > 32'(limit)) ? 16'(limit - 17'(k_start)) : block)
               : (32'(k_start) + 32'(block) > 32'(pos)) ? pos + 16'd1 - k_start : block;
  assign run_we = st == N_DRAIN;
  assign run_waddr = 16'(dr);
  assign run_wdata = kept_valid[dr[NW-2:0]] ? {k_len, k_start} : 32'd0;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      st <= N_IDLE;
      wbase <= '0;
      hf <= '0;
      h <= '0;
      rh <= '0;
      c <= '0;
      cstart <= '0;
      rbase <= '0;
      phase <= 1'b0;
      flush <= '0;
      dr <= '0;
      rvalid <= '0;
      tn_valid <= 1'b0;
      tn_idx <= '0;
      v17 <= 1'b0;
      v18 <= 1'b0;
      c17 <= '0;
      c18 <= '0;
      for (int i = 0; i <= NS; i++) t[i] <= '0;
    end else begin
      // capture counters: a row end moves to the next head's dots / m, l
      if (start) begin
        wbase <= '0;
        hf <= '0;
      end else begin
        if (dot_end) wbase <= wbase + (SAW + 1)'(ncand);
        if (fin_valid) hf <= hf + 8'd1;
      end
      rvalid <= {rvalid[5:0], st == N_RECIP};
      // the tag pipeline
      t[1] <= '{valid: issue, first: h == 8'd0, last: 9'(h) + 9'd1 == heads, forced: forced, h: h, c: c};
      for (int i = 2; i <= NS; i++) t[i] <= t[i - 1];
      v17 <= bsr && t[NS].valid && t[NS].last;
      c17 <= t[NS].c;
      v18 <= v17;
      c18 <= c17;
      tn_valid <= bsr ? v18 && last : t[NS].valid && t[NS].last;
      tn_idx <= bsr ? c18 : t[NS].c;
      case (st)
        N_IDLE: if (go) begin
          rh <= '0;
          st <= N_RECIP;
        end
        N_RECIP: begin
          rh <= rh + 8'd1;
          if (9'(rh) + 9'd1 == heads) begin
            flush <= 5'd9;  // the last reciprocal lands 8 cycles after it entered
            h <= '0;
            c <= '0;
            cstart <= '0;
            rbase <= '0;
            phase <= 1'b0;
            st <= N_SCORE;
          end
        end
        N_SCORE: begin
          if (flush != '0) flush <= flush - 5'd1;
          else begin
            phase <= !phase;
            if (issue) begin
              if (9'(h) + 9'd1 == heads) begin
                h <= '0;
                rbase <= '0;
                c <= c + 16'd1;
                cstart <= cstart + block;
                if (final_c) begin
                  flush <= 5'(bsr ? LAT + 5 : LAT + 2);
                  st <= N_FLUSH;
                end
              end else begin
                h <= h + 8'd1;
                rbase <= rbase + (SAW + 1)'(ncand);
              end
            end
          end
        end
        N_FLUSH: begin  // the last block score reaches the top-n unit
          if (flush != '0) flush <= flush - 5'd1;
          else begin
            dr <= '0;
            st <= (bsr && !last) ? N_IDLE : N_DRAIN;
          end
        end
        N_DRAIN: begin
          dr <= dr + 1'b1;
          if (dr + 1'b1 == NW'(n)) st <= N_IDLE;
        end
        default: st <= N_IDLE;
      endcase
    end
  end
endmodule
