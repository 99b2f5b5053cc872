// Bad attributes: one line naming the attribute, with file:line:col of the op.
// RUN: %sattn-opt %s --split-input-file --verify-diagnostics --allow-unregistered-dialect | filecheck %s

"sattn.sparse_attention"() { window_size = -1 : i64 } : () -> ()
// CHECK: invalid.mlir:4:1: 'sattn.sparse_attention' attribute 'window_size' must be >= 0, got -1

// -----
"sattn.sparse_attention"() { dilation = 0 : i64 } : () -> ()
// CHECK: invalid.mlir:8:1: 'sattn.sparse_attention' attribute 'dilation' must be >= 1, got 0

// -----
"sattn.sparse_attention"() { nm_n = 4 : i64, nm_m = 2 : i64 } : () -> ()
// CHECK: invalid.mlir:12:1: 'sattn.sparse_attention' attribute 'nm_n' must be <= nm_m, got nm_n=4 nm_m=2

// -----
"sattn.sparse_attention"() { nm_n = 2 : i64 } : () -> ()
// CHECK: 'sattn.sparse_attention' attributes 'nm_n' and 'nm_m' must be set together

// -----
"sattn.sparse_attention"() { keep_ratio = 1.5 : f64 } : () -> ()
// CHECK: invalid.mlir:20:1: 'sattn.sparse_attention' attribute 'keep_ratio' must be in (0, 1], got 1.5

// -----
"sattn.sparse_attention"() { keep_ratio = 0.0 : f64 } : () -> ()
// CHECK: 'sattn.sparse_attention' attribute 'keep_ratio' must be in (0, 1], got 0.0

// -----
"sattn.sparse_attention"() { tile_M = 0 : i64 } : () -> ()
// CHECK: 'sattn.sparse_attention' attribute 'tile_M' must be >= 1, got 0

// -----
"sattn.sparse_attention"() { precision = "fp8" } : () -> ()
// CHECK: 'sattn.sparse_attention' attribute 'precision' must be one of fp32, bf16, i8, i4, got 'fp8'

// -----
"sattn.sparse_attention"() { spec = "banded" } : () -> ()
// CHECK: 'sattn.sparse_attention' attribute 'spec' must be one of sliding_window, bsr, block_local_global, nm_structured, topk_per_query, lsh, landmark, dense, got 'banded'

// -----
"sattn.sparse_attention"() { force_spec = "sparse" } : () -> ()
// CHECK: attribute 'force_spec' must be one of

// -----
"sattn.sparse_attention"() { windw_size = 3 : i64 } : () -> ()
// CHECK: invalid.mlir:44:1: 'sattn.sparse_attention' unknown attribute 'windw_size' (did you mean 'window_size'?)

// -----
"sattn.sparse_attention"() { window_size = "8" } : () -> ()
// CHECK: 'sattn.sparse_attention' attribute 'window_size' expects an integer (i64), got "8"

// -----
"sattn.sparse_attention"() { window_size = 1.5 : f64 } : () -> ()
// CHECK: attribute 'window_size' expects an integer (i64), got 1.500000e+00 : f64

// -----
"sattn.sparse_attention"() { keep_ratio = "half" } : () -> ()
// CHECK: attribute 'keep_ratio' expects a float (f64), got "half"

// -----
"sattn.sparse_attention"() { precision = 8 : i64 } : () -> ()
// CHECK: attribute 'precision' expects a string, got 8 : i64

// -----
"sattn.sparse_attention"() { scale_q = -0.5 : f32 } : () -> ()
// CHECK: attribute 'scale_q' must be a finite number > 0, got -0.5

// -----
"sattn.sparse_attention"() { wrap = 2 : i64 } : () -> ()
// CHECK: attribute 'wrap' must be one of 0, 1, got 2

// -----
"sattn.sparse_attention"() { num_heads = 3 : i64, gqa_group_size = 2 : i64 } : () -> ()
// CHECK: attribute 'num_heads'=3 is not divisible by gqa_group_size=2

// -----
"sattn.sparse_attention"() { tiled = 3 : i64 } : () -> ()
// CHECK: attribute 'tiled' expects a unit or boolean marker, got 3 : i64

// -----
"sattn.sparse_attention"() { buffer_layout = "colmajor" } : () -> ()
// CHECK: attribute 'buffer_layout' must be one of rowmajor, got "colmajor"

// -----
// A lowered call must say which spec it runs.
"sattn.rvv_call"() { window_size = 8 : i64 } : () -> ()
// CHECK: invalid.mlir:85:1: 'sattn.rvv_call' missing attribute 'spec'

// -----
"sattn.rocc_call"() { spec = "bsr", keep_ratio = 2.0 : f64 } : () -> ()
// CHECK: 'sattn.rocc_call' attribute 'keep_ratio' must be in (0, 1], got 2.0

// -----
%q, %k = "test.make"() : () -> (tensor<2x16x8xf32>, tensor<1x16x8xf32>)
"sattn.sparse_attention"(%q, %k) {} : (tensor<2x16x8xf32>, tensor<1x16x8xf32>) -> ()
// CHECK: 'sattn.sparse_attention' expects 0 or 3 operands (Q, K, V), got 2

// -----
%q, %k, %v = "test.make"() : () -> (tensor<2x16x8xf32>, tensor<1x16x4xf32>, tensor<1x16x4xf32>)
"sattn.sparse_attention"(%q, %k, %v) {} : (tensor<2x16x8xf32>, tensor<1x16x4xf32>, tensor<1x16x4xf32>) -> ()
// CHECK: operands Q and K disagree on [S,D]: (2, 16, 8) vs (1, 16, 4)

// -----
%q, %k, %v = "test.make"() : () -> (tensor<3x16x8xf32>, tensor<2x16x8xf32>, tensor<2x16x8xf32>)
"sattn.sparse_attention"(%q, %k, %v) {} : (tensor<3x16x8xf32>, tensor<2x16x8xf32>, tensor<2x16x8xf32>) -> ()
// CHECK: query heads 3 are not a multiple of key/value heads 2

// -----
%q, %k, %v = "test.make"() : () -> (tensor<2x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>)
"sattn.sparse_attention"(%q, %k, %v) { seq_len = 32 : i64 } : (tensor<2x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>) -> ()
// CHECK: attribute 'seq_len'=32 disagrees with the operand types (16)

// -----
%q, %k, %v = "test.make"() : () -> (tensor<2x16x8xi32>, tensor<1x16x8xi32>, tensor<1x16x8xi32>)
"sattn.sparse_attention"(%q, %k, %v) {} : (tensor<2x16x8xi32>, tensor<1x16x8xi32>, tensor<1x16x8xi32>) -> ()
// CHECK: operand Q must have a float element type, got tensor<2x16x8xi32>

// -----
%q, %k, %v = "test.make"() : () -> (tensor<2x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>)
%o = "sattn.sparse_attention"(%q, %k, %v) {} : (tensor<2x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>) -> tensor<2x16x4xf32>
// CHECK: result type tensor<2x16x4xf32> must match Q's type tensor<2x16x8xf32>

// -----
"sattn.sparse_attention"() { window_size = } : () -> ()
// CHECK: invalid.mlir:123:44: attribute expected
