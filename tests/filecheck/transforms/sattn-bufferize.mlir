// sattn-bufferize: buffer sizes in bytes and the row-major layout.
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-bufferize)' | filecheck %s
// With the exact index count from materialize-indices:
// RUN: %sattn-opt %s -pass-pipeline='builtin.module(sattn-materialize-indices,sattn-bufferize)' | filecheck %s --check-prefix=EXACT

// fp32, H=2 over H_kv=1 (GQA 2), S=64, D=32: Q and out 2*64*32*4 = 16384, K and V 8192.
// Sliding window w=4 bound: 64*9 = 576 pairs -> (65 + 576)*4 = 2564 index bytes.
// Exact (edges cut): 576 - 20 = 556 pairs -> (65 + 556)*4 = 2484.
"sattn.rvv_call"() { spec = "sliding_window", window_size = 4 : i64, num_heads = 2 : i64, gqa_group_size = 2 : i64, seq_len = 64 : i64, head_dim = 32 : i64 } : () -> ()
// CHECK: bufferized, buffer_layout = "rowmajor", buffers = {q = 16384 : i64, k = 8192 : i64, v = 8192 : i64, out = 16384 : i64, index = 2564 : i64, index_exact = 0 : i64, total = 51716 : i64}
// EXACT: buffers = {q = 16384 : i64, k = 8192 : i64, v = 8192 : i64, out = 16384 : i64, index = 2484 : i64, index_exact = 1 : i64, total = 51636 : i64}

// i4 packs two values per byte; the output stays fp32. top-k 8 bound: 64*8 pairs.
"sattn.rocc_call"() { spec = "topk_per_query", topk_k = 8 : i64, precision = "i4", seq_len = 64 : i64, head_dim = 32 : i64 } : () -> ()
// CHECK: buffers = {q = 1024 : i64, k = 1024 : i64, v = 1024 : i64, out = 8192 : i64, index = 2308 : i64, index_exact = 0 : i64, total = 13572 : i64}

// bf16 halves the inputs.
"sattn.sparse_attention"() { spec = "dense", precision = "bf16", seq_len = 16 : i64, head_dim = 8 : i64 } : () -> ()
// CHECK: buffers = {q = 256 : i64, k = 256 : i64, v = 256 : i64, out = 512 : i64, index = 1092 : i64
