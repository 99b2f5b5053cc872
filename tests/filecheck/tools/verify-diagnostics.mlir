// sattn-opt --verify-diagnostics means what it means in mlir-opt: the diagnostics each chunk
// produces are matched against its expected-error / expected-warning comments (by line and
// message substring); exit 0 only when all expected ones appear and no other does.

// Expectations that match: exit 0, and the chunks that lower are printed.
// RUN: %sattn-opt %s --split-input-file --verify-diagnostics -pass-pipeline='builtin.module(sattn-select-spec)' | filecheck %s --check-prefix=OK
// OK: "sattn.sparse_attention"() {pattern = "x", softmax_mode = "y", window_size = 2 : i64, spec = "sliding_window"
// OK: "sattn.sparse_attention"() {window_size = 1 : i64, spec = "sliding_window"

// A missing expected diagnostic, and an unexpected one: exit 1, each named with its location,
// nothing on stdout.
// RUN: not %sattn-opt %S/Inputs/verify-missing.mlir --split-input-file --verify-diagnostics > %t.missing.out 2> %t.missing.err
// RUN: filecheck %s --check-prefix=MISSING --match-full-lines < %t.missing.err
// RUN: not test -s %t.missing.out
// MISSING:      sattn-opt: error: {{.*}}verify-missing.mlir:3:4: expected error "must be >= 1" was not produced
// MISSING-NEXT: sattn-opt: error: {{.*}}verify-missing.mlir:8:4: expected warning "unknown attribute 'pattern'" was not produced
// MISSING-NOT:  {{.}}
// RUN: not %sattn-opt %S/Inputs/verify-unexpected.mlir --split-input-file --verify-diagnostics 2>&1 | filecheck %s --check-prefix=UNEXPECTED --match-full-lines
// UNEXPECTED:      sattn-opt: error: {{.*}}verify-unexpected.mlir:4:1: unexpected error: 'sattn.sparse_attention' attribute 'window_size' must be >= 0, got -1
// UNEXPECTED-NEXT: sattn-opt: error: {{.*}}verify-unexpected.mlir:8:1: unexpected warning: 'sattn.sparse_attention' unknown attribute 'windw_size' (did you mean 'window_size'?); kept and ignored
// UNEXPECTED-NEXT: sattn-opt: error: {{.*}}verify-unexpected.mlir:12:1: unexpected error: 'sattn.sparse_attention' attribute 'keep_ratio' must be in (0, 1], got 2.0
// UNEXPECTED-NEXT: sattn-opt: error: {{.*}}verify-unexpected.mlir:11:4: expected error "must be >= 1" was not produced
// UNEXPECTED-NOT:  {{.}}

// With --strict-attributes the unknown attribute is the error to expect.
// RUN: %sattn-opt %S/Inputs/verify-strict.mlir --strict-attributes --verify-diagnostics
// Without it that expectation is missing and the warning unexpected.
// RUN: not %sattn-opt %S/Inputs/verify-strict.mlir --verify-diagnostics 2>&1 | filecheck %s --check-prefix=LAX
// LAX: unexpected warning: 'sattn.sparse_attention' unknown attribute 'softmax_mode'; kept and ignored
// LAX: verify-strict.mlir:3:4: expected error "'sattn.sparse_attention' unknown attribute 'softmax_mode'" was not produced

// expected-warning @+2 {{'sattn.sparse_attention' unknown attribute 'pattern'; kept and ignored}}
// expected-warning @+1 {{unknown attribute 'softmax_mode'}}
"sattn.sparse_attention"() { pattern = "x", softmax_mode = "y", window_size = 2 : i64 } : () -> ()

// -----
"sattn.sparse_attention"() { dilation = 0 : i64 } : () -> ()
// expected-error @-1 {{attribute 'dilation' must be >= 1, got 0}}

// -----
// expected-error @below {{attribute 'keep_ratio' must be in (0, 1]}}
// expected-warning @below {{unknown attribute 'keep_ratoi' (did you mean 'keep_ratio'?)}}
"sattn.sparse_attention"() { keep_ratoi = 0.5 : f64, keep_ratio = 1.5 : f64 } : () -> ()

// -----
"sattn.sparse_attention"() { window_size = -3 : i64 } : () -> () // expected-error {{got -3}}

// -----
"sattn.sparse_attention"() { nm_n = 5 : i64, nm_m = 4 : i64 } : () -> ()
// expected-error-re @above {{attribute 'nm_n' must be <= nm_m, got nm_n={{[0-9]+}} nm_m=4}}

// -----
// No diagnostic expected, none produced.
"sattn.sparse_attention"() { window_size = 1 : i64 } : () -> ()

// -----
"sattn.sparse_attention"() { window_size = } : () -> ()
// expected-error @-1 {{attribute expected}}
