// sattn-opt on bad input: one line on stderr naming file:line:col, exit status 1, no output
// file, no traceback.
// RUN: not %sattn-opt %s -o %t.out 2> %t.err
// RUN: filecheck %s --check-prefix=ERR --match-full-lines < %t.err
// RUN: not test -e %t.out
// ERR: sattn-opt: error: {{.*}}errors.mlir:10:3: 'sattn.sparse_attention' attribute 'window_size' must be >= 0, got -1
// ERR-NOT: {{.}}

module {
  "sattn.sparse_attention"() { window_size = -1 : i64 } : () -> ()
}

// Unknown pass names: one line listing the known ones.
// RUN: not %sattn-opt %s -pass-pipeline='builtin.module(sattn-lower-gpu)' 2>&1 | filecheck %s --check-prefix=PASS
// PASS: sattn-opt: error: unknown pass 'sattn-lower-gpu' in pipeline 'builtin.module(sattn-lower-gpu)'; known passes: sattn-bufferize, sattn-fuse-softmax, sattn-lower-rocc, sattn-lower-rvv, sattn-lower-to-rocc, sattn-lower-to-rvv, sattn-materialize-indices, sattn-select-spec, sattn-tile, sattn-vectorize

// A missing input file.
// RUN: not %sattn-opt %t.does-not-exist.mlir 2>&1 | filecheck %s --check-prefix=MISSING
// MISSING: sattn-opt: error: cannot read '{{.*}}does-not-exist.mlir': no such file

// Malformed MLIR.
// RUN: echo '"sattn.sparse_attention"() { window_size = 8 : i64 ' | not %sattn-opt 2>&1 | filecheck %s --check-prefix=SYNTAX
// SYNTAX: sattn-opt: error: <stdin>:2:1: '}' expected

// Unregistered dialects need the flag.
// RUN: echo '"foo.bar"() : () -> ()' | not %sattn-opt 2>&1 | filecheck %s --check-prefix=UNREG
// UNREG: sattn-opt: error: <stdin>:1:{{[0-9]+}}: Operation foo.bar is not registered (pass --allow-unregistered-dialect to accept it)
// RUN: echo '"foo.bar"() : () -> ()' | %sattn-opt --allow-unregistered-dialect | filecheck %s --check-prefix=ALLOW
// ALLOW: "foo.bar"() : () -> ()

// Bad pass options and bad hint values.
// RUN: echo '"sattn.sparse_attention"() {} : () -> ()' | not %sattn-opt -pass-pipeline='builtin.module(sattn-vectorize{vlen=100})' 2>&1 | filecheck %s --check-prefix=VLEN
// VLEN: sattn-opt: error: option vlen of sattn-vectorize expects a power of two in [128, 65536], got 100
// RUN: echo '"sattn.sparse_attention"() {} : () -> ()' | env SATTN_HW_L1_BYTES=lots not %sattn-opt -pass-pipeline='builtin.module(sattn-select-spec)' 2>&1 | filecheck %s --check-prefix=L1
// L1: sattn-opt: error: environment variable SATTN_HW_L1_BYTES expects a positive integer, got 'lots'
// RUN: echo '"sattn.sparse_attention"() {} : () -> ()' | env SATTN_FORCE_SPEC=sparse not %sattn-opt -pass-pipeline='builtin.module(sattn-select-spec)' 2>&1 | filecheck %s --check-prefix=FORCE
// FORCE: sattn-opt: error: environment variable SATTN_FORCE_SPEC must be one of sliding_window, bsr, block_local_global, nm_structured, topk_per_query, lsh, landmark, dense, nsa, got 'sparse'

// The launcher at the spec's path behaves the same.
// RUN: not %launcher %s -o %t.out2 2>&1 | filecheck %s --check-prefix=LAUNCH
// RUN: not test -e %t.out2
// LAUNCH: sattn-opt: error: {{.*}}errors.mlir:10:3: 'sattn.sparse_attention' attribute 'window_size' must be >= 0, got -1
