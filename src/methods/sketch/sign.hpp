// Sign sketches of +-1 rows (binary mode): per group and coordinate, the majority of the
// members' signed values, s_i * x_ik, bit-packed like the rows themselves.
//
// Why: a linear sketch needs float GEMM, about 2 * g_A * g_B times cheaper than a float
// brute force but only 1-2x cheaper than the bit-packed exact kernel. The majority keeps
// one bit per coordinate, so two sketches are compared with the same XOR+popcount kernel
// as two rows, g_A * g_B pairs per comparison, and the signal survives it: whatever the
// data, over the random signs of the other members,
//     E[maj_k | s_i x_ik] = gain(g) * s_i x_ik,
// so E[<sketch_A(G), sketch_B(H)> | s_i, t_j] = s_i t_j * gain(g_A) * gain(g_B) * <a_i, b_j>
// for a heavy pair (i, j) in groups (G, H). The background noise is measured on sampled
// groups (sign_sketch_m2), never assumed.
#pragma once

#include <cstdint>

#include "core/bit_matrix.hpp"
#include "methods/pricing.hpp"
#include "methods/sketch/sketches.hpp"

namespace hipi {

/// How much of one member's value reaches its group's majority: the probability that the
/// member decides it, ties broken by a fair coin. 1, 1/2, 1/2, 3/8, 3/8, 5/16, 5/16, ...
/// for g = 1, 2, 3, ...: an even group is no better than the odd group one smaller.
double majority_gain(std::int64_t group_size);

/// The sign sketches of `groups` (global rows [first_row, first_row + rows.rows()) are in
/// `rows`): row k holds local group k's majority bits. A tie (possible only in a group with
/// an even number of members) is broken by a random bit keyed by (grouping, group,
/// coordinate word), so sketches never depend on the number of ranks.
BitMatrix build_sign_sketches(const BitMatrix& rows, std::int64_t first_row, const Grouping& grouping,
                              const LocalGroups& groups);

/// Sign sketches of random groups of sampled rows, for measuring the background: several
/// seeded partitions of `sample` into groups of g rows, stacked, so that there are about as
/// many groups as sampled rows.
BitMatrix sample_sign_sketches(const BitMatrix& sample, std::int64_t group_size, std::uint64_t seed, int side);

/// Mean of <a_r, b_s>^2 over all rows r of `a` and s of `b`: with sample_sign_sketches on
/// both sides, the background second moment of sketch inner products.
double mean_square_inner_product(const BitMatrix& a, const BitMatrix& b);

}  // namespace hipi
