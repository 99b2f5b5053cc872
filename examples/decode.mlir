// A decode step: one query row (Sq = 1) against a KV cache of Skv = 16,384 keys; 8 query heads
// share 2 KV heads (GQA groups of 4), D = 64, causal. No spec: the selector chooses among the
// candidates these attributes make computable (sliding_window w = 512, bsr with 5% of the
// 64-key blocks, block_local_global over 64-key blocks), cheapest first, within max_error of
// dense attention measured on the step's data (make demo, section 7).
module {
  "sattn.sparse_attention"() { seq_len = 1 : i64, kv_len = 16384 : i64, num_heads = 8 : i64, gqa_group_size = 4 : i64, head_dim = 64 : i64, causal = 1 : i64, window_size = 512 : i64, block_size = 64 : i64, keep_ratio = 0.05 : f64, max_error = 0.05 : f64 } : () -> ()
}
