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
module sattn_nsa
  import sattn_isa_pkg::*;
  import sattn_types_pkg::*;
(
  input  logic        clk,
  input  logic        rst_n,
  input  logic        start,        // a SCORE job starts: clear the head counters and the list
  input  logic [7:0]  group,
  /* verilator lint_off UNUSEDSIGNAL */
  input  logic [15:0] num_keys,       // GROUP x NUM_KEYS <= NSA_SCORE_DEPTH (checked at START)
  /* verilator lint_on UNUSEDSIGNAL */
  input  logic [15:0] pos,
  input  logic [15:0] block,
  input  logic [5:0]  n,
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
  localparam int HMAX = 256;  // heads a group may have (GROUP is 8 bits)
  localparam int LAT = 16;    // issue to the accumulator's write (see the stages below)

  // ---------------- capture ----------------
  logic [31:0] sbuf [NSA_SCORE_DEPTH];  // q.k dots, head-major: head h at h * NUM_KEYS
  logic [31:0] m_h [HMAX], l_h [HMAX], r_h [HMAX];
  logic [SAW:0] wbase;              // head base of the dots being written
  logic [7:0] hf;                   // row ends finalized

  always_ff @(posedge clk) begin
    if (dot_valid) sbuf[SAW'(wbase + (SAW + 1)'(dot_key))] <= dot;
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
  logic issue;

  assign own = 32'(cstart) + 32'(block) > 32'(pos);
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
  logic [31:0] e13;                  // t13: e^(s - m)
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
    e13 <= fexp_pack(xe[6]);
    r13 <= r_h[t[12].h];
    pm14 <= fmul_s1(e13, r13);
    p15 <= t[14].forced ? FP_ONE : fmul_s2(pm14);
    ad16 <= fadd_s1(t[15].first ? 32'd0 : acc, p15);
    if (t[16].valid) acc <= fadd_s23(ad16);
  end

  // the block score enters the top-n unit the cycle after its last term is accumulated
  logic tn_valid;
  logic [15:0] tn_idx;
  logic [NSA_TOPN_MAX-1:0] kept_valid;
  logic [NSA_TOPN_MAX-1:0][15:0] kept_idx;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [NSA_TOPN_MAX-1:0][30:0] kept_score;
  /* verilator lint_on UNUSEDSIGNAL */

  sattn_topn #(.NMAX(NSA_TOPN_MAX), .IW(16)) u_topn (
    .clk, .rst_n, .clear(start), .n(NW'(n)), .in_valid(tn_valid), .in_score(acc), .in_idx(tn_idx),
    .kept_valid, .kept_idx, .kept_score
  );

  // the drained run of rank dr
  logic [15:0] k_start, k_len;
  assign k_start = 16'(32'(kept_idx[dr[NW-2:0]]) * 32'(block));
  assign k_len = (32'(k_start) + 32'(block) > 32'(pos)) ? pos + 16'd1 - k_start : block;
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
      for (int i = 0; i <= NS; i++) t[i] <= '0;
    end else begin
      // capture counters: a row end moves to the next head's dots / m, l
      if (start) begin
        wbase <= '0;
        hf <= '0;
      end else begin
        if (dot_end) wbase <= wbase + (SAW + 1)'(num_keys);
        if (fin_valid) hf <= hf + 8'd1;
      end
      rvalid <= {rvalid[5:0], st == N_RECIP};
      // the tag pipeline
      t[1] <= '{valid: issue, first: h == 8'd0, last: h + 8'd1 == group, forced: own, h: h, c: c};
      for (int i = 2; i <= NS; i++) t[i] <= t[i - 1];
      tn_valid <= t[NS].valid && t[NS].last;
      tn_idx <= t[NS].c;
      case (st)
        N_IDLE: if (go) begin
          rh <= '0;
          st <= N_RECIP;
        end
        N_RECIP: begin
          rh <= rh + 8'd1;
          if (rh + 8'd1 == group) begin
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
              if (h + 8'd1 == group) begin
                h <= '0;
                rbase <= '0;
                c <= c + 16'd1;
                cstart <= cstart + block;
                if (own) begin
                  flush <= 5'(LAT + 2);
                  st <= N_FLUSH;
                end
              end else begin
                h <= h + 8'd1;
                rbase <= rbase + (SAW + 1)'(num_keys);
              end
            end
          end
        end
        N_FLUSH: begin  // the last block score reaches the top-n unit
          if (flush != '0) flush <= flush - 5'd1;
          else begin
            dr <= '0;
            st <= N_DRAIN;
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
