// Philox4x32-10, bit-for-bit the generator of src/rng.ts (see that file for the stream and
// counter layout). The native backend uses it for dropout masks only; everything else random
// is drawn in TypeScript.
#ifndef MLPKIT_NATIVE_RNG_H_
#define MLPKIT_NATIVE_RNG_H_

#include <cstdint>

#include "generated/tables.h"

namespace mlpkit {

struct PhiloxBlock {
  uint32_t v[4];
};

inline PhiloxBlock philox4x32(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return PhiloxBlock{{c0, c1, c2, c3}};
}

// Inverted dropout, as in rng.ts: unit i of `layer` at update `step` is kept when the top 24
// bits of its draw are at or above floor(rate * 2^24).
inline uint32_t dropout_threshold(double rate) { return static_cast<uint32_t>(rate * 16777216.0); }

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_RNG_H_
