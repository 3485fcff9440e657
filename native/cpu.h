#pragma once
namespace satrnn {
// True when this build has AVX2 kernels and the running CPU supports them.
bool cpu_has_avx2();
}
