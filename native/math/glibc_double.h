// Bit-exact ports of glibc 2.36's double-precision exp, log2 and log as built
// WITHOUT fma (the "plain" x86-64 variants, selected on FMA-less CPUs or with
// GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA,-AVX512F).  glibc uses the Arm
// optimized-routines algorithms:
//   exp:  x = k*ln2/128 + r, exp(x) = 2^(k/128) * exp(r), 128-entry table of
//         2^(j/128) as H*(1+tail), degree-5 polynomial in r.
//   log2, log: x = 2^k * z, z in [0x1.6p-1, 0x1.6p0) split into 64 (log2) or
//         128 (log) subintervals around c; log(x) = k*log(2) + log(c) +
//         log1p(z/c - 1), with a separate long polynomial near x = 1.
// Every rounding step below mirrors the non-fma C evaluation order, so the
// results are identical to glibc's for every input, including NaN payloads.
//
// Requirements on the including translation unit: binary64 SSE/NEON arithmetic
// (no x87), round-to-nearest, no -ffast-math / -Ofast, and no contraction of
// a*b + c into fma.  GCC's default is -ffp-contract=fast (also with -std=c++17)
// and it does fuse parts of this code when the target has FMA (-march=native,
// -mfma), so these headers switch contraction off themselves: GCC through
// "#pragma GCC optimize", clang through "#pragma clang fp contract(off)"
// (clang ignores it only under -ffp-contract=fast).  Still build with
// -ffp-contract=off: GCC does not inline functions whose optimize options
// differ from the caller's, so matching flags keep these inlinable.
//
// Validated by tools/mathcheck/double_check.cc (>= 1e8 inputs per function
// against the system libm run with the FMA variants disabled).
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>

#include "glibc_double_data.h"

#if defined(__clang__)
#define SATRNN_GMATH_NO_CONTRACT _Pragma("clang fp contract(off)")
#else
#define SATRNN_GMATH_NO_CONTRACT
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace satrnn {
namespace gmath {
namespace detail {

inline std::uint64_t bits_of(double x) {
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

inline double from_bits(std::uint64_t u) {
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// glibc's invalid-operation result: (x - x) / (x - x).  Evaluated at run time
// so NaN inputs keep their (quieted) payload and other inputs give the
// hardware default NaN, exactly as glibc does.
inline double invalid(double x) {
  volatile double d = x - x;  // volatile: keep the compiler from folding it
  double dd = d;
  return dd / dd;
}

// exp for |x| in [512, 1024): scale = 2^(k/128) may not be representable, so
// the result is assembled with an exponent offset.  ki's low 32 bits hold k.
inline double exp_edge(double tmp, std::uint64_t sbits, std::uint64_t ki) {
  SATRNN_GMATH_NO_CONTRACT
  if ((ki & 0x80000000u) == 0) {
    // k > 0: build scale*2^-1009, finish with an exact power-of-two multiply
    // (the only rounding is the final one, or overflow to +inf).
    double scale = from_bits(sbits - (std::uint64_t{1009} << 52));
    return 0x1p1009 * (scale + scale * tmp);
  }
  // k < 0: scale*2^1022 is normal; the result may be subnormal.
  double scale = from_bits(sbits + (std::uint64_t{1022} << 52));
  double y = scale + scale * tmp;
  if (y < 1.0) {
    // Round to the final (subnormal) precision once, via 1 + y, instead of
    // rounding twice (once here, once in the scaling below).
    double lo = scale - y + scale * tmp;
    double hi = 1.0 + y;
    lo = 1.0 - hi + y + lo;
    y = (hi + lo) - 1.0;
    if (y == 0.0) y = 0.0;  // never -0 (only matters in directed rounding)
  }
  return 0x1p-1022 * y;
}

}  // namespace detail

// e^x, bit-identical to glibc 2.36 __exp (non-fma build).
inline double exp(double x) {
  SATRNN_GMATH_NO_CONTRACT
  using namespace data;
  const std::uint64_t ux = detail::bits_of(x);
  const std::uint32_t abstop = static_cast<std::uint32_t>(ux >> 52) & 0x7ffu;
  // Biased exponents: 0x3c9 = 2^-54, 0x408 = 512, 0x409 = 1024.  One unsigned
  // compare catches |x| < 2^-54, |x| >= 512, Inf and NaN.
  bool edge = false;
  if (abstop - 0x3c9u >= 0x408u - 0x3c9u) {
    if (abstop < 0x3c9u) return 1.0 + x;  // tiny (and +-0): rounds like 1 + x
    if (abstop >= 0x409u) {
      if (ux == 0xfff0000000000000ULL) return 0.0;  // exp(-inf)
      if (abstop == 0x7ffu) return 1.0 + x;         // +inf, NaN (payload kept)
      // glibc's __math_uflow / __math_oflow results (+0, +inf)
      return (ux >> 63) ? 0.0 : std::numeric_limits<double>::infinity();
    }
    edge = true;  // 512 <= |x| < 1024: result may overflow or be subnormal
  }
  // k = round(x*128/ln2) via the 1.5*2^52 shifter; k sits in the low bits of kd.
  const double z = kExpInvLn2N * x;
  double kd = z + kExpShift;
  const std::uint64_t ki = detail::bits_of(kd);
  kd -= kExpShift;
  // r = x - k*ln2/128 in two steps (hi part times kd is exact).
  const double r = x + kd * kExpNegLn2HiN + kd * kExpNegLn2LoN;
  const std::uint64_t j = ki % 128;
  const double tail = kExpTail[j];
  // Add k << 45 to the exponent field: scale = H[j] * 2^(k >> 7) when valid.
  const std::uint64_t sbits = kExpScaleBits[j] + (ki << 45);
  const double r2 = r * r;
  const double tmp = tail + r + r2 * (kExpC2 + r * kExpC3) + r2 * r2 * (kExpC4 + r * kExpC5);
  if (edge) return detail::exp_edge(tmp, sbits, ki);
  const double scale = detail::from_bits(sbits);
  return scale + scale * tmp;
}

// log2(x), bit-identical to glibc 2.36 __log2 (non-fma build).
inline double log2(double x) {
  SATRNN_GMATH_NO_CONTRACT
  using namespace data;
  std::uint64_t ix = detail::bits_of(x);
  const std::uint32_t top = static_cast<std::uint32_t>(ix >> 48);

  // Near 1 (x in [1 - 0x1.5b51p-5, 1 + 0x1.6ab2p-5)) the table path loses
  // relative accuracy, so a longer polynomial in r = x - 1 is used.
  constexpr std::uint64_t kNearLo = 0x3feea4af00000000ULL;  // bits(1 - 0x1.5b51p-5)
  constexpr std::uint64_t kNearHi = 0x3ff0b55900000000ULL;  // bits(1 + 0x1.6ab2p-5)
  if (ix - kNearLo < kNearHi - kNearLo) {
    if (ix == 0x3ff0000000000000ULL) return 0.0;
    const double r = x - 1.0;
    // Split r so rhi*InvLn2Hi is exact: keep the top 21 significant bits.
    const double rhi = detail::from_bits(detail::bits_of(r) & 0xffffffff00000000ULL);
    const double rlo = r - rhi;
    const double hi = rhi * kLog2InvLn2Hi;
    double lo = rlo * kLog2InvLn2Hi + r * kLog2InvLn2Lo;
    const double r2 = r * r;
    const double r4 = r2 * r2;
    const double p = r2 * (kLog2B[0] + r * kLog2B[1]);
    double y = hi + p;
    lo += hi - y + p;
    lo += r4 * (kLog2B[2] + r * kLog2B[3] + r2 * (kLog2B[4] + r * kLog2B[5]) +
                r4 * (kLog2B[6] + r * kLog2B[7] + r2 * (kLog2B[8] + r * kLog2B[9])));
    y += lo;
    return y;
  }
  // top outside [0x0010, 0x7ff0): zero, subnormal, negative, Inf or NaN.
  if (top - 0x0010u >= 0x7ff0u - 0x0010u) {
    if (ix * 2 == 0) return -std::numeric_limits<double>::infinity();  // +-0
    if (ix == 0x7ff0000000000000ULL) return x;                          // +inf
    if ((top & 0x8000u) || (top & 0x7ff0u) == 0x7ff0u) return detail::invalid(x);
    // Subnormal: scale into the normal range, then undo it in k (ix wraps
    // below zero, which the arithmetic shift for k below handles).
    ix = detail::bits_of(x * 0x1p52);
    ix -= std::uint64_t{52} << 52;
  }
  // x = 2^k * z with z in [0x1.6p-1, 0x1.6p0).
  constexpr std::uint64_t kOff = 0x3fe6000000000000ULL;
  const std::uint64_t tmp = ix - kOff;
  const int i = static_cast<int>((tmp >> (52 - 6)) % 64);
  const int k = static_cast<int>(static_cast<std::int64_t>(tmp) >> 52);
  const std::uint64_t iz = ix - (tmp & (std::uint64_t{0xfff} << 52));
  const double invc = kLog2Tab[i].invc;
  const double logc = kLog2Tab[i].logc;
  const double z = detail::from_bits(iz);
  const double kd = static_cast<double>(k);

  // r = z/c - 1 without fma: c = chi + clo makes z - chi - clo nearly exact.
  const double r = (z - kLog2Tab2[i].chi - kLog2Tab2[i].clo) * invc;
  const double rhi = detail::from_bits(detail::bits_of(r) & 0xffffffff00000000ULL);
  const double rlo = r - rhi;
  const double t1 = rhi * kLog2InvLn2Hi;
  const double t2 = rlo * kLog2InvLn2Hi + r * kLog2InvLn2Lo;

  // hi + lo = k + log2(c) + r/ln2; k + logc is exact by the table's design.
  const double t3 = kd + logc;
  const double hi = t3 + t1;
  const double lo = t3 - hi + t1 + t2;

  const double r2 = r * r;
  const double r4 = r2 * r2;
  const double p = kLog2A[0] + r * kLog2A[1] + r2 * (kLog2A[2] + r * kLog2A[3]) +
                   r4 * (kLog2A[4] + r * kLog2A[5]);
  return lo + r2 * p + hi;
}

// Natural log, bit-identical to glibc 2.36 __log (non-fma build).
inline double log(double x) {
  SATRNN_GMATH_NO_CONTRACT
  using namespace data;
  std::uint64_t ix = detail::bits_of(x);
  const std::uint32_t top = static_cast<std::uint32_t>(ix >> 48);

  // Near 1: x in [1 - 2^-4, 1 + 0x1.09p-4).
  constexpr std::uint64_t kNearLo = 0x3fee000000000000ULL;
  constexpr std::uint64_t kNearHi = 0x3ff1090000000000ULL;
  if (ix - kNearLo < kNearHi - kNearLo) {
    if (ix == 0x3ff0000000000000ULL) return 0.0;
    const double r = x - 1.0;
    const double r2 = r * r;
    const double r3 = r * r2;
    double y = r3 * (kLogB[1] + r * kLogB[2] + r2 * kLogB[3] +
                     r3 * (kLogB[4] + r * kLogB[5] + r2 * kLogB[6] +
                           r3 * (kLogB[7] + r * kLogB[8] + r2 * kLogB[9] + r3 * kLogB[10])));
    // r - r^2/2 in extra precision: rhi keeps ~26 bits so rhi*rhi is exact.
    double w = r * 0x1p27;
    const double rhi = r + w - w;
    const double rlo = r - rhi;
    w = rhi * rhi * kLogB[0];  // B[0] = -0.5
    const double hi = r + w;
    double lo = r - hi + w;
    lo += kLogB[0] * rlo * (rhi + r);
    y += lo;
    y += hi;
    return y;
  }
  if (top - 0x0010u >= 0x7ff0u - 0x0010u) {
    if (ix * 2 == 0) return -std::numeric_limits<double>::infinity();
    if (ix == 0x7ff0000000000000ULL) return x;
    if ((top & 0x8000u) || (top & 0x7ff0u) == 0x7ff0u) return detail::invalid(x);
    ix = detail::bits_of(x * 0x1p52);
    ix -= std::uint64_t{52} << 52;
  }
  constexpr std::uint64_t kOff = 0x3fe6000000000000ULL;
  const std::uint64_t tmp = ix - kOff;
  const int i = static_cast<int>((tmp >> (52 - 7)) % 128);
  const int k = static_cast<int>(static_cast<std::int64_t>(tmp) >> 52);
  const std::uint64_t iz = ix - (tmp & (std::uint64_t{0xfff} << 52));
  const double invc = kLogTab[i].invc;
  const double logc = kLogTab[i].logc;
  const double z = detail::from_bits(iz);

  const double r = (z - kLogTab2[i].chi - kLogTab2[i].clo) * invc;
  const double kd = static_cast<double>(k);

  // hi + lo = k*ln2 + log(c) + r; k*Ln2Hi + logc is exact by design.
  const double w = kd * kLogLn2Hi + logc;
  const double hi = w + r;
  const double lo = w - hi + r + kd * kLogLn2Lo;

  const double r2 = r * r;
  return lo + r2 * kLogA[0] + r * r2 * (kLogA[1] + r * kLogA[2] + r2 * (kLogA[3] + r * kLogA[4])) +
         hi;
}

}  // namespace gmath
}  // namespace satrnn

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
