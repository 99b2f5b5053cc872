module {
  "sattn.sparse_attention"() { spec = "bsr", block_size = 16 : i64, keep_ratio = 0.25 : f64, causal = 1 : i64, seq_len = 256 : i64, head_dim = 32 : i64, num_heads = 4 : i64, gqa_group_size = 2 : i64 } : () -> ()
}
