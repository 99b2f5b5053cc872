// sattn_types_pkg: widths and the records passed between the sattn units.
// verilator lint_off UNUSEDPARAM
package sattn_types_pkg;
  import sattn_isa_pkg::*;

  localparam int AW = 48;                       // byte address width inside the accelerator
  localparam int KW = 16;                       // key (K/V row) index width
  localparam int QSW = $clog2(Q_SLOTS);         // Q row-buffer slot index width
  localparam int SPAD_AW = $clog2(KV_ROWS * DMAX);
  localparam int QBUF_AW = $clog2(Q_SLOTS * DMAX);
  localparam int EW = $clog2(DMAX + 1);         // element count width (0..DMAX)

  // One entry of the gather unit's token stream to the MAC stages: a key of the current row,
  // or the end of a row (then oaddr is where the output row goes).
  typedef struct packed {
    logic           is_end;
    logic           has_q;   // the row owns Q slot `slot` (empty rows fetch no Q row)
    logic [QSW-1:0] slot;
    logic [KW-1:0]  key;
    logic [AW-1:0]  oaddr;
  } token_t;

  // Read-request kinds of the gather unit.
  localparam logic [1:0] RQ_Q = 2'd0;   // one Q row into a Q slot
  localparam logic [1:0] RQ_KV = 2'd1;  // one K row and one V row into the scratchpads
  localparam logic [1:0] RQ_K = 2'd2;   // (memory-side) K half of RQ_KV
  localparam logic [1:0] RQ_V = 2'd3;   // (memory-side) V half of RQ_KV

  typedef struct packed {
    logic [1:0]    kind;
    logic [KW-1:0] id;    // Q slot or scratchpad row
    logic [KW-1:0] key;   // RQ_KV: the key (V's address; = id except in an NSA SELECT job)
    logic [AW-1:0] addr;  // absolute for RQ_Q; row offset (added to K_BASE / V_BASE) for RQ_KV
  } dma_req_t;
endpackage
// verilator lint_on UNUSEDPARAM
