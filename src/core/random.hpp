// Counter-based randomness: every random value is a pure function of (seed, keys...).
//
// hipi's results must not depend on the number of ranks, so nothing random may depend on
// which rank draws it or in what order. Each stream is keyed by what it is for (a row, a
// planted pair, a tile) and draws from splitmix64 of a counter.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>

namespace hipi {

/// The splitmix64 finaliser: a bijective, well-mixed 64-bit hash.
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// A stream of random numbers named by a seed and any number of keys.
class RandomStream {
 public:
  RandomStream(std::uint64_t seed, std::initializer_list<std::uint64_t> keys) : key_(splitmix64(seed)) {
    for (std::uint64_t k : keys) key_ = splitmix64(key_ ^ splitmix64(k + 0x632BE59BD9B4E019ull));
  }
  std::uint64_t next() { return splitmix64(key_ + 0x9E3779B97F4A7C15ull * ++counter_); }
  /// Uniform integer in [0, bound), bound > 0, without modulo bias (Lemire's method).
  std::uint64_t below(std::uint64_t bound) {
    while (true) {
      const unsigned __int128 m = static_cast<unsigned __int128>(next()) * bound;
      const std::uint64_t low = static_cast<std::uint64_t>(m);
      if (low >= bound || low >= (0 - bound) % bound) return static_cast<std::uint64_t>(m >> 64);
    }
  }
  /// Uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Standard normal (Box-Muller; one value per call, deterministic).
  double normal() {
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t key_;
  std::uint64_t counter_ = 0;
};

}  // namespace hipi
