// sattn_dma: the memory read port. Turns row requests into memory reads and unpacks the returned
// beats into the scratchpads.
//
// Requests go out in order; responses come back in order, BUS_BYTES per beat (the testbench's
// memory model sets latency and bandwidth). Each beat carries 4 fp32, 8 bf16, 16 i8 or 32 i4
// elements, written unpacked (fp32 bits; bf16 << 16; integer codes sign-extended) into the
// destination row. Q and K rows are head_dim elements (row_bytes), V rows head_dim_v (v_row_bytes)
// at V_BASE + key * v_row_bytes (into scratchpad row id). The byte counters count at this port: every byte of every beat received.
module sattn_dma
  import sattn_isa_pkg::*;
  import sattn_types_pkg::*;
(
  input  logic                  clk,
  input  logic                  rst_n,
  input  logic [2:0]            precision,
  input  logic [EW-1:0]         head_dim,
  input  logic [EW-1:0]         head_dim_v,
  input  logic [15:0]           row_bytes,
  input  logic [15:0]           v_row_bytes,
  input  logic [AW-1:0]         k_base,
  input  logic [AW-1:0]         v_base,
  // row requests (show-ahead FIFO head)
  input  logic                  req_valid,
  input  dma_req_t              req,
  output logic                  req_pop,
  // memory read port
  output logic                  mem_req_valid,
  input  logic                  mem_req_ready,
  output logic [63:0]           mem_req_addr,
  output logic [15:0]           mem_req_len,
  input  logic                  mem_resp_valid,
  input  logic [BUS_BYTES*8-1:0] mem_resp_data,
  // scratchpad fills
  output logic                  k_we,
  output logic                  v_we,
  output logic                  q_we,
  output logic [SPAD_AW-1:0]    waddr,
  output logic [31:0]           wmask,
  output logic [32*32-1:0]      wdata,
  // a row has fully arrived
  output logic                  done_valid,
  output logic [1:0]            done_kind,
  output logic [KW-1:0]         done_id,
  // bytes received this cycle
  output logic [7:0]            bytes_q,
  output logic [7:0]            bytes_kv,
  output logic                  idle
);
  localparam int OW = 2 + KW;

  logic phase;  // RQ_KV: 0 = K half, 1 = V half
  logic issue;
  logic [1:0] issue_kind;
  logic of_empty, of_full;
  logic [OW-1:0] of_dout;
  logic [$clog2(OUTSTANDING+1)-1:0] of_count;
  logic [1:0] o_kind;
  logic [KW-1:0] o_id;
  logic [5:0] beat, nbeats;
  logic [EW-1:0] e0, epb, rem, o_elems;
  logic [15:0] bytes_left, o_bytes;
  logic last_beat;

  assign issue_kind = (req.kind == RQ_Q) ? RQ_Q : (phase ? RQ_V : RQ_K);
  assign mem_req_valid = req_valid && !of_full;
  assign mem_req_len = (issue_kind == RQ_V) ? v_row_bytes : row_bytes;
  always_comb begin
    case (issue_kind)
      RQ_K: mem_req_addr = 64'(AW'(k_base + req.addr));
      // the gather unit's offset is key * row_bytes (K's); a V row is v_row_bytes long
      RQ_V: mem_req_addr = 64'(AW'(v_base + AW'(req.key) * AW'(v_row_bytes)));
      default: mem_req_addr = 64'(req.addr);
    endcase
  end
  assign issue = mem_req_valid && mem_req_ready;
  assign req_pop = issue && (req.kind == RQ_Q || phase);

  always_ff @(posedge clk) begin
    if (!rst_n) phase <= 1'b0;
    else if (issue) phase <= (req.kind == RQ_KV) ? !phase : 1'b0;
  end

  sattn_fifo #(.W(OW), .DEPTH(OUTSTANDING)) u_outstanding (
    .clk, .rst_n, .flush(1'b0),
    .push(issue), .din({issue_kind, req.id}),
    .pop(mem_resp_valid && last_beat), .dout(of_dout), .empty(of_empty), .full(of_full),
    .count(of_count)
  );
  assign {o_kind, o_id} = of_dout;

  // response beat -> elements
  always_comb begin
    case (precision)
      P_FP32: epb = EW'(4);
      P_BF16: epb = EW'(8);
      P_I8:   epb = EW'(16);
      default: epb = EW'(32);
    endcase
  end
  // the row being received: a V row is Dv elements, a Q or K row D
  assign o_bytes = (o_kind == RQ_V) ? v_row_bytes : row_bytes;
  assign o_elems = (o_kind == RQ_V) ? head_dim_v : head_dim;
  assign nbeats = 6'((o_bytes + 16'(BUS_BYTES - 1)) / 16'(BUS_BYTES));
  assign last_beat = beat == nbeats - 6'd1;
  assign e0 = EW'(beat) * epb;
  assign rem = o_elems - e0;
  assign bytes_left = o_bytes - 16'(beat) * 16'(BUS_BYTES);

  always_comb begin
    wdata = '0;
    wmask = '0;
    for (int k = 0; k < 32; k++) begin
      wmask[k] = EW'(k) < rem && EW'(k) < epb;
      case (precision)
        P_FP32: if (k < 4) wdata[k*32 +: 32] = mem_resp_data[k*32 +: 32];
        P_BF16: if (k < 8) wdata[k*32 +: 32] = {mem_resp_data[k*16 +: 16], 16'd0};
        P_I8:   if (k < 16) wdata[k*32 +: 32] = 32'(signed'(mem_resp_data[k*8 +: 8]));
        default: wdata[k*32 +: 32] = 32'(signed'(mem_resp_data[k*4 +: 4]));
      endcase
    end
  end
  assign waddr = SPAD_AW'(o_id) * SPAD_AW'(DMAX) + SPAD_AW'(e0);
  assign k_we = mem_resp_valid && o_kind == RQ_K;
  assign v_we = mem_resp_valid && o_kind == RQ_V;
  assign q_we = mem_resp_valid && o_kind == RQ_Q;
  assign done_valid = mem_resp_valid && last_beat;
  assign done_kind = o_kind;
  assign done_id = o_id;
  assign bytes_q = (mem_resp_valid && o_kind == RQ_Q)
                   ? 8'(bytes_left > 16'(BUS_BYTES) ? 16'(BUS_BYTES) : bytes_left) : 8'd0;
  assign bytes_kv = (mem_resp_valid && o_kind != RQ_Q)
                    ? 8'(bytes_left > 16'(BUS_BYTES) ? 16'(BUS_BYTES) : bytes_left) : 8'd0;
  assign idle = of_empty && !req_valid;

  always_ff @(posedge clk) begin
    if (!rst_n) beat <= '0;
    else if (mem_resp_valid) beat <= last_beat ? 6'd0 : beat + 6'd1;
  end

  // a response with nothing outstanding cannot happen with a correct memory model
  /* verilator lint_off UNUSEDSIGNAL */
  logic unused;
  assign unused = ^of_count;
  /* verilator lint_on UNUSEDSIGNAL */
endmodule
