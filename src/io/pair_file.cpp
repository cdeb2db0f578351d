#include "io/pair_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <memory>
#include <optional>

#include "io/hdf5.hpp"

namespace hipi {

namespace {

// Pairs as the output files hold them: /pairs [m, 2] beside /inner_products [m].
std::vector<Pair> pairs_of_columns(const std::vector<std::int64_t>& ij, const std::vector<double>& ip) {
  HIPI_ASSERT(ij.size() == 2 * ip.size());
  std::vector<Pair> pairs(ip.size());
  for (std::size_t k = 0; k < ip.size(); ++k) pairs[k] = {ij[2 * k], ij[2 * k + 1], ip[k]};
  return pairs;
}

}  // namespace

PairStream PairStream::over(const PairSlice& slice) {
  PairStream stream{static_cast<std::int64_t>(slice.pairs.size()), slice.offset, slice.total, {}};
  stream.next = [&slice, at = std::size_t{0}](std::vector<Pair>& piece, std::int64_t max) mutable {
    const std::size_t end = std::min(slice.pairs.size(), at + static_cast<std::size_t>(max));
    piece.insert(piece.end(), slice.pairs.begin() + static_cast<std::ptrdiff_t>(at),
                 slice.pairs.begin() + static_cast<std::ptrdiff_t>(end));
    at = end;
  };
  return stream;
}

PairStream PairStream::owning(PairSlice slice) {
  auto held = std::make_shared<PairSlice>(std::move(slice));
  PairStream stream = over(*held);
  stream.next = [held, inner = std::move(stream.next)](std::vector<Pair>& piece, std::int64_t max) mutable {
    inner(piece, max);
  };
  return stream;
}

namespace {

// Writes `pairs` at rows [base + pairs.offset, ...) of /pairs and /inner_products: pieces
// of 2^20 pairs (48 MiB of buffers), the same number of collective writes on every rank (a
// rank with fewer pairs writes empty pieces).
void write_stream_at(const Comm& comm, h5::File& file, PairStream& pairs, std::int64_t base) {
  constexpr std::int64_t kPiece = std::int64_t{1} << 20;
  const std::int64_t pieces =
      boost::mpi::all_reduce(comm, (pairs.count + kPiece - 1) / kPiece, boost::mpi::maximum<std::int64_t>());
  std::vector<Pair> piece;
  std::vector<std::int64_t> ij;
  std::vector<double> ip;
  std::int64_t written = 0;
  for (std::int64_t k = 0; k < pieces; ++k) {
    piece.clear();
    const std::int64_t want = std::min(kPiece, pairs.count - written);
    if (want > 0) pairs.next(piece, want);
    HIPI_ASSERT(static_cast<std::int64_t>(piece.size()) == std::max<std::int64_t>(want, 0));
    ij.resize(2 * piece.size());
    ip.resize(piece.size());
    for (std::size_t t = 0; t < piece.size(); ++t) {
      ij[2 * t] = piece[t].i;
      ij[2 * t + 1] = piece[t].j;
      ip[t] = piece[t].ip;
    }
    const std::int64_t first = base + pairs.offset + written;
    const RowRange rows{first, first + static_cast<std::int64_t>(piece.size())};
    file.write_rows<std::int64_t>("/pairs", rows, ij.data());
    file.write_rows<double>("/inner_products", rows, ip.data());
    written += static_cast<std::int64_t>(piece.size());
  }
}

// Attributes are written collectively: every rank writes rank 0's values.
void write_attributes(const Comm& comm, h5::File& file, const OutputAttributes& attrs) {
  std::vector<std::string> text = {attrs.method, attrs.requested_method, attrs.grid,   attrs.parameters,
                                   attrs.inputs, attrs.timings,          attrs.measure};
  double threshold = attrs.threshold;
  boost::mpi::broadcast(comm, text.data(), static_cast<int>(text.size()), 0);
  boost::mpi::broadcast(comm, threshold, 0);
  file.set_attribute("version", std::string(HIPI_VERSION));
  file.set_attribute("method", text[0]);
  file.set_attribute("requested_method", text[1]);
  file.set_attribute("threshold", threshold);
  file.set_attribute("seed", static_cast<std::int64_t>(attrs.seed));
  file.set_attribute("ranks", static_cast<std::int64_t>(comm.size()));
  file.set_attribute("grid", text[2]);
  file.set_attribute("parameters", text[3]);
  file.set_attribute("inputs", text[4]);
  file.set_attribute("timings", text[5]);
  file.set_attribute("measure", text[6]);
  file.set_attribute("rows_a", attrs.rows_a);
  file.set_attribute("rows_b", attrs.rows_b);
}

}  // namespace

void write_pairs_temp(const Comm& comm, const std::string& temp, PairStream& pairs, const OutputAttributes& attrs) {
  h5::File file = h5::File::create(temp, &comm);
  write_pair_slices(comm, file, pairs);
  write_attributes(comm, file, attrs);
  file.close();
}

std::int64_t write_pair_parts_temp(const Comm& comm, const std::string& temp, const NextPairs& next,
                                   const OutputAttributes& attrs) {
  h5::File file = h5::File::create(temp, &comm);
  // Chunks of 2^16 rows (1 MiB of /pairs): the datasets grow by each part's total.
  constexpr std::int64_t kChunkRows = std::int64_t{1} << 16;
  file.create_dataset<std::int64_t>("/pairs", {0, 2}, kChunkRows);
  file.create_dataset<double>("/inner_products", {0}, kChunkRows);
  std::int64_t total = 0;
  while (std::optional<PairStream> part = next()) {
    if (part->total == 0) continue;
    file.extend_rows("/pairs", total + part->total);
    file.extend_rows("/inner_products", total + part->total);
    write_stream_at(comm, file, *part, total);
    total += part->total;
  }
  write_attributes(comm, file, attrs);
  file.close();
  return total;
}

void write_pair_slices(const Comm& comm, h5::File& file, PairStream& pairs) {
  file.create_dataset<std::int64_t>("/pairs", {pairs.total, 2});
  file.create_dataset<double>("/inner_products", {pairs.total});
  write_stream_at(comm, file, pairs, 0);
}

void write_knn_temp(const Comm& comm, const std::string& temp, const KnnSlice& knn) {
  h5::File file = h5::File::open_write(temp, &comm);
  file.create_dataset<std::int64_t>("/knn_indices", {knn.n_rows, knn.k});
  file.create_dataset<double>("/knn_scores", {knn.n_rows, knn.k});
  // Pieces of about 2^20 cells, the same number of collective writes on every rank.
  const std::int64_t piece_rows = std::max<std::int64_t>(1, (std::int64_t{1} << 20) / knn.k);
  const std::int64_t pieces = boost::mpi::all_reduce(comm, (knn.rows.size() + piece_rows - 1) / piece_rows,
                                                     boost::mpi::maximum<std::int64_t>());
  for (std::int64_t p = 0; p < pieces; ++p) {
    const std::int64_t first = std::min(knn.rows.size(), p * piece_rows);
    const std::int64_t end = std::min(knn.rows.size(), first + piece_rows);
    const RowRange rows{knn.rows.begin + first, knn.rows.begin + end};
    file.write_rows<std::int64_t>("/knn_indices", rows, knn.indices + first * knn.k);
    file.write_rows<double>("/knn_scores", rows, knn.scores + first * knn.k);
  }
  file.set_attribute("top_k", knn.k);
  file.close();
}

std::vector<Pair> read_pair_share(const Comm& comm, const std::string& path) {
  h5::File file = h5::File::open_read(path, &comm);
  const std::int64_t m = file.info("/inner_products").dims.at(0);
  const RowRange share{m * comm.rank() / comm.size(), m * (comm.rank() + 1) / comm.size()};
  std::vector<std::int64_t> ij(static_cast<std::size_t>(2 * share.size()));
  std::vector<double> ip(static_cast<std::size_t>(share.size()));
  file.read_rows<std::int64_t>("/pairs", share, 2, ij.empty() ? nullptr : ij.data(), 2);
  file.read_rows<double>("/inner_products", share, 1, ip.empty() ? nullptr : ip.data(), 1);
  file.close();
  return pairs_of_columns(ij, ip);
}

std::vector<Pair> read_pairs_file(const std::string& path) {
  h5::File file = h5::File::open_read(path, nullptr);
  const auto ij = file.read_all<std::int64_t>("/pairs");
  const auto ip = file.read_all<double>("/inner_products");
  return pairs_of_columns(ij, ip);
}

}  // namespace hipi
