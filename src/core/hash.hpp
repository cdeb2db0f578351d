// One 64-bit hash of bytes for everything hipi recognises by content: a row among its
// copies (answer/duplicates.cpp), the rows an index was built from (multi_index.hpp), the
// rows a checkpoint was saved with (answer/checkpoint.hpp).
//
// Four independent multiply-xorshift lanes over 8-byte words, so the loop runs at memory
// speed (no chain between lanes), then splitmix64 over the lanes and the length. Not a
// cryptographic hash: every user compares in full, or refuses, on a match it relies on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/random.hpp"

namespace hipi {

/// A hash of bytes given in pieces (the same pieces give the same value).
class ByteHash {
 public:
  explicit ByteHash(std::uint64_t seed = 0)
      : lane_{0x243f6a8885a308d3ull ^ seed, 0x13198a2e03707344ull, 0xa4093822299f31d0ull, 0x082efa98ec4e6c89ull} {}

  void add(const void* data, std::size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::size_t k = 0;
    for (; k + 32 <= size; k += 32)
      for (int l = 0; l < 4; ++l) lane_[l] = step(lane_[l], word(p + k + 8 * l));
    for (; k + 8 <= size; k += 8) lane_[0] = step(lane_[0], word(p + k));
    for (; k < size; ++k) lane_[0] = step(lane_[0], p[k]);
    bytes_ += size;
  }

  std::uint64_t value() const {
    std::uint64_t h = bytes_;
    for (const std::uint64_t lane : lane_) h = step(h, lane);
    return splitmix64(h);
  }

 private:
  static std::uint64_t word(const unsigned char* p) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  }
  static std::uint64_t step(std::uint64_t lane, std::uint64_t w) {
    lane = (lane ^ w) * 0x9e3779b97f4a7c15ull;
    return lane ^ (lane >> 29);
  }
  std::uint64_t lane_[4];
  std::uint64_t bytes_ = 0;
};

/// ByteHash of one piece.
inline std::uint64_t hash_bytes(const void* data, std::size_t size, std::uint64_t seed = 0) {
  ByteHash h(seed);
  h.add(data, size);
  return h.value();
}

}  // namespace hipi
