// One attention layer of the tiny Llama of docs/tools.md ("Real attention tensors"): 4 query
// heads over 2 KV heads, D = 16, 128 tokens, causal. No spec: the selector picks the cheapest
// candidate whose error against dense attention is within max_error.
"sattn.sparse_attention"() { seq_len = 128 : i64, head_dim = 16 : i64, num_heads = 4 : i64, gqa_group_size = 2 : i64, causal = 1 : i64, window_size = 16 : i64, block_size = 16 : i64, keep_ratio = 2.500000e-01 : f64, max_error = 1.000000e+00 : f64 } : () -> ()
