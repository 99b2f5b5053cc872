/* Microkernels whose instruction counts and modelled cycles follow by construction (tests of
 * the qemu plugin's vector profile and of sattn.backends.rvv.cycle_model). Each kernel is one
 * inline-asm block holding both region markers, so the region is exactly the listed
 * instructions: `cycle_kernels KERNEL N` runs KERNEL's loop N times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BEGIN "slti x0, x0, 0x5a1\n"
#define END "slti x0, x0, 0x5a2\n"
#define VREGS "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", "v16", "v17", "v18", "v19", \
              "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31"

static float buf[4096] __attribute__((aligned(64)));

/* vsetvli (VL = VLMAX, rs1 = x0), then n x (2 vfmacc.vv, addi, bnez) */
#define FMACC(L)                                                                        \
    static void fmacc_m##L(long n) {                                                    \
        __asm__ volatile(BEGIN "vsetvli t0, x0, e32, m" #L ", ta, ma\n"                 \
                         "1: vfmacc.vv v8, v16, v24\n vfmacc.vv v8, v16, v24\n"         \
                         "addi %0, %0, -1\n bnez %0, 1b\n" END                          \
                         : "+r"(n) : : "t0", "memory", VREGS);                          \
    }
FMACC(1)
FMACC(2)
FMACC(4)
FMACC(8)

/* vsetvli (VL = VLMAX), then n x (2 vle32.v of VLMAX elements, addi, bnez) */
#define LOAD(L)                                                                         \
    static void load_m##L(long n) {                                                     \
        __asm__ volatile(BEGIN "vsetvli t0, x0, e32, m" #L ", ta, ma\n"                 \
                         "1: vle32.v v8, (%1)\n vle32.v v16, (%1)\n"                    \
                         "addi %0, %0, -1\n bnez %0, 1b\n" END                          \
                         : "+r"(n) : "r"(buf) : "t0", "memory", VREGS);                 \
    }
LOAD(1)
LOAD(2)
LOAD(4)
LOAD(8)

/* vsetvli e32 m2 (VL = VLMAX), then n x (vlse32.v stride 4, vfredusum.vs, addi, bnez) */
static void strided_red(long n) {
    __asm__ volatile(BEGIN "vsetvli t0, x0, e32, m2, ta, ma\n li t1, 4\n"
                     "1: vlse32.v v8, (%1), t1\n vfredusum.vs v16, v8, v24\n"
                     "addi %0, %0, -1\n bnez %0, 1b\n" END
                     : "+r"(n) : "r"(buf) : "t0", "t1", "memory", VREGS);
}

/* vsetivli AVL 5 (VL = 5, exact), then n x (vfadd.vv, vse32.v, addi, bnez) */
static void ivli(long n) {
    __asm__ volatile(BEGIN "vsetivli t0, 5, e32, m1, ta, ma\n"
                     "1: vfadd.vv v8, v8, v8\n vse32.v v8, (%1)\n"
                     "addi %0, %0, -1\n bnez %0, 1b\n" END
                     : "+r"(n) : "r"(buf) : "t0", "memory", VREGS);
}

/* vsetvli with AVL 3 in a register (VL really 3, modelled as VLMAX), then n x (vfadd.vv,
 * addi, bnez); then vsetvl (vtype in a register: unknown) and one vfadd.vv */
static void reg_avl(long n) {
    __asm__ volatile(BEGIN "vsetvli t0, %1, e32, m1, ta, ma\n"
                     "1: vfadd.vv v8, v8, v8\n"
                     "addi %0, %0, -1\n bnez %0, 1b\n"
                     "vsetvl t0, %1, %2\n vfadd.vv v8, v8, v8\n" END
                     : "+r"(n) : "r"(3L), "r"(0x10L) : "t0", "memory", VREGS);
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    long n = atol(argv[2]);
    for (int i = 0; i < 4096; i++) buf[i] = (float)i;
    static const struct { const char *name; void (*fn)(long); } k[] = {
        {"fmacc_m1", fmacc_m1}, {"fmacc_m2", fmacc_m2}, {"fmacc_m4", fmacc_m4}, {"fmacc_m8", fmacc_m8},
        {"load_m1", load_m1},   {"load_m2", load_m2},   {"load_m4", load_m4},   {"load_m8", load_m8},
        {"strided_red", strided_red}, {"ivli", ivli}, {"reg_avl", reg_avl},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (strcmp(argv[1], k[i].name) == 0) {
            k[i].fn(n);
            printf("ok %s\n", k[i].name);
            return 0;
        }
    return 2;
}
