#include "mpi/fixtures.hpp"

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/nonblocking.hpp>
#include <boost/serialization/string.hpp>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "answer/sample_sort.hpp"
#include "core/random.hpp"
#include "io/pair_file.hpp"

namespace hipi::test {

SharedTempDir::SharedTempDir(const Comm& comm) : comm_(comm) {
  if (comm.rank() == 0) {
    std::string pattern = (std::filesystem::temp_directory_path() / "hipi-test-XXXXXX").string();
    HIPI_ASSERT(::mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;
  }
  boost::mpi::broadcast(comm, dir_, 0);
}

SharedTempDir::~SharedTempDir() {
  comm_.barrier();
  if (comm_.rank() == 0) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

template <class T>
void write_dataset(const Comm& comm, const std::string& file, const std::string& name,
                   const std::vector<std::int64_t>& dims, const std::vector<T>& values, bool create) {
  // Agreed, so that a failure on rank 0 fails the test on every rank instead of leaving
  // the others waiting in the next collective.
  agree(comm, [&] {
    if (comm.rank() != 0) return;
    h5::File f = create ? h5::File::create(file, nullptr) : h5::File::open_write(file, nullptr);
    f.write<T>(name, dims, values);
    f.close();
  });
}

template void write_dataset(const Comm&, const std::string&, const std::string&, const std::vector<std::int64_t>&,
                            const std::vector<std::int8_t>&, bool);
template void write_dataset(const Comm&, const std::string&, const std::string&, const std::vector<std::int64_t>&,
                            const std::vector<std::int32_t>&, bool);
template void write_dataset(const Comm&, const std::string&, const std::string&, const std::vector<std::int64_t>&,
                            const std::vector<float>&, bool);
template void write_dataset(const Comm&, const std::string&, const std::string&, const std::vector<std::int64_t>&,
                            const std::vector<double>&, bool);

std::vector<std::int8_t> random_signs(std::int64_t rows, std::int64_t d, std::uint64_t seed,
                                      const std::vector<std::int8_t>* like) {
  RandomStream rng(seed, {});
  std::vector<std::int8_t> v(static_cast<std::size_t>(rows * d));
  for (auto& x : v) x = rng.below(2) ? 1 : -1;
  if (like && !like->empty()) {
    const std::int64_t like_rows = static_cast<std::int64_t>(like->size()) / d;
    for (std::int64_t r = 0; r < rows; r += 4)  // every 4th row copies a row of `like`, 1 in 6 flipped
      for (std::int64_t k = 0; k < d; ++k)
        v[r * d + k] = rng.below(6) ? (*like)[(r * 7 % like_rows) * d + k] : -(*like)[(r * 7 % like_rows) * d + k];
  }
  return v;
}

std::vector<Pair> gather_answer(const Comm& comm, std::vector<Pair> local) {
  const PairSlice slice = sort_pairs_across(comm, std::move(local));
  std::vector<std::int64_t> offsets;
  boost::mpi::gather(comm, slice.offset, offsets, 0);
  const auto bytes = static_cast<std::int64_t>(slice.pairs.size() * sizeof(Pair));
  std::vector<boost::mpi::request> requests;
  if (comm.rank() != 0) {
    isend_pieces(comm, 0, 41, reinterpret_cast<const char*>(slice.pairs.data()), bytes, requests);
    boost::mpi::wait_all(requests.begin(), requests.end());
    return {};
  }
  std::vector<Pair> all(static_cast<std::size_t>(slice.total));
  std::copy(slice.pairs.begin(), slice.pairs.end(), all.begin());
  offsets.push_back(slice.total);
  for (int r = 1; r < comm.size(); ++r)
    irecv_pieces(comm, r, 41, reinterpret_cast<char*>(all.data() + offsets[r]),
                 static_cast<std::int64_t>((offsets[r + 1] - offsets[r]) * sizeof(Pair)), requests);
  boost::mpi::wait_all(requests.begin(), requests.end());
  return all;
}

ScopedEnv::ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
  ::setenv(name_.c_str(), value.c_str(), 1);
}
ScopedEnv::~ScopedEnv() {
  ::unsetenv(name_.c_str());
}

SolveOptions self_join_options(const std::string& file, Mode mode, double value, Method method,
                               const std::string& out) {
  SolveOptions o;
  o.problem.a = {file, "/A"};
  o.problem.mode = mode;
  o.problem.value = value;
  o.method = method;
  o.out = out;
  return o;
}

Solved solve_and_read(const Comm& comm, const SolveOptions& o) {
  run_solve(comm, o);
  Solved r;
  if (comm.rank() == 0) {
    r.pairs = read_pairs_file(o.out);
    const h5::File f = h5::File::open_read(o.out, nullptr);
    r.method = f.string_attribute("method");
    r.parameters = nlohmann::json::parse(f.string_attribute("parameters"));
  }
  return r;
}

std::vector<std::int8_t> clustered_signs(std::int64_t rows, std::int64_t d, std::uint64_t seed, std::uint64_t base_seed,
                                         const std::vector<std::int64_t>& sizes, double flip, std::int64_t identical) {
  std::vector<std::int8_t> v = random_signs(rows, d, seed);
  RandomStream bases(base_seed, {1});
  RandomStream rng(seed, {2});
  std::vector<std::int64_t> order(rows);  // a random permutation: where the members go
  for (std::int64_t r = 0; r < rows; ++r) order[r] = r;
  for (std::int64_t r = rows - 1; r > 0; --r)
    std::swap(order[r], order[static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(r + 1)))]);
  const std::uint64_t flip_in_2_20 = static_cast<std::uint64_t>(flip * (1 << 20));
  std::int64_t at = 0;
  std::vector<std::int8_t> base(d);
  auto members = [&](std::int64_t count, std::uint64_t flip_below) {
    for (auto& x : base) x = bases.below(2) ? 1 : -1;
    for (std::int64_t m = 0; m < count; ++m, ++at) {
      HIPI_ASSERT(at < rows);
      for (std::int64_t k = 0; k < d; ++k) v[order[at] * d + k] = rng.below(1 << 20) < flip_below ? -base[k] : base[k];
    }
  };
  for (std::int64_t size : sizes) members(size, flip_in_2_20);
  if (identical > 0) members(identical, 0);
  return v;
}

std::vector<float> random_normals(std::int64_t rows, std::int64_t d, std::uint64_t seed) {
  RandomStream rng(seed, {});
  std::vector<float> v(static_cast<std::size_t>(rows * d));
  for (auto& x : v) x = static_cast<float>(rng.normal());
  return v;
}

template <class T>
std::vector<Pair> naive_pairs(const std::vector<T>& a, const std::vector<T>* b, std::int64_t d, const Threshold& t) {
  const std::vector<T>& other = b ? *b : a;
  const std::int64_t na = static_cast<std::int64_t>(a.size()) / d, nb = static_cast<std::int64_t>(other.size()) / d;
  std::vector<Pair> out;
  for (std::int64_t i = 0; i < na; ++i)
    for (std::int64_t j = b ? 0 : i + 1; j < nb; ++j) {
      double ip = 0;
      for (std::int64_t k = 0; k < d; ++k) ip += double(a[i * d + k]) * double(other[j * d + k]);
      if (t.passes(ip)) out.push_back({i, j, ip});
    }
  return out;
}

template std::vector<Pair> naive_pairs(const std::vector<std::int8_t>&, const std::vector<std::int8_t>*, std::int64_t,
                                       const Threshold&);
template std::vector<Pair> naive_pairs(const std::vector<float>&, const std::vector<float>*, std::int64_t,
                                       const Threshold&);

bool exists(const std::string& path) {
  return std::filesystem::exists(path);
}

}  // namespace hipi::test

namespace hipi::test {
::testing::AssertionResult same_pairs(const std::vector<Pair>& got, const std::vector<Pair>& want, double tolerance) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "got " << got.size() << " pairs, want " << want.size();
  for (std::size_t k = 0; k < got.size(); ++k)
    if (got[k].i != want[k].i || got[k].j != want[k].j || std::abs(got[k].ip - want[k].ip) > tolerance)
      return ::testing::AssertionFailure()
             << "pair " << k << ": got (" << got[k].i << ", " << got[k].j << ", " << got[k].ip << "), want ("
             << want[k].i << ", " << want[k].j << ", " << want[k].ip << ")";
  return ::testing::AssertionSuccess();
}
}  // namespace hipi::test
