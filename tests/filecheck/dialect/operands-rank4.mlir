// Existing users' files: func.func with rank-4 operands [B,H,S,D] and discardable attributes.
// The tensor types give the shape (B=1, H=2, S=64, D=32, one query head per KV head), both
// pipelines lower the op in place (operands and result forwarded, the unknown attributes kept
// untouched, one warning each), and the records see the batch.
// RUN: %sattn-opt %s --split-input-file -pass-pipeline='builtin.module(sattn-lower-rvv)' 2> %t.rvv.err | filecheck %s --check-prefix=RVV
// RUN: %sattn-opt %s --split-input-file -pass-pipeline='builtin.module(sattn-lower-rocc)' 2> %t.rocc.err | filecheck %s --check-prefix=ROCC
// RUN: filecheck %s --check-prefix=WARN < %t.rvv.err
// RUN: filecheck %s --check-prefix=WARN < %t.rocc.err

// WARN:      operands-rank4.mlir:38:3: warning: 'sattn.sparse_attention' unknown attribute 'pattern'; kept and ignored
// WARN-NEXT: operands-rank4.mlir:38:3: warning: 'sattn.sparse_attention' unknown attribute 'softmax_mode'; kept and ignored
// WARN-NEXT: operands-rank4.mlir:46:5: warning: 'sattn.sparse_attention' unknown attribute 'pattern'; kept and ignored
// WARN-NEXT: operands-rank4.mlir:46:5: warning: 'sattn.sparse_attention' unknown attribute 'softmax_mode'; kept and ignored
// WARN-NEXT: operands-rank4.mlir:54:3: warning: 'sattn.sparse_attention' unknown attribute 'pattern'; kept and ignored
// WARN-NOT:  warning

// fp32: B*H*S*D*4 = 16384 bytes for each of Q, K, V and out; in @batched B = 2 doubles every
// buffer (Q 2*2*64*32*4 = 32768, K and V over one KV head 16384).
// RVV:      func.func @attn(%q: tensor<1x2x64x32xf32>, %k: tensor<1x2x64x32xf32>, %v: tensor<1x2x64x32xf32>) -> tensor<1x2x64x32xf32> {
// RVV-NEXT:   %o = "sattn.rvv_call"(%q, %k, %v) {pattern = "block_topk", softmax_mode = "logsumexp", keep_ratio = 2.500000e-01 : f64, block_size = 16 : i64, spec = "bsr", spec_rule = "cost_model"
// RVV-SAME:   buffers = {q = 16384 : i64, k = 16384 : i64, v = 16384 : i64, out = 16384 : i64
// RVV-SAME:   : (tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>) -> tensor<1x2x64x32xf32>
// RVV-NEXT:   func.return %o : tensor<1x2x64x32xf32>
// RVV:      builtin.module {
// RVV-NEXT:   func.func @attn(
// RVV-NEXT:     %o = "sattn.rvv_call"(%q, %k, %v) {pattern = "block_topk", softmax_mode = "logsumexp"
// RVV:      "sattn.rvv_call"(%q, %k, %v) {pattern = "block_topk", window_size = 4 : i64, spec = "sliding_window"
// RVV-SAME:   buffers = {q = 32768 : i64, k = 16384 : i64, v = 16384 : i64, out = 32768 : i64

// ROCC:      %o = "sattn.rocc_call"(%q, %k, %v) {pattern = "block_topk", softmax_mode = "logsumexp", keep_ratio = 2.500000e-01 : f64, block_size = 16 : i64, spec = "bsr"
// ROCC-SAME:   tile_grid = {batch = 1 : i64, kv_heads = 2 : i64, m_tiles = 1 : i64
// ROCC-SAME:   buffers = {q = 16384 : i64, k = 16384 : i64, v = 16384 : i64, out = 16384 : i64
// ROCC:      %o = "sattn.rocc_call"(%q, %k, %v) {pattern = "block_topk", softmax_mode = "logsumexp"
// ROCC:      "sattn.rocc_call"(%q, %k, %v) {pattern = "block_topk", window_size = 4 : i64, spec = "sliding_window"
// ROCC-SAME:   tile_grid = {batch = 2 : i64, kv_heads = 1 : i64, m_tiles = 1 : i64

func.func @attn(%q: tensor<1x2x64x32xf32>, %k: tensor<1x2x64x32xf32>, %v: tensor<1x2x64x32xf32>) -> tensor<1x2x64x32xf32> {
  %o = "sattn.sparse_attention"(%q, %k, %v) {pattern = "block_topk", softmax_mode = "logsumexp", keep_ratio = 0.25 : f64, block_size = 16 : i64} : (tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>) -> tensor<1x2x64x32xf32>
  func.return %o : tensor<1x2x64x32xf32>
}

// -----
// The same wrapped in `module { ... }`.
module {
  func.func @attn(%q: tensor<1x2x64x32xf32>, %k: tensor<1x2x64x32xf32>, %v: tensor<1x2x64x32xf32>) -> tensor<1x2x64x32xf32> {
    %o = "sattn.sparse_attention"(%q, %k, %v) {pattern = "block_topk", softmax_mode = "logsumexp", keep_ratio = 0.25 : f64, block_size = 16 : i64} : (tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>) -> tensor<1x2x64x32xf32>
    func.return %o : tensor<1x2x64x32xf32>
  }
}

// -----
// B = 2 with GQA (2 query heads over 1 KV head): lowering works (the reference runs B > 1).
func.func @batched(%q: tensor<2x2x64x32xf32>, %k: tensor<2x1x64x32xf32>, %v: tensor<2x1x64x32xf32>) {
  "sattn.sparse_attention"(%q, %k, %v) {pattern = "block_topk", window_size = 4 : i64} : (tensor<2x2x64x32xf32>, tensor<2x1x64x32xf32>, tensor<2x1x64x32xf32>) -> ()
  func.return
}
