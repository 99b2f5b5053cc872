// Bad attributes: one diagnostic naming the attribute, on the op's line (--verify-diagnostics
// matches each expected-error / expected-warning by line and message; any other diagnostic, or
// a missing one, fails the run). tools/errors.mlir checks the full file:line:col lines.
// RUN: %sattn-opt %s --split-input-file --verify-diagnostics --allow-unregistered-dialect

// expected-error @+1 {{'sattn.sparse_attention' attribute 'window_size' must be >= 0, got -1}}
"sattn.sparse_attention"() { window_size = -1 : i64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'dilation' must be >= 1, got 0}}
"sattn.sparse_attention"() { dilation = 0 : i64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'nm_n' must be <= nm_m, got nm_n=4 nm_m=2}}
"sattn.sparse_attention"() { nm_n = 4 : i64, nm_m = 2 : i64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attributes 'nm_n' and 'nm_m' must be set together}}
"sattn.sparse_attention"() { nm_n = 2 : i64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'keep_ratio' must be in (0, 1], got 1.5}}
"sattn.sparse_attention"() { keep_ratio = 1.5 : f64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'keep_ratio' must be in (0, 1], got 0.0}}
"sattn.sparse_attention"() { keep_ratio = 0.0 : f64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'tile_M' must be >= 1, got 0}}
"sattn.sparse_attention"() { tile_M = 0 : i64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'precision' must be one of fp32, bf16, i8, i4, got 'fp8'}}
"sattn.sparse_attention"() { precision = "fp8" } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'spec' must be one of sliding_window, bsr, block_local_global, nm_structured, topk_per_query, lsh, landmark, dense, nsa, got 'banded'}}
"sattn.sparse_attention"() { spec = "banded" } : () -> ()

// -----
// expected-error @+1 {{attribute 'force_spec' must be one of}}
"sattn.sparse_attention"() { force_spec = "sparse" } : () -> ()

// -----
// expected-warning @+1 {{'sattn.sparse_attention' unknown attribute 'windw_size' (did you mean 'window_size'?); kept and ignored}}
"sattn.sparse_attention"() { windw_size = 3 : i64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'window_size' expects an integer (i64), got "8"}}
"sattn.sparse_attention"() { window_size = "8" } : () -> ()

// -----
// expected-error @+1 {{attribute 'window_size' expects an integer (i64), got 1.500000e+00 : f64}}
"sattn.sparse_attention"() { window_size = 1.5 : f64 } : () -> ()

// -----
// expected-error @+1 {{attribute 'keep_ratio' expects a float (f64), got "half"}}
"sattn.sparse_attention"() { keep_ratio = "half" } : () -> ()

// -----
// expected-error @+1 {{attribute 'precision' expects a string, got 8 : i64}}
"sattn.sparse_attention"() { precision = 8 : i64 } : () -> ()

// -----
// expected-error @+1 {{attribute 'scale_q' must be a finite number > 0, got -0.5}}
"sattn.sparse_attention"() { scale_q = -0.5 : f32 } : () -> ()

// -----
// expected-error @+1 {{attribute 'wrap' must be one of 0, 1, got 2}}
"sattn.sparse_attention"() { wrap = 2 : i64 } : () -> ()

// -----
// expected-error @+1 {{attribute 'num_heads'=3 is not divisible by gqa_group_size=2}}
"sattn.sparse_attention"() { num_heads = 3 : i64, gqa_group_size = 2 : i64 } : () -> ()

// -----
// expected-error @+1 {{attribute 'tiled' expects a unit or boolean marker, got 3 : i64}}
"sattn.sparse_attention"() { tiled = 3 : i64 } : () -> ()

// -----
// expected-error @+1 {{attribute 'buffer_layout' must be one of rowmajor, got "colmajor"}}
"sattn.sparse_attention"() { buffer_layout = "colmajor" } : () -> ()

// -----
// A lowered call must say which spec it runs.
// expected-error @+1 {{'sattn.rvv_call' missing attribute 'spec'}}
"sattn.rvv_call"() { window_size = 8 : i64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.rocc_call' attribute 'keep_ratio' must be in (0, 1], got 2.0}}
"sattn.rocc_call"() { spec = "bsr", keep_ratio = 2.0 : f64 } : () -> ()

// -----
%q, %k = "test.make"() : () -> (tensor<2x16x8xf32>, tensor<1x16x8xf32>)
// expected-error @+1 {{'sattn.sparse_attention' expects 0 or 3 operands (Q, K, V), got 2}}
"sattn.sparse_attention"(%q, %k) {} : (tensor<2x16x8xf32>, tensor<1x16x8xf32>) -> ()

// -----
%q, %k, %v = "test.make"() : () -> (tensor<2x16x8xf32>, tensor<1x16x4xf32>, tensor<1x16x4xf32>)
// expected-error @+1 {{operands Q and K disagree on [S,D]: (2, 16, 8) vs (1, 16, 4)}}
"sattn.sparse_attention"(%q, %k, %v) {} : (tensor<2x16x8xf32>, tensor<1x16x4xf32>, tensor<1x16x4xf32>) -> ()

// -----
%q, %k, %v = "test.make"() : () -> (tensor<3x16x8xf32>, tensor<2x16x8xf32>, tensor<2x16x8xf32>)
// expected-error @+1 {{query heads 3 are not a multiple of key/value heads 2}}
"sattn.sparse_attention"(%q, %k, %v) {} : (tensor<3x16x8xf32>, tensor<2x16x8xf32>, tensor<2x16x8xf32>) -> ()

// -----
%q, %k, %v = "test.make"() : () -> (tensor<2x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>)
// expected-error @+1 {{attribute 'seq_len'=32 disagrees with the operand types (16)}}
"sattn.sparse_attention"(%q, %k, %v) { seq_len = 32 : i64 } : (tensor<2x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>) -> ()

// -----
%q, %k, %v = "test.make"() : () -> (tensor<2x16x8xi32>, tensor<1x16x8xi32>, tensor<1x16x8xi32>)
// expected-error @+1 {{operand Q must have a float element type, got tensor<2x16x8xi32>}}
"sattn.sparse_attention"(%q, %k, %v) {} : (tensor<2x16x8xi32>, tensor<1x16x8xi32>, tensor<1x16x8xi32>) -> ()

// -----
%q, %k, %v = "test.make"() : () -> (tensor<2x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>)
// expected-error @+1 {{result type tensor<2x16x4xf32> must be Q's shape with V's last dimension Dv=8 (2x16x8)}}
%o = "sattn.sparse_attention"(%q, %k, %v) {} : (tensor<2x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>) -> tensor<2x16x4xf32>

// -----
// expected-error @+1 {{attribute expected}}
"sattn.sparse_attention"() { window_size = } : () -> ()

// -----
// Rank-4 operands [B,H,S,D]: the same checks, plus the batch.
func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<2x2x16x8xf32>, %v: tensor<2x2x16x8xf32>) {
  // expected-error @+1 {{operands Q and K disagree on the batch B: 1 vs 2}}
  "sattn.sparse_attention"(%q, %k, %v) {} : (tensor<1x2x16x8xf32>, tensor<2x2x16x8xf32>, tensor<2x2x16x8xf32>) -> ()
  func.return
}

// -----
func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x1x16x8xf32>) {
  // expected-error @+1 {{operands K and V must agree on [B,H,S] (V's last dim Dv may differ from D), got (2, 16, 8) and (1, 16, 8)}}
  "sattn.sparse_attention"(%q, %k, %v) {} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x1x16x8xf32>) -> ()
  func.return
}

// -----
func.func @f(%q: tensor<2x3x16x8xf32>, %k: tensor<2x2x16x8xf32>, %v: tensor<2x2x16x8xf32>) {
  // expected-error @+1 {{query heads 3 are not a multiple of key/value heads 2}}
  "sattn.sparse_attention"(%q, %k, %v) {} : (tensor<2x3x16x8xf32>, tensor<2x2x16x8xf32>, tensor<2x2x16x8xf32>) -> ()
  func.return
}

// -----
func.func @f(%q: tensor<2x2x16x8xf32>, %k: tensor<2x2x16x4xf32>, %v: tensor<2x2x16x4xf32>) {
  // expected-error @+1 {{operands Q and K disagree on [S,D]: (2, 2, 16, 8) vs (2, 2, 16, 4)}}
  "sattn.sparse_attention"(%q, %k, %v) {} : (tensor<2x2x16x8xf32>, tensor<2x2x16x4xf32>, tensor<2x2x16x4xf32>) -> ()
  func.return
}

// -----
func.func @f(%q: tensor<1x1x2x16x8xf32>, %k: tensor<1x16x8xf32>, %v: tensor<1x16x8xf32>) {
  // expected-error @+1 {{operand Q must be a static tensor [B,H,S,D], [H,S,D] or [S,D], got tensor<1x1x2x16x8xf32>}}
  "sattn.sparse_attention"(%q, %k, %v) {} : (tensor<1x1x2x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>) -> ()
  func.return
}

// -----
func.func @f(%q: tensor<2x1x16x8xf32>, %k: tensor<2x1x16x8xf32>, %v: tensor<2x1x16x8xf32>) {
  // expected-error @+1 {{attribute 'batch'=3 disagrees with the operand types (2)}}
  "sattn.sparse_attention"(%q, %k, %v) {batch = 3 : i64} : (tensor<2x1x16x8xf32>, tensor<2x1x16x8xf32>, tensor<2x1x16x8xf32>) -> ()
  func.return
}

// -----
func.func @f(%q: tensor<1x16x8xf32>, %k: tensor<1x16x8xf32>, %v: tensor<1x16x8xf32>) {
  // expected-error @+1 {{attribute 'batch'=2 disagrees with the operand types (no batch dimension: 1)}}
  "sattn.sparse_attention"(%q, %k, %v) {batch = 2 : i64} : (tensor<1x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>) -> ()
  func.return
}

// -----
func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) -> tensor<2x16x8xf32> {
  // expected-error @+1 {{result type tensor<2x16x8xf32> must be Q's shape with V's last dimension Dv=8 (1x2x16x8)}}
  %o = "sattn.sparse_attention"(%q, %k, %v) {} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>) -> tensor<2x16x8xf32>
  func.return %o : tensor<2x16x8xf32>
}

// -----
// Dv (V's last dimension, head_dim_v) may differ from D; the attribute must agree with V.
func.func @f(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x4xf32>) {
  // expected-error @+1 {{attribute 'head_dim_v'=8 disagrees with operand V's last dimension Dv=4 (V is (2, 16, 4))}}
  "sattn.sparse_attention"(%q, %k, %v) {head_dim_v = 8 : i64} : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x4xf32>) -> ()
  func.return
}

// -----
func.func @f(%q: tensor<2x2x16x8xf32>, %k: tensor<2x2x16x8xf32>, %v: tensor<3x2x16x8xf32>) {
  // expected-error @+1 {{operands K and V must agree on [B,H,S] (V's last dim Dv may differ from D), got (2, 2, 16, 8) and (3, 2, 16, 8)}}
  "sattn.sparse_attention"(%q, %k, %v) {} : (tensor<2x2x16x8xf32>, tensor<2x2x16x8xf32>, tensor<3x2x16x8xf32>) -> ()
  func.return
}

// -----
func.func @f(%q: tensor<2x2x16x8xf32>, %k: tensor<2x2x16x8xf32>, %v: tensor<2x2x16x4xf32>) -> tensor<2x2x16x8xf32> {
  // expected-error @+1 {{result type tensor<2x2x16x8xf32> must be Q's shape with V's last dimension Dv=4 (2x2x16x4)}}
  %o = "sattn.sparse_attention"(%q, %k, %v) {} : (tensor<2x2x16x8xf32>, tensor<2x2x16x8xf32>, tensor<2x2x16x4xf32>) -> tensor<2x2x16x8xf32>
  func.return %o : tensor<2x2x16x8xf32>
}

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'head_dim_v' must be >= 1, got 0}}
"sattn.sparse_attention"() { head_dim_v = 0 : i64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'batch' must be >= 1, got 0}}
"sattn.sparse_attention"() { batch = 0 : i64 } : () -> ()

// -----
// nsa's own rules (sattn.specs.nsa.Nsa.verify), once spec names it.
// expected-error @+1 {{'sattn.sparse_attention' attribute 'block_size' is required by spec nsa}}
"sattn.sparse_attention"() { spec = "nsa", select_blocks = 4 : i64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'comp_stride'=12 must be <= comp_block_size=16 and divide it and block_size=64}}
"sattn.sparse_attention"() { spec = "nsa", block_size = 64 : i64, comp_block_size = 16 : i64, comp_stride = 12 : i64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'comp_stride'=32 must be <= comp_block_size=16}}
"sattn.sparse_attention"() { spec = "nsa", block_size = 64 : i64, comp_block_size = 16 : i64, comp_stride = 32 : i64 } : () -> ()

// -----
// nsa's window_size is the w keys ending at the query, not sliding_window's dilated half-width.
// expected-error @+1 {{'sattn.sparse_attention' attribute 'dilation' is sliding_window's, not nsa's: nsa's window_size is the w keys ending at the query (j in [p-w+1, p]), not a dilated half-width}}
"sattn.sparse_attention"() { spec = "nsa", block_size = 16 : i64, window_size = 8 : i64, dilation = 2 : i64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'select_blocks' must be >= 1, got 0}}
"sattn.sparse_attention"() { select_blocks = 0 : i64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'select_blocks' expects an integer (i64), got 2.500000e+00 : f64}}
"sattn.sparse_attention"() { spec = "nsa", block_size = 16 : i64, select_blocks = 2.5 : f64 } : () -> ()

// -----
// expected-error @+1 {{'sattn.sparse_attention' attribute 'comp_stride' must be >= 0, got -4}}
"sattn.sparse_attention"() { spec = "nsa", block_size = 16 : i64, comp_stride = -4 : i64 } : () -> ()
