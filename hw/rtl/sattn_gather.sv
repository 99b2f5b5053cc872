// sattn_gather: walks the index RAMs and feeds the MAC stages and the DMA.
//
// For every query head h of the group and every row r of the job it allocates a Q row buffer
// and requests the Q row, then expands the row's index runs (start, len) into keys. Each key goes
// to the token FIFO; a key whose K/V rows were never requested since the scratchpad was
// invalidated also goes to the DMA request FIFO (once: that is how the heads of a GQA group and
// the rows of a query block share one K/V fetch). A row ends with an END token carrying the
// output address (with PARTIAL, of the row's partial record within the job's records). Index problems (row pointers not ascending or beyond N_RUNS, a key >= NUM_KEYS)
// stop the walk with an error code; what was already issued drains normally.
// NSA SELECT jobs (sel): every row reads runs 0 .. N_RUNS-1 (what the top-n unit wrote; no row
// pointers) and its keys take scratchpad rows 0, 1, 2, ... in token order (the slot), so the
// kept blocks, anywhere among 65536 keys, fit the scratchpad; the heads of the group walk the same
// runs, so they find the same slots filled and share the fetch. A SELECT job's row r (of the
// job) reads only the keys j <= sel_pos + r of each run (causal bsr: NSA_POS is the position of
// the job's first row; NSA's runs end at its one row's position already), and each run takes
// its whole length of slots however much of it is read, so a key has the same slot in every row
// of the job and the rows share its fetch. With sel_direct (bsr's DIRECT SELECT, keys below
// NUM_KEYS <= KV_ROWS) key j takes scratchpad row j, as in a plain job, so jobs that do not
// invalidate find the keys an earlier one fetched.
module sattn_gather
  import sattn_isa_pkg::*;
  import sattn_types_pkg::*;
(
  input  logic                 clk,
  input  logic                 rst_n,
  input  logic                 start,
  input  logic                 invalidate,
  // job configuration
  input  logic [7:0]           group,
  input  logic [15:0]          row_base,
  input  logic [15:0]          row_count,
  input  logic [31:0]          n_runs,
  input  logic [KW:0]          num_keys,
  input  logic [15:0]          row_bytes,
  input  logic [15:0]          out_row_bytes,
  input  logic                 partial,   // output rows counted from the job's first row
  input  logic                 sel,       // NSA SELECT: runs 0..n_runs-1, keys in slots
  input  logic                 sel_direct,  // SELECT: key j at scratchpad row j (no slots)
  input  logic [15:0]          sel_pos,   // SELECT: row r reads keys j <= sel_pos + r
  input  logic [AW-1:0]        q_base,
  input  logic [AW-1:0]        q_hstride,
  input  logic [AW-1:0]        o_base,
  input  logic [AW-1:0]        o_hstride,
  // index RAM write ports (from the command decoder): 4 entries per command
  input  logic                 rp_we,
  input  logic [15:0]          rp_waddr,
  input  logic [127:0]         rp_wdata,
  input  logic                 run_we,
  input  logic [15:0]          run_waddr,
  input  logic [127:0]         run_wdata,
  input  logic                 run1_we,   // one entry (the top-n unit's runs)
  /* verilator lint_off UNUSEDSIGNAL */
  input  logic [15:0]          run1_waddr,  // < NSA_TOPN_MAX
  /* verilator lint_on UNUSEDSIGNAL */
  input  logic [31:0]          run1_wdata,
  // token FIFO and DMA request FIFO
  output logic                 tok_push,
  output token_t               tok,
  input  logic                 tok_full,
  output logic                 req_push,
  output dma_req_t             req,
  input  logic                 req_full,
  // Q row buffers
  input  logic [Q_SLOTS-1:0]   q_busy,
  output logic                 q_alloc,
  output logic [QSW-1:0]       q_alloc_slot,
  // status
  output logic                 active,
  output logic                 err,
  output logic [7:0]           err_code
);
  typedef enum logic [2:0] {G_IDLE, G_ROW, G_RUN, G_KEYS, G_END} gstate_t;
  localparam int RPAW = $clog2(ROWPTR_DEPTH);
  localparam int RUNAW = $clog2(RUN_DEPTH);
  localparam int KVAW = $clog2(KV_ROWS);

  logic [31:0] rowptr [ROWPTR_DEPTH];
  logic [31:0] runs [RUN_DEPTH] /*verilator public_flat_rd*/;  // public: the testbench's selection dump
  logic [KV_ROWS-1:0] requested;

  gstate_t st;
  logic [15:0] r;
  logic [7:0] h;
  logic [31:0] p, pend;
  logic [KW:0] j, jend;
  logic [KW:0] slot;       // SELECT: scratchpad row of key j (run lengths before it + offset)
  logic [KW:0] slot_next;  // SELECT: the slot after the current run (its whole length)
  logic [31:0] sel_end;    // SELECT: keys of this row end before sel_end
  logic [31:0] run_end;    // the keys of the current run this row reads end before it
  logic [KW-1:0] kid;      // the scratchpad row of key j
  logic [QSW-1:0] qs, cur_slot;
  logic cur_has_q;
  logic [AW-1:0] cur_oaddr;

  logic [31:0] rp0, rp1, run;
  logic [KW:0] run_start, run_len;
  logic [AW-1:0] abs_row, q_addr, o_addr;
  logic miss;

  // the top level checks ROW_COUNT < ROWPTR_DEPTH and N_RUNS <= RUN_DEPTH before a start
  assign rp0 = sel ? 32'd0 : rowptr[RPAW'(r)];
  assign rp1 = sel ? n_runs : rowptr[RPAW'(r + 16'd1)];
  assign run = runs[RUNAW'(p)];
  assign run_start = {1'b0, run[15:0]};
  assign run_len = {1'b0, run[31:16]};
  assign abs_row = AW'(row_base) + AW'(r);
  assign q_addr = q_base + AW'(h) * q_hstride + abs_row * AW'(row_bytes);
  // partial records are packed per job: row r of the job, not row ROW_BASE + r of the op
  assign o_addr = o_base + AW'(h) * o_hstride + (partial ? AW'(r) : abs_row) * AW'(out_row_bytes);
  assign kid = (sel && !sel_direct) ? slot[KW-1:0] : j[KW-1:0];
  assign sel_end = 32'(sel_pos) + 32'(r) + 32'd1;
  assign run_end = (sel && 32'(run_start) + 32'(run_len) > sel_end) ? sel_end
                   : 32'(run_start) + 32'(run_len);
  assign miss = !requested[KVAW'(kid)];
  assign active = st != G_IDLE;

  // outputs of the current state (the FIFOs are in the top level)
  always_comb begin
    tok_push = 1'b0;
    tok = '{is_end: 1'b0, has_q: cur_has_q, slot: cur_slot, key: kid, oaddr: cur_oaddr};
    req_push = 1'b0;
    req = '{kind: RQ_KV, id: kid, key: j[KW-1:0], addr: AW'(j) * AW'(row_bytes)};
    q_alloc = 1'b0;
    q_alloc_slot = qs;
    case (st)
      // an empty row needs no Q row (its output is zeros)
      G_ROW: if (!q_busy[qs] && !req_full && rp0 < rp1 && rp1 <= n_runs) begin
        req_push = 1'b1;
        req = '{kind: RQ_Q, id: KW'(qs), key: '0, addr: q_addr};
        q_alloc = 1'b1;
      end
      G_KEYS: if (!tok_full && (!miss || !req_full)) begin
        tok_push = 1'b1;
        req_push = miss;
      end
      G_END: if (!tok_full) begin
        tok_push = 1'b1;
        tok.is_end = 1'b1;
      end
      default: ;
    endcase
  end

  always_ff @(posedge clk) begin
    if (rp_we) for (int k = 0; k < 4; k++) rowptr[RPAW'(rp_waddr + 16'(k))] <= rp_wdata[k*32 +: 32];
    if (run_we) for (int k = 0; k < 4; k++) runs[RUNAW'(run_waddr + 16'(k))] <= run_wdata[k*32 +: 32];
    if (run1_we) runs[RUNAW'(run1_waddr)] <= run1_wdata;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      st <= G_IDLE;
      r <= '0;
      h <= '0;
      p <= '0;
      pend <= '0;
      j <= '0;
      jend <= '0;
      slot <= '0;
      slot_next <= '0;
      qs <= '0;
      cur_slot <= '0;
      cur_has_q <= 1'b0;
      cur_oaddr <= '0;
      requested <= '0;
      err <= 1'b0;
      err_code <= '0;
    end else begin
      err <= 1'b0;
      case (st)
        G_IDLE: if (start) begin
          if (invalidate) requested <= '0;
          r <= '0;
          h <= '0;
          st <= (row_count == 16'd0 || group == 8'd0) ? G_IDLE : G_ROW;
        end
        G_ROW: begin
          if (!(rp0 <= rp1 && rp1 <= n_runs)) begin
            err <= 1'b1;
            err_code <= E_ROWPTR;
            st <= G_IDLE;
          end else if (rp0 == rp1) begin
            cur_has_q <= 1'b0;
            cur_oaddr <= o_addr;
            st <= G_END;
          end else if (q_alloc) begin
            p <= rp0;
            slot <= '0;
            pend <= rp1;
            cur_slot <= qs;
            cur_has_q <= 1'b1;
            qs <= qs + 1'b1;
            cur_oaddr <= o_addr;
            st <= G_RUN;
          end
        end
        G_RUN: begin
          if ((sel && !sel_direct) ? (32'(slot) + 32'(run_len) > 32'(KV_ROWS))
                                   : (run_start + run_len > num_keys)) begin
            err <= 1'b1;
            err_code <= E_INDEX;
            st <= G_IDLE;
          end else if (run_len == '0 || run_end <= 32'(run_start)) begin
            p <= p + 1;
            slot <= slot + run_len;
            if (p + 1 == pend) st <= G_END;
          end else begin
            j <= run_start;
            jend <= (KW + 1)'(run_end);
            slot_next <= slot + run_len;
            st <= G_KEYS;
          end
        end
        G_KEYS: if (tok_push) begin
          if (miss) requested[KVAW'(kid)] <= 1'b1;
          j <= j + 1'b1;
          slot <= (j + 1'b1 == jend) ? slot_next : slot + 1'b1;
          if (j + 1'b1 == jend) begin
            p <= p + 1;
            st <= (p + 1 < pend) ? G_RUN : G_END;
          end
        end
        G_END: if (tok_push) begin
          if (r + 16'd1 == row_count) begin
            r <= '0;
            h <= h + 8'd1;
            st <= (h + 8'd1 == group) ? G_IDLE : G_ROW;
          end else begin
            r <= r + 16'd1;
            st <= G_ROW;
          end
        end
        default: st <= G_IDLE;
      endcase
    end
  end
endmodule
