// CPU features and the code paths (ISAs) the kernels are built for.
#pragma once
namespace satrnn {

// Every exact kernel has one entry point per ISA; all three give identical bytes.
//  Scalar: portable C++ loops (what non-x86 builds run; forced with SATRNN_ISA=scalar).
//  Sse2:   x86-64 baseline, four lanes (units/outputs) per instruction.
//  Avx2:   eight lanes, chosen at run time when the CPU has AVX2.
// Lanes are always independent outputs, each summed in the spec's order: no
// cross-lane arithmetic, no FMA, so vector width never changes a result.
enum class Isa : int { Scalar = 0, Avx2 = 1, Sse2 = 2 };

// True when this build has AVX2 kernels and the running CPU supports them.
bool cpu_has_avx2();
// True when this build has the SSE2 kernels (x86-64 builds without SATRNN_NO_SSE2).
bool cpu_has_sse2();
// Whether `isa` can run here.
inline bool isa_available(Isa isa) {
  return isa == Isa::Scalar || (isa == Isa::Sse2 && cpu_has_sse2()) || (isa == Isa::Avx2 && cpu_has_avx2());
}

}  // namespace satrnn
