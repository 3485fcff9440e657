// CPU features and the code paths (ISAs) the kernels are built for.
#pragma once
// AVX-512 code is compiled (per function, with target attributes) on x86-64 GCC/Clang
// builds; -DSATRNN_NO_AVX512 leaves it out.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(SATRNN_NO_AVX512)
#define SATRNN_HAVE_AVX512 1
#else
#define SATRNN_HAVE_AVX512 0
#endif

namespace satrnn {

// Every exact kernel has one entry point per ISA; all of them give identical bytes.
//  Scalar: portable C++ loops (what non-x86 builds run; forced with SATRNN_ISA=scalar).
//  Sse2:   x86-64 baseline, four lanes (units/outputs) per instruction.
//  Avx2:   eight lanes, chosen at run time when the CPU has AVX2.
//  Avx512: the readout (logit sums and the softmax exp) on 512-bit vectors, chosen at run
//          time when the CPU and the OS support AVX-512; every other kernel runs its AVX2
//          code on it (uses_avx2).
// Lanes are always independent outputs, each summed in the spec's order: no
// cross-lane arithmetic, no FMA, so vector width never changes a result.
enum class Isa : int { Scalar = 0, Avx2 = 1, Sse2 = 2, Avx512 = 3 };

// True when this build has AVX2 kernels and the running CPU supports them.
bool cpu_has_avx2();
// True when this build has the SSE2 kernels (x86-64 builds without SATRNN_NO_SSE2).
bool cpu_has_sse2();
// True when this build has AVX-512 kernels, the CPU has AVX2 and AVX-512 F, DQ, BW and VL,
// and the OS saves the opmask and ZMM registers on context switches (XCR0).
bool cpu_has_avx512();
// Whether `isa` can run here.
inline bool isa_available(Isa isa) {
  return isa == Isa::Scalar || (isa == Isa::Sse2 && cpu_has_sse2()) || (isa == Isa::Avx2 && cpu_has_avx2()) ||
         (isa == Isa::Avx512 && cpu_has_avx512());
}
// Whether a kernel with AVX2 code should run it: on Isa::Avx2, and on Isa::Avx512 in every
// kernel without AVX-512 code of its own (AVX-512 CPUs all have AVX2).
inline bool uses_avx2(Isa isa) { return isa == Isa::Avx2 || isa == Isa::Avx512; }

}  // namespace satrnn
