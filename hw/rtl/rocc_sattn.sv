// rocc_sattn: the sparse-attention RoCC accelerator (top level).
//
// A RoCC-style command/response interface (custom-0 instructions, see sattn_isa_pkg and
// docs/rocc.md) configures descriptor registers, loads the index RAMs (row pointers and index
// runs of one job), starts a job and reads status, identification and performance counters.
// A job computes, for every query head of one GQA group and every row of a row range,
//     out[h, i] = softmax_j(score_scale * q[h,i] . k[j]) . v[j] * out_scale
// over the keys j its index runs select; q and k rows are HEAD_DIM wide, v and out rows
// HEAD_DIM_V wide (Dv; 0 means Dv = D). Units (one file each):
//   sattn_gather    index walk -> key tokens + K/V/Q row requests (each K/V row fetched once)
//   sattn_dma       memory read port, beat unpacking into the scratchpads, byte counters
//   sattn_spad      K and V scratchpads (KV_ROWS rows) and the Q row buffers
//   sattn_core      QK MAC array, streaming softmax, P.V lanes, finalize (1/l)
//   sattn_writeback output rows to memory
//   sattn_nsa       NSA's selection: scoring path (block scores from the core's dots) and the
//                   top-n unit (sattn_topn), which writes the kept blocks as runs
// NSA runs as SCORE jobs (compressed keys: o_cmp, then the block selection) followed by SELECT
// jobs (the kept blocks' tokens, from the runs the top-n unit wrote); see docs/rocc.md.
// Every performance counter is counted here or at the memory ports.
module rocc_sattn
  import sattn_isa_pkg::*;
  import sattn_types_pkg::*;
(
  input  logic                   clk,
  input  logic                   rst_n,
  // RoCC command
  input  logic                   cmd_valid,
  output logic                   cmd_ready,
  input  logic [6:0]             cmd_funct,
  input  logic [4:0]             cmd_rd,
  input  logic                   cmd_xd,
  input  logic [63:0]            cmd_rs1,
  input  logic [63:0]            cmd_rs2,
  // RoCC response
  output logic                   resp_valid,
  input  logic                   resp_ready,
  output logic [4:0]             resp_rd,
  output logic [63:0]            resp_data,
  output logic                   busy,
  // memory read port
  output logic                   mem_rd_req_valid,
  input  logic                   mem_rd_req_ready,
  output logic [63:0]            mem_rd_req_addr,
  output logic [15:0]            mem_rd_req_len,
  input  logic                   mem_rd_resp_valid,
  input  logic [BUS_BYTES*8-1:0] mem_rd_resp_data,
  // memory write port
  output logic                   mem_wr_valid,
  input  logic                   mem_wr_ready,
  output logic [63:0]            mem_wr_addr,
  output logic [BUS_BYTES*8-1:0] mem_wr_data,
  output logic [BUS_BYTES-1:0]   mem_wr_strb
);
  // ---------------- descriptor registers ----------------
  logic [2:0]    r_prec;
  logic          r_partial;  // PARTIAL[0]: rows write partial records [o, m, l]
  logic [15:0]   r_head_dim, r_seq_len, r_num_keys, r_row_base, r_row_count;
  logic [15:0]   r_head_dim_v;  // HEAD_DIM_V: 0 means Dv = D
  logic [7:0]    r_group;
  logic [31:0]   r_n_runs, r_score_scale, r_out_scale;
  logic [AW-1:0] r_q_base, r_k_base, r_v_base, r_o_base, r_q_hstride, r_o_hstride;
  logic [6:0]    r_nsa_ctrl;  // NSA_CTRL: bit 0 SCORE, 1 SELECT, 2 BSR, 3 FIRST, 4 LAST, 5 RAW, 6 DIRECT
  logic [15:0]   r_nsa_pos, r_nsa_block;
  logic [16:0]   r_nsa_limit; // NSA_LIMIT: a bsr SCORE job's key count (<= 65536)
  logic [5:0]    r_nsa_n;
  logic          sel_valid;   // the top-n unit's runs are in run RAM entries 0 .. sel_n-1
  logic [5:0]    sel_n;
  logic          nsa_ran;     // the running SCORE job's selection has started

  logic [15:0]   rp_wptr, run_wptr;  // entries loaded into the index RAMs
  logic [7:0]    err_code;
  logic          done_flag, job_active, job_started;

  // counters
  logic [63:0] c_total, c_busy, c_mac, c_lanes, c_gather, c_gather_active, c_dma_q, c_dma_k,
               c_dma_out, c_pairs, c_rows, c_stall, c_reqs, c_select;

  // ---------------- units ----------------
  logic is_int;
  logic [EW-1:0] head_dim, head_dim_v;
  logic [15:0] dv;  // the value width in effect
  logic [15:0] row_bytes, v_row_bytes, out_row_bytes;
  assign is_int = r_prec == P_I8 || r_prec == P_I4;
  assign dv = (r_head_dim_v == 16'd0) ? r_head_dim : r_head_dim_v;
  assign head_dim = EW'(r_head_dim);
  assign head_dim_v = EW'(dv);
  always_comb begin
    case (r_prec)
      P_FP32: begin row_bytes = r_head_dim << 2; v_row_bytes = dv << 2; end
      P_BF16: begin row_bytes = r_head_dim << 1; v_row_bytes = dv << 1; end
      P_I8:   begin row_bytes = r_head_dim; v_row_bytes = dv; end
      default: begin row_bytes = r_head_dim >> 1; v_row_bytes = dv >> 1; end
    endcase
  end
  assign out_row_bytes = (dv + (16'(r_partial) << 1)) << 2;  // Dv (+ m, l) fp32 words

  logic start_pulse, start_inval;
  logic cmd_fire;
  logic [7:0] start_err;

  // token FIFO (gather -> core) and request FIFO (gather -> DMA)
  logic tok_push, tok_pop, tok_full, tok_empty;
  token_t tok_in, tok_head;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [$clog2(TOKEN_FIFO+1)-1:0] tok_count;
  logic [$clog2(16+1)-1:0] rq_count;
  /* verilator lint_on UNUSEDSIGNAL */
  logic rq_push, rq_pop, rq_full, rq_empty;
  dma_req_t rq_in, rq_head;

  sattn_fifo #(.W($bits(token_t)), .DEPTH(TOKEN_FIFO)) u_tokens (
    .clk, .rst_n, .flush(start_pulse), .push(tok_push), .din(tok_in), .pop(tok_pop),
    .dout(tok_head), .empty(tok_empty), .full(tok_full), .count(tok_count)
  );
  sattn_fifo #(.W($bits(dma_req_t)), .DEPTH(16)) u_requests (
    .clk, .rst_n, .flush(1'b0), .push(rq_push), .din(rq_in), .pop(rq_pop),
    .dout(rq_head), .empty(rq_empty), .full(rq_full), .count(rq_count)
  );

  // row readiness
  logic [KV_ROWS-1:0] k_rdy, v_rdy;
  logic [Q_SLOTS-1:0] q_rdy, q_busy;
  logic q_alloc, q_release;
  logic [QSW-1:0] q_alloc_slot, q_release_slot;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [KW-1:0] k_query, v_query;  // keys < NUM_KEYS <= KV_ROWS: the high bits stay zero
  /* verilator lint_on UNUSEDSIGNAL */
  logic [QSW-1:0] q_query;

  // NSA selection
  logic nsa_run_we, nsa_busy, nsa_go, drained;
  logic [15:0] nsa_run_waddr;
  logic [31:0] nsa_run_wdata;
  logic c_dot_valid, c_dot_end, c_fin_valid;
  logic [KW-1:0] c_dot_key;
  logic [31:0] c_dot, c_fin_m, c_fin_l;

  // gather
  logic g_active, g_err;
  logic [7:0] g_err_code;
  logic rp_we, run_we;

  sattn_gather u_gather (
    .clk, .rst_n, .start(start_pulse), .invalidate(start_inval),
    .group(r_group), .row_base(r_row_base), .row_count(r_row_count), .n_runs(r_n_runs),
    .num_keys({1'b0, r_num_keys}), .row_bytes, .out_row_bytes, .partial(r_partial),
    .sel(r_nsa_ctrl[1]), .sel_direct(r_nsa_ctrl[6]), .sel_pos(r_nsa_pos),
    .q_base(r_q_base), .q_hstride(r_q_hstride), .o_base(r_o_base), .o_hstride(r_o_hstride),
    .rp_we, .rp_waddr(rp_wptr), .rp_wdata({cmd_rs2, cmd_rs1}),
    .run_we, .run_waddr(run_wptr), .run_wdata({cmd_rs2, cmd_rs1}),
    .run1_we(nsa_run_we), .run1_waddr(nsa_run_waddr), .run1_wdata(nsa_run_wdata),
    .tok_push, .tok(tok_in), .tok_full, .req_push(rq_push), .req(rq_in), .req_full(rq_full),
    .q_busy, .q_alloc, .q_alloc_slot, .active(g_active), .err(g_err), .err_code(g_err_code)
  );

  // DMA
  logic d_k_we, d_v_we, d_q_we, d_done, d_idle;
  logic [SPAD_AW-1:0] d_waddr;
  logic [31:0] d_wmask;
  logic [32*32-1:0] d_wdata;
  logic [1:0] d_done_kind;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [KW-1:0] d_done_id;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [7:0] d_bytes_q, d_bytes_kv;

  sattn_dma u_dma (
    .clk, .rst_n, .precision(r_prec), .head_dim, .head_dim_v, .row_bytes, .v_row_bytes,
    .k_base(r_k_base), .v_base(r_v_base),
    .req_valid(!rq_empty), .req(rq_head), .req_pop(rq_pop),
    .mem_req_valid(mem_rd_req_valid), .mem_req_ready(mem_rd_req_ready),
    .mem_req_addr(mem_rd_req_addr), .mem_req_len(mem_rd_req_len),
    .mem_resp_valid(mem_rd_resp_valid), .mem_resp_data(mem_rd_resp_data),
    .k_we(d_k_we), .v_we(d_v_we), .q_we(d_q_we), .waddr(d_waddr), .wmask(d_wmask),
    .wdata(d_wdata), .done_valid(d_done), .done_kind(d_done_kind), .done_id(d_done_id),
    .bytes_q(d_bytes_q), .bytes_kv(d_bytes_kv), .idle(d_idle)
  );

  // scratchpads
  logic k_re, v_re, q_re;
  logic [SPAD_AW-1:0] k_raddr, v_raddr;
  logic [QBUF_AW-1:0] q_raddr;
  logic [LANES_QK*32-1:0] k_rdata, q_rdata;
  logic [LANES_PV*32-1:0] v_rdata;

  sattn_spad #(.ROWS(KV_ROWS), .DMAX(DMAX), .WLANES(32), .WALIGN(BUS_BYTES / 4), .RLANES(LANES_QK),
               .GROUP(SPAD_GROUP), .BW(SPAD_GROUP / KV_BANKS)) u_kspad (
    .clk, .we(d_k_we), .waddr(d_waddr), .wmask(d_wmask), .wdata(d_wdata),
    .re(k_re), .raddr(k_raddr), .rdata(k_rdata)
  );
  sattn_spad #(.ROWS(KV_ROWS), .DMAX(DMAX), .WLANES(32), .WALIGN(BUS_BYTES / 4), .RLANES(LANES_PV),
               .GROUP(SPAD_GROUP), .BW(SPAD_GROUP / KV_BANKS)) u_vspad (
    .clk, .we(d_v_we), .waddr(d_waddr), .wmask(d_wmask), .wdata(d_wdata),
    .re(v_re), .raddr(v_raddr), .rdata(v_rdata)
  );
  sattn_spad #(.ROWS(Q_SLOTS), .DMAX(DMAX), .WLANES(32), .WALIGN(BUS_BYTES / 4), .RLANES(LANES_QK),
               .GROUP(SPAD_GROUP), .BW(SPAD_GROUP / Q_BANKS)) u_qbuf (
    .clk, .we(d_q_we), .waddr(QBUF_AW'(d_waddr)), .wmask(d_wmask), .wdata(d_wdata),
    .re(q_re), .raddr(q_raddr), .rdata(q_rdata)
  );

  // core
  logic ob_valid, ob_done, c_idle, pair_done, row_done, stall_kv;
  logic [AW-1:0] ob_addr;
  logic [DMAX*32-1:0] ob_data;
  logic [31:0] ob_m, ob_l;
  logic [EW-1:0] qk_busy, pv_busy;
  logic [7:0] wb_bytes;

  sattn_core u_core (
    .clk, .rst_n, .soft_reset(start_pulse), .head_dim, .head_dim_v, .is_int,
    .score_scale(r_score_scale), .out_scale(r_out_scale),
    .tok_valid(!tok_empty), .tok(tok_head), .tok_pop,
    .k_query, .k_ready(k_rdy[$clog2(KV_ROWS)'(k_query)]),
    .v_query, .v_ready(v_rdy[$clog2(KV_ROWS)'(v_query)]),
    .q_query, .q_ready(q_rdy[q_query]), .q_release, .q_release_slot,
    .k_re, .k_raddr, .k_rdata, .q_re, .q_raddr, .q_rdata, .v_re, .v_raddr, .v_rdata,
    .ob_valid, .ob_addr, .ob_data, .ob_m, .ob_l, .ob_done,
    .qk_lanes_busy(qk_busy), .pv_lanes_busy(pv_busy), .pair_done, .row_done, .stall_kv,
    .idle(c_idle), .dot_valid(c_dot_valid), .dot_end(c_dot_end), .dot_key(c_dot_key),
    .dot(c_dot), .fin_valid(c_fin_valid), .fin_m(c_fin_m), .fin_l(c_fin_l)
  );

  // the softmax rows a SCORE job scores: its heads (NSA: one row), or heads x rows (bsr)
  logic [31:0] nsa_heads, nsa_keys;
  assign nsa_heads = r_nsa_ctrl[2] ? 32'(r_group) * 32'(r_row_count) : 32'(r_group);
  // the compressed keys a row scores (bsr DIRECT: those after the NSA_LIMIT tokens)
  assign nsa_keys = (r_nsa_ctrl[2] && r_nsa_ctrl[6]) ? 32'(r_num_keys) - 32'(r_nsa_limit)
                                                     : 32'(r_num_keys);

  sattn_nsa u_nsa (
    .clk, .rst_n, .start(start_pulse && r_nsa_ctrl[0]), .heads(9'(nsa_heads)), .num_keys(r_num_keys),
    .pos(r_nsa_pos), .block(r_nsa_block), .n(r_nsa_n), .bsr(r_nsa_ctrl[2]),
    .first(r_nsa_ctrl[3]), .last(r_nsa_ctrl[4]), .raw(r_nsa_ctrl[5]), .direct(r_nsa_ctrl[6]),
    .limit(r_nsa_limit),
    .score_scale(r_score_scale),
    .dot_valid(c_dot_valid && r_nsa_ctrl[0]), .dot_key(c_dot_key), .dot(c_dot),
    .dot_end(c_dot_end && r_nsa_ctrl[0]), .fin_valid(c_fin_valid && r_nsa_ctrl[0]),
    .fin_m(c_fin_m), .fin_l(c_fin_l), .go(nsa_go), .busy(nsa_busy),
    .run_we(nsa_run_we), .run_waddr(nsa_run_waddr), .run_wdata(nsa_run_wdata)
  );

  sattn_writeback u_wb (
    .clk, .rst_n, .head_dim(head_dim_v), .partial(r_partial), .ob_valid, .ob_addr, .ob_data, .ob_m, .ob_l, .ob_done,
    .mem_wr_valid, .mem_wr_ready, .mem_wr_addr, .mem_wr_data, .mem_wr_strb, .bytes_out(wb_bytes)
  );

  // row readiness bookkeeping
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      k_rdy <= '0;
      v_rdy <= '0;
      q_rdy <= '0;
      q_busy <= '0;
    end else begin
      if (start_pulse && start_inval) begin
        k_rdy <= '0;
        v_rdy <= '0;
      end
      if (d_done && d_done_kind == RQ_K) k_rdy[$clog2(KV_ROWS)'(d_done_id)] <= 1'b1;
      if (d_done && d_done_kind == RQ_V) v_rdy[$clog2(KV_ROWS)'(d_done_id)] <= 1'b1;
      if (d_done && d_done_kind == RQ_Q) q_rdy[QSW'(d_done_id)] <= 1'b1;
      if (q_alloc) begin
        q_busy[q_alloc_slot] <= 1'b1;
        q_rdy[q_alloc_slot] <= 1'b0;
      end
      if (q_release) q_busy[q_release_slot] <= 1'b0;
    end
  end

  // ---------------- commands ----------------
  logic resp_pending;
  logic is_query;  // STATUS / GET_REG are allowed while a job runs
  logic [63:0] reg_value;
  logic reg_known;

  assign is_query = cmd_funct == F_STATUS || cmd_funct == F_GET_REG;
  assign cmd_ready = !resp_pending && (!job_active || is_query);
  assign cmd_fire = cmd_valid && cmd_ready;
  assign busy = job_active;

  always_comb begin
    reg_known = 1'b1;
    case (cmd_rs1[7:0])
      R_PRECISION:    reg_value = 64'(r_prec);
      R_HEAD_DIM:     reg_value = 64'(r_head_dim);
      R_HEAD_DIM_V:   reg_value = 64'(r_head_dim_v);
      R_SEQ_LEN:      reg_value = 64'(r_seq_len);
      R_NUM_KEYS:     reg_value = 64'(r_num_keys);
      R_GROUP:        reg_value = 64'(r_group);
      R_ROW_BASE:     reg_value = 64'(r_row_base);
      R_ROW_COUNT:    reg_value = 64'(r_row_count);
      R_N_RUNS:       reg_value = 64'(r_n_runs);
      R_Q_BASE:       reg_value = 64'(r_q_base);
      R_K_BASE:       reg_value = 64'(r_k_base);
      R_V_BASE:       reg_value = 64'(r_v_base);
      R_O_BASE:       reg_value = 64'(r_o_base);
      R_Q_HSTRIDE:    reg_value = 64'(r_q_hstride);
      R_O_HSTRIDE:    reg_value = 64'(r_o_hstride);
      R_SCORE_SCALE:  reg_value = 64'(r_score_scale);
      R_OUT_SCALE:    reg_value = 64'(r_out_scale);
      R_PARTIAL:      reg_value = 64'(r_partial);
      R_NSA_CTRL:     reg_value = 64'(r_nsa_ctrl);
      R_NSA_POS:      reg_value = 64'(r_nsa_pos);
      R_NSA_BLOCK:    reg_value = 64'(r_nsa_block);
      R_NSA_N:        reg_value = 64'(r_nsa_n);
      R_NSA_LIMIT:    reg_value = 64'(r_nsa_limit);
      R_SCORE_DEPTH:  reg_value = 64'(NSA_SCORE_DEPTH);
      R_TOPN_MAX:     reg_value = 64'(NSA_TOPN_MAX);
      R_VERSION:      reg_value = 64'(VERSION);
      R_CAPS:         reg_value = 64'(CAPS_VALUE);
      R_LANES:        reg_value = 64'(LANES);
      R_DMAX:         reg_value = 64'(DMAX);
      R_KV_ROWS:      reg_value = 64'(KV_ROWS);
      R_RUN_DEPTH:    reg_value = 64'(RUN_DEPTH);
      R_ROWPTR_DEPTH: reg_value = 64'(ROWPTR_DEPTH);
      R_CYC_TOTAL:    reg_value = c_total;
      R_CYC_BUSY:     reg_value = c_busy;
      R_CYC_MAC:      reg_value = c_mac;
      R_LANE_CYCLES:  reg_value = c_lanes;
      R_CYC_GATHER:   reg_value = c_gather;
      R_CYC_GATHER_ACTIVE: reg_value = c_gather_active;
      R_DMA_Q:        reg_value = c_dma_q;
      R_DMA_K:        reg_value = c_dma_k;
      R_DMA_OUT:      reg_value = c_dma_out;
      R_PAIRS:        reg_value = c_pairs;
      R_ROWS_DONE:    reg_value = c_rows;
      R_CYC_STALL_KV: reg_value = c_stall;
      R_DMA_REQS:     reg_value = c_reqs;
      R_CYC_SELECT:   reg_value = c_select;
      default: begin
        reg_value = 64'd0;
        reg_known = 1'b0;
      end
    endcase
  end

  // descriptor check at START (the hardware's refusal of what it cannot run)
  always_comb begin
    start_err = E_NONE;
    if (err_code != E_NONE) start_err = err_code;
    else if (r_prec > P_I4 || !CAPS_VALUE[5'(r_prec)]) start_err = E_PRECISION;
    else if (r_head_dim == 16'd0 || r_head_dim > 16'(DMAX) || dv > 16'(DMAX) || r_seq_len == 16'd0
             || ((!r_nsa_ctrl[1] || r_nsa_ctrl[6]) && (r_num_keys == 16'd0 || r_num_keys > 16'(KV_ROWS)))
             || r_group == 8'd0 || 32'(r_row_base) + 32'(r_row_count) > 32'(r_seq_len))
      start_err = E_SHAPE;
    // NSA: one row per job; SCORE: the group's dots fit the score buffer, 1 <= n <= TOPN_MAX, and
    // NSA_POS lies in a block whose predecessors are all keys of the job; SELECT: the kept
    // blocks fit the scratchpad
    // (a SELECT job may have several rows: the gather cuts row r at NSA_POS + r; a bsr SCORE
    // job too: its GROUP x ROW_COUNT softmax rows <= 256); bsr: the run of every candidate
    // block ends within NSA_LIMIT
    else if (r_nsa_ctrl[1:0] != 2'd0 && (r_nsa_ctrl[1:0] == 2'd3 || r_nsa_block == 16'd0
             || (r_nsa_ctrl[0] && !r_nsa_ctrl[2] && r_row_count != 16'd1)
             || (r_nsa_ctrl[0] && nsa_heads > 32'd256)))
      start_err = E_SHAPE;
    else if (r_nsa_ctrl[0] && r_nsa_ctrl[2] && (32'(r_nsa_limit) > 32'h10000
             || (r_nsa_ctrl[6] && 32'(r_nsa_limit) >= 32'(r_num_keys))
             || 32'(r_nsa_limit) + 32'(r_nsa_block) <= nsa_keys * 32'(r_nsa_block)))
      start_err = E_SHAPE;
    else if (r_nsa_ctrl[0] && (r_nsa_n == 6'd0 || 32'(r_nsa_n) > 32'(NSA_TOPN_MAX)
             || nsa_heads * nsa_keys > 32'(NSA_SCORE_DEPTH)
             || 32'(r_nsa_pos) >= (nsa_keys + 32'(!r_nsa_ctrl[2])) * 32'(r_nsa_block)))
      start_err = E_SHAPE;
    else if (r_nsa_ctrl[1] && 32'(r_n_runs) * 32'(r_nsa_block) > 32'(KV_ROWS))
      start_err = E_SHAPE;
    else if (r_prec == P_I4 && (r_head_dim[0] || dv[0])) start_err = E_ALIGN;
    else if (r_nsa_ctrl[1] ? (!sel_valid || r_n_runs == 32'd0 || r_n_runs > 32'(sel_n))
             : (32'(r_row_count) + 32'd1 > 32'(rp_wptr) || r_n_runs > 32'(run_wptr)))
      start_err = E_ROWPTR;
  end

  assign start_pulse = cmd_fire && cmd_funct == F_START && start_err == E_NONE;
  assign start_inval = cmd_rs1[0];
  assign rp_we = cmd_fire && cmd_funct == F_LOAD_ROWPTR && 32'(rp_wptr) + 32'd4 <= 32'(ROWPTR_DEPTH);
  assign run_we = cmd_fire && cmd_funct == F_LOAD_RUNS && 32'(run_wptr) + 32'd4 <= 32'(RUN_DEPTH);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      r_prec <= P_FP32;
      r_head_dim <= '0;
      r_head_dim_v <= '0;
      r_seq_len <= '0;
      r_num_keys <= '0;
      r_row_base <= '0;
      r_row_count <= '0;
      r_group <= 8'd1;
      r_n_runs <= '0;
      r_score_scale <= 32'h3f80_0000;
      r_out_scale <= 32'h3f80_0000;
      r_partial <= 1'b0;
      r_nsa_ctrl <= '0;
      r_nsa_pos <= '0;
      r_nsa_block <= '0;
      r_nsa_limit <= '0;
      r_nsa_n <= '0;
      sel_valid <= 1'b0;
      sel_n <= '0;
      nsa_ran <= 1'b0;
      r_q_base <= '0;
      r_k_base <= '0;
      r_v_base <= '0;
      r_o_base <= '0;
      r_q_hstride <= '0;
      r_o_hstride <= '0;
      rp_wptr <= '0;
      run_wptr <= '0;
      err_code <= E_NONE;
      done_flag <= 1'b0;
      job_active <= 1'b0;
      job_started <= 1'b0;
      resp_valid <= 1'b0;
      resp_pending <= 1'b0;
      resp_rd <= '0;
      resp_data <= '0;
    end else begin
      if (resp_valid && resp_ready) begin
        resp_valid <= 1'b0;
        resp_pending <= 1'b0;
      end
      if (cmd_fire) begin
        if (cmd_xd) begin
          resp_valid <= 1'b1;
          resp_pending <= 1'b1;
          resp_rd <= cmd_rd;
          resp_data <= '0;
        end
        case (cmd_funct)
          F_SET_REG: begin
            case (cmd_rs1[7:0])
              R_PRECISION:   r_prec <= (cmd_rs2 > 64'd7) ? 3'd7 : cmd_rs2[2:0];
              R_HEAD_DIM:    r_head_dim <= (cmd_rs2 > 64'hffff) ? 16'hffff : cmd_rs2[15:0];
              R_HEAD_DIM_V:  r_head_dim_v <= (cmd_rs2 > 64'hffff) ? 16'hffff : cmd_rs2[15:0];
              R_SEQ_LEN:     r_seq_len <= (cmd_rs2 > 64'hffff) ? 16'hffff : cmd_rs2[15:0];
              R_NUM_KEYS:    r_num_keys <= (cmd_rs2 > 64'hffff) ? 16'hffff : cmd_rs2[15:0];
              R_GROUP:       r_group <= (cmd_rs2 > 64'hff) ? 8'd0 : cmd_rs2[7:0];
              R_ROW_BASE:    r_row_base <= (cmd_rs2 > 64'hffff) ? 16'hffff : cmd_rs2[15:0];
              R_ROW_COUNT:   r_row_count <= (cmd_rs2 > 64'hffff) ? 16'hffff : cmd_rs2[15:0];
              R_N_RUNS:      r_n_runs <= cmd_rs2[31:0];
              R_Q_BASE:      r_q_base <= cmd_rs2[AW-1:0];
              R_K_BASE:      r_k_base <= cmd_rs2[AW-1:0];
              R_V_BASE:      r_v_base <= cmd_rs2[AW-1:0];
              R_O_BASE:      r_o_base <= cmd_rs2[AW-1:0];
              R_Q_HSTRIDE:   r_q_hstride <= cmd_rs2[AW-1:0];
              R_O_HSTRIDE:   r_o_hstride <= cmd_rs2[AW-1:0];
              R_SCORE_SCALE: r_score_scale <= cmd_rs2[31:0];
              R_OUT_SCALE:   r_out_scale <= cmd_rs2[31:0];
              R_PARTIAL:     r_partial <= cmd_rs2[0];
              R_NSA_CTRL:    r_nsa_ctrl <= cmd_rs2[6:0];
              R_NSA_POS:     r_nsa_pos <= (cmd_rs2 > 64'hffff) ? 16'hffff : cmd_rs2[15:0];
              R_NSA_BLOCK:   r_nsa_block <= (cmd_rs2 > 64'hffff) ? 16'hffff : cmd_rs2[15:0];
              R_NSA_N:       r_nsa_n <= (cmd_rs2 > 64'd63) ? 6'd63 : cmd_rs2[5:0];
              R_NSA_LIMIT:   r_nsa_limit <= (cmd_rs2 > 64'h10000) ? 17'h1ffff : cmd_rs2[16:0];
              default: if (err_code == E_NONE) err_code <= E_BAD_REG;
            endcase
          end
          F_GET_REG: begin
            resp_data <= reg_value;
            if (!reg_known && err_code == E_NONE) err_code <= E_BAD_REG;
          end
          F_LOAD_ROWPTR: begin
            if (rp_we) rp_wptr <= rp_wptr + 16'd4;
            else if (err_code == E_NONE) err_code <= E_OVERFLOW;
          end
          F_LOAD_RUNS: begin
            sel_valid <= 1'b0;  // the top-n unit's runs may be overwritten
            if (run_we) run_wptr <= run_wptr + 16'd4;
            else if (err_code == E_NONE) err_code <= E_OVERFLOW;
          end
          F_IDX_RESET: begin
            sel_valid <= 1'b0;
            rp_wptr <= '0;
            run_wptr <= '0;
            err_code <= E_NONE;
            done_flag <= 1'b0;
          end
          F_START: begin
            if (start_pulse) begin
              job_active <= 1'b1;
              job_started <= 1'b0;
              done_flag <= 1'b0;
              nsa_ran <= 1'b0;
              if (r_nsa_ctrl[0]) sel_valid <= 1'b0;
            end else begin
              err_code <= start_err;
              done_flag <= 1'b1;
            end
          end
          F_STATUS: resp_data <= {48'd0, err_code, 6'd0, done_flag, job_active};
          F_CLEAR_COUNTERS: ;
          default: if (err_code == E_NONE) err_code <= E_BAD_FUNCT;
        endcase
      end
      // a running job's index error
      if (g_err && err_code == E_NONE) err_code <= g_err_code;
      // job completion: everything issued has drained
      // (a SCORE job: and its selection has been made and written as runs)
      if (job_active && !start_pulse) begin
        job_started <= 1'b1;
        if (nsa_go) nsa_ran <= 1'b1;
        if (drained && (!r_nsa_ctrl[0] || (nsa_ran && !nsa_busy))) begin
          job_active <= 1'b0;
          done_flag <= 1'b1;
          if (r_nsa_ctrl[0] && (!r_nsa_ctrl[2] || r_nsa_ctrl[4])) begin
            sel_valid <= 1'b1;
            sel_n <= r_nsa_n;
          end
        end
      end
    end
  end

  assign drained = job_started && !g_active && tok_empty && rq_empty && d_idle && c_idle;
  assign nsa_go = job_active && !start_pulse && r_nsa_ctrl[0] && drained && !nsa_ran;

  // ---------------- performance counters ----------------
  logic any_lane;
  assign any_lane = qk_busy != '0 || pv_busy != '0;

  always_ff @(posedge clk) begin
    if (!rst_n || (cmd_fire && cmd_funct == F_CLEAR_COUNTERS)) begin
      c_total <= '0;
      c_busy <= '0;
      c_mac <= '0;
      c_lanes <= '0;
      c_gather <= '0;
      c_gather_active <= '0;
      c_dma_q <= '0;
      c_dma_k <= '0;
      c_dma_out <= '0;
      c_pairs <= '0;
      c_rows <= '0;
      c_stall <= '0;
      c_reqs <= '0;
      c_select <= '0;
    end else begin
      c_total <= c_total + 64'd1;
      c_busy <= c_busy + 64'(job_active);
      c_mac <= c_mac + 64'(any_lane);
      c_lanes <= c_lanes + 64'(qk_busy) + 64'(pv_busy);
      c_gather <= c_gather + 64'(job_active && !any_lane && (g_active || !d_idle));
      c_gather_active <= c_gather_active + 64'(g_active);
      c_dma_q <= c_dma_q + 64'(d_bytes_q);
      c_dma_k <= c_dma_k + 64'(d_bytes_kv);
      c_dma_out <= c_dma_out + 64'(wb_bytes);
      c_pairs <= c_pairs + 64'(pair_done);
      c_rows <= c_rows + 64'(row_done);
      c_stall <= c_stall + 64'(stall_kv);
      c_reqs <= c_reqs + 64'(mem_rd_req_valid && mem_rd_req_ready);
      c_select <= c_select + 64'(nsa_busy);
    end
  end
endmodule
