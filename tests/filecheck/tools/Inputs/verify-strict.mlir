// Input of verify-diagnostics.mlir: run with and without --strict-attributes.

// expected-error @+1 {{'sattn.sparse_attention' unknown attribute 'softmax_mode'}}
"sattn.sparse_attention"() { softmax_mode = "logsumexp", window_size = 2 : i64 } : () -> ()
