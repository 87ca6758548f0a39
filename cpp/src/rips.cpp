#include "tda/rips.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <bit>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <numeric>
#include <span>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>

#include <boost/container/small_vector.hpp>
#include <fmt/core.h>

#include "tda/field.hpp"

namespace tda {
namespace {

// A simplex's position in the combinatorial number system: the vertices v_1 > ... > v_m of an
// (m-1)-simplex map to sum_j C(v_j, m - j + 1). Cofacets and facets are computed from it.
using index_t = std::int64_t;

[[nodiscard]] std::size_t vertex_count(const RipsInput& input) {
  return std::visit([](const auto& d) { return d.size(); }, input);
}

// C(v, k) for v <= n and k <= max_k; refuses sizes whose indices would not fit below limit.
class Binomials {
 public:
  Binomials(std::size_t n, int max_k, index_t limit)
      : stride_(n + 1), table_((static_cast<std::size_t>(max_k) + 1) * (n + 1), 0) {
    for (std::size_t v = 0; v <= n; ++v) {
      at(v, 0) = 1;
      for (int k = 1; k <= max_k && static_cast<std::size_t>(k) <= v; ++k) {
        const index_t a = at(v - 1, k - 1);
        const index_t b = at(v - 1, k);
        if (a > limit - b) {
          throw ResourceError(fmt::format(
              "simplex indices overflow: {} vertices with simplices of up to {} vertices exceed "
              "2^{} indices; lower maxdim or use fewer points",
              n, max_k, std::bit_width(static_cast<std::uint64_t>(limit))));
        }
        at(v, k) = a + b;
      }
    }
  }
  [[nodiscard]] index_t operator()(index_t v, int k) const noexcept {
    return table_[static_cast<std::size_t>(k) * stride_ + static_cast<std::size_t>(v)];
  }

 private:
  index_t& at(std::size_t v, int k) { return table_[static_cast<std::size_t>(k) * stride_ + v]; }
  std::size_t stride_;
  std::vector<index_t> table_;
};

// Z/2: every nonzero coefficient is 1, so entries carry no coefficient bits.
struct BinaryField {
  [[nodiscard]] static coefficient_t add(coefficient_t a, coefficient_t b) noexcept {
    return a ^ b;
  }
  [[nodiscard]] static coefficient_t negate(coefficient_t a) noexcept { return a; }
  [[nodiscard]] static coefficient_t multiply(coefficient_t a, coefficient_t b) noexcept {
    return a & b;
  }
  [[nodiscard]] static coefficient_t inverse(coefficient_t a) noexcept { return a; }
};

// Z/p for odd p: the coefficient is packed above the simplex index.
struct OddPrimeField {
  explicit OddPrimeField(std::uint64_t p)
      : field(p), coefficient_bits(static_cast<unsigned>(std::bit_width(p - 1))) {}
  [[nodiscard]] coefficient_t add(coefficient_t a, coefficient_t b) const noexcept {
    return field.add(a, b);
  }
  [[nodiscard]] coefficient_t negate(coefficient_t a) const noexcept { return field.negate(a); }
  [[nodiscard]] coefficient_t multiply(coefficient_t a, coefficient_t b) const noexcept {
    return field.multiply(a, b);
  }
  [[nodiscard]] coefficient_t inverse(coefficient_t a) const noexcept { return field.inverse(a); }
  PrimeField field;
  unsigned coefficient_bits;
};

template <class F>
concept CoefficientField = requires(const F& f, coefficient_t a) {
  { f.add(a, a) } -> std::same_as<coefficient_t>;
  { f.negate(a) } -> std::same_as<coefficient_t>;
  { f.multiply(a, a) } -> std::same_as<coefficient_t>;
  { f.inverse(a) } -> std::same_as<coefficient_t>;
};

// A simplex with its filtration value, and a coefficient when it is an entry of a column.
struct Entry {
  value_t diameter;
  std::uint64_t packed;  // index in the low bits, coefficient in the high bits
};

constexpr unsigned kIndexBits = 63;
// Columns reduced concurrently with more than one thread, per batch: small, because a column
// whose pivot an earlier column of its own batch takes finishes its reduction alone.
constexpr std::size_t kParallelBatch = 32;
// A batch slot keeps its heap's memory up to this many entries from one column to the next.
constexpr std::size_t kKeptHeapCapacity = 1 << 16;
// Fewer columns than this are reduced on the calling thread alone, and fewer simplices than
// kMinParallelItems assembled there: below these sizes starting threads and meeting them at
// barriers costs more than the work they would share.
constexpr std::size_t kMinParallelColumns = 1024;
constexpr std::size_t kMinParallelItems = 16384;
// Vertex searches over at most this many candidates scan linearly instead of halving.
constexpr index_t kLinearSearchSpan = 16;
// Chunks per thread of a parallel assembly: enough to even out chunks of uneven cost.
constexpr std::size_t kChunksPerThread = 16;
// Bytes of a diameter's bits: the passes of the radix sort of the edges.
constexpr std::size_t kRadixDigits = sizeof(std::uint64_t);

[[nodiscard]] index_t index_limit(unsigned coefficient_bits) noexcept {
  return static_cast<index_t>((std::uint64_t{1} << (kIndexBits - coefficient_bits)) - 1);
}

// Filtration order: by diameter, then by decreasing index. Reverse of this is the order in
// which cohomology columns are reduced.
[[nodiscard]] bool filtration_less(value_t da, index_t ia, value_t db, index_t ib) noexcept {
  return da < db || (da == db && ia > ib);
}

// The working column of a reduction: a monotone priority queue (a radix heap) of coboundary
// entries that hands out the earliest in filtration order first. A column only ever adds
// columns whose own earliest nonzero entry is the working pivot, so every entry pushed earlier
// than the last one handed out belongs to a set that sums to zero: such entries are dropped on
// arrival. Entries sit in buckets by the highest bit in which their 128-bit key (diameter bits,
// then the complement of the index) differs from the last key handed out; only the lowest
// nonempty bucket is ever scanned, and each entry moves down a few buckets in its lifetime.
class ColumnHeap {
 public:
  // Empties the heap for a new column whose entries carry their index under index_mask.
  void reset(std::uint64_t index_mask) noexcept {
    for (std::size_t word = 0; word < nonempty_.size(); ++word) {
      for (std::uint64_t bits = nonempty_[word]; bits != 0; bits &= bits - 1) {
        buckets_[word * 64 + static_cast<std::size_t>(std::countr_zero(bits))].clear();
      }
      nonempty_[word] = 0;
    }
    last_ = {};
    index_mask_ = index_mask;
  }

  void push(const Entry& entry) {
    const Key key = key_of(entry);
    if (key < last_) {
      return;
    }
    const std::size_t bucket = bucket_of(key);
    buckets_[bucket].push_back(entry);
    nonempty_[bucket / 64] |= std::uint64_t{1} << (bucket % 64);
  }

  // Brings the earliest entries, all of one simplex, into front(); false when the heap is empty.
  bool settle() {
    if ((nonempty_[0] & 1U) != 0) {
      return true;
    }
    std::size_t bucket = 0;
    for (std::size_t word = 0;; ++word) {
      if (word == nonempty_.size()) {
        return false;
      }
      if (nonempty_[word] != 0) {
        bucket = word * 64 + static_cast<std::size_t>(std::countr_zero(nonempty_[word]));
        break;
      }
    }
    std::vector<Entry>& from = buckets_[bucket];
    Key least = key_of(from.front());
    for (const Entry& e : from) {
      least = std::min(least, key_of(e));
    }
    last_ = least;
    for (const Entry& e : from) {
      const std::size_t to = bucket_of(key_of(e));
      buckets_[to].push_back(e);
      nonempty_[to / 64] |= std::uint64_t{1} << (to % 64);
    }
    from.clear();
    nonempty_[bucket / 64] &= ~(std::uint64_t{1} << (bucket % 64));
    return true;
  }

  // The entries of the earliest simplex, after settle() returned true.
  [[nodiscard]] const std::vector<Entry>& front() const noexcept { return buckets_[0]; }
  void pop_front() noexcept {
    buckets_[0].clear();
    nonempty_[0] &= ~std::uint64_t{1};
  }

  [[nodiscard]] std::size_t capacity() const noexcept {
    std::size_t total = 0;
    for (const auto& bucket : buckets_) {
      total += bucket.capacity();
    }
    return total;
  }

 private:
  struct Key {
    std::uint64_t high = 0;  // the diameter's bits: ordered like the diameters, which are >= 0
    std::uint64_t low = 0;   // the complement of the index: a larger index comes first
    friend bool operator<(const Key& a, const Key& b) noexcept {
      return a.high < b.high || (a.high == b.high && a.low < b.low);
    }
  };
  [[nodiscard]] Key key_of(const Entry& e) const noexcept {
    // Adding +0.0 turns a -0.0 diameter into +0.0, whose bits order like the other values.
    return {std::bit_cast<std::uint64_t>(e.diameter + 0.0), ~(e.packed & index_mask_)};
  }
  [[nodiscard]] std::size_t bucket_of(const Key& key) const noexcept {
    if (const std::uint64_t high = key.high ^ last_.high; high != 0) {
      return 64 + static_cast<std::size_t>(std::bit_width(high));
    }
    return static_cast<std::size_t>(std::bit_width(key.low ^ last_.low));
  }

  static constexpr std::size_t kBuckets = 129;
  std::array<std::vector<Entry>, kBuckets> buckets_;
  std::array<std::uint64_t, (kBuckets + 63) / 64> nonempty_{};
  Key last_{};
  std::uint64_t index_mask_ = ~std::uint64_t{0};
};

// Open-addressing map from a pivot's index to the column that owns it and its coefficient.
class PivotMap {
 public:
  struct Owner {
    std::uint32_t column;
    coefficient_t coefficient;
  };

  explicit PivotMap(std::size_t expected = 16) {
    rehash(std::bit_ceil(std::max<std::size_t>(16, expected * 2)));
  }

  [[nodiscard]] const Owner* find(index_t key) const noexcept {
    for (std::size_t i = slot_of(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) {
        return &s.owner;
      }
      if (s.key == kEmpty) {
        return nullptr;
      }
    }
  }
  void insert(index_t key, Owner owner) {
    if (2 * (size_ + 1) > slots_.size()) {
      rehash(slots_.size() * 2);
    }
    place(key, owner);
    ++size_;
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t bytes() const noexcept { return slots_.size() * sizeof(Slot); }

 private:
  static constexpr index_t kEmpty = -1;
  struct Slot {
    index_t key;
    Owner owner;
  };
  [[nodiscard]] std::size_t slot_of(index_t key) const noexcept {
    return static_cast<std::size_t>((static_cast<std::uint64_t>(key) * 0x9E3779B97F4A7C15ULL) >>
                                    shift_);
  }
  void place(index_t key, Owner owner) {
    std::size_t i = slot_of(key);
    while (slots_[i].key != kEmpty) {
      i = (i + 1) & mask_;
    }
    slots_[i] = {key, owner};
  }
  void rehash(std::size_t capacity) {
    std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(capacity, Slot{kEmpty, {}}));
    mask_ = capacity - 1;
    shift_ = 64U - static_cast<unsigned>(std::countr_zero(capacity));
    for (const Slot& s : old) {
      if (s.key != kEmpty) {
        place(s.key, s.owner);
      }
    }
  }
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  unsigned shift_ = 0;
  std::size_t size_ = 0;
};

// The number of chunks parallel_chunks cuts count items into for n_threads threads: several per
// thread, so that chunks of uneven cost still keep every thread busy to the end.
[[nodiscard]] std::size_t chunk_count(std::size_t count, unsigned n_threads) noexcept {
  if (n_threads <= 1 || count < kMinParallelItems) {
    return 1;
  }
  return std::min(count, std::size_t{n_threads} * kChunksPerThread);
}

// Runs body(begin, end, chunk) over the chunk_count(count, n_threads) contiguous chunks of
// [0, count), chunk k before chunk k + 1 in the range, on n_threads threads taking the next chunk
// as they come free. An exception thrown in any chunk (such as Cancelled) stops the others from
// starting chunks and is rethrown in the caller once all threads stopped.
template <class Body>
void parallel_chunks(std::size_t count, unsigned n_threads, Body body) {
  const std::size_t chunks = chunk_count(count, n_threads);
  if (chunks == 1) {
    body(std::size_t{0}, count, std::size_t{0});
    return;
  }
  const std::size_t threads = std::min<std::size_t>(n_threads, chunks);
  std::vector<std::exception_ptr> errors(threads);
  std::atomic<std::size_t> next{0};
  auto run = [&](std::size_t t) {
    try {
      for (std::size_t k = next.fetch_add(1); k < chunks; k = next.fetch_add(1)) {
        body(count * k / chunks, count * (k + 1) / chunks, k);
      }
    } catch (...) {
      errors[t] = std::current_exception();
      next.store(chunks);
    }
  };
  {
    std::vector<std::jthread> workers;
    for (std::size_t t = 1; t < threads; ++t) {
      workers.emplace_back(run, t);
    }
    run(0);
  }
  for (const auto& error : errors) {
    if (error) {
      std::rethrow_exception(error);
    }
  }
}

// Sorts entries listed in increasing index into filtration order (diameter, then decreasing
// index): reversed, then a stable radix sort on the diameter's bits (ordered like the values,
// which are >= 0), one pass per byte that is not the same in every entry.
void sort_into_filtration_order(std::vector<Entry>& entries) {
  std::reverse(entries.begin(), entries.end());
  std::array<std::array<std::size_t, 256>, kRadixDigits> counts{};
  auto key = [](const Entry& e) { return std::bit_cast<std::uint64_t>(e.diameter + 0.0); };
  for (const Entry& e : entries) {
    const std::uint64_t k = key(e);
    for (std::size_t d = 0; d < kRadixDigits; ++d) {
      ++counts[d][(k >> (8 * d)) & 0xFFU];
    }
  }
  std::vector<Entry> buffer(entries.size());
  for (std::size_t d = 0; d < kRadixDigits; ++d) {
    auto& count = counts[d];
    if (std::find(count.begin(), count.end(), entries.size()) != count.end()) {
      continue;  // every entry has the same byte here
    }
    std::size_t offset = 0;
    for (std::size_t& c : count) {
      offset += std::exchange(c, offset);
    }
    for (const Entry& e : entries) {
      buffer[count[(key(e) >> (8 * d)) & 0xFFU]++] = e;
    }
    entries.swap(buffer);
  }
}

template <class T, class Less>
void parallel_sort(std::vector<T>& items, unsigned n_threads, Less less) {
  if (n_threads <= 1 || items.size() < 4096) {
    std::sort(items.begin(), items.end(), less);
    return;
  }
  const auto middle = items.begin() + static_cast<std::ptrdiff_t>(items.size() / 2);
  {
    std::jthread left([&] { std::sort(items.begin(), middle, less); });
    std::sort(middle, items.end(), less);
  }
  std::inplace_merge(items.begin(), middle, items.end(), less);
}

template <DistanceMatrix Distances, CoefficientField Field>
class RipsPersistence {
 public:
  RipsPersistence(const Distances& distances, const RipsOptions& options, const Control& control,
                  value_t threshold, Field field)
      : dist_(distances),
        n_(static_cast<index_t>(distances.size())),
        maxdim_(std::min<int>(options.maxdim, static_cast<int>(distances.size()) - 1)),
        threshold_(threshold),
        field_(std::move(field)),
        coefficient_shift_(kIndexBits - coefficient_bits()),
        index_mask_((std::uint64_t{1} << coefficient_shift_) - 1),
        binomials_(distances.size(), maxdim_ + 2, index_limit(coefficient_bits())),
        options_(options),
        control_(control) {
    result_.diagrams.resize(static_cast<std::size_t>(options.maxdim) + 1);
  }

  PersistenceResult compute() {
    std::vector<Entry> columns;
    std::vector<Entry> simplices;
    if constexpr (std::is_same_v<Distances, DenseDistances>) {
      if (options_.representatives) {
        compute_dimension_0(simplices, columns);
      } else {
        compute_dimension_0_dense(simplices, columns);
      }
    } else {
      compute_dimension_0(simplices, columns);
    }
    for (int dim = 1; dim <= maxdim_; ++dim) {
      PivotMap pivots(columns.size());
      compute_pairs(columns, dim, pivots);
      if (dim < maxdim_) {
        assemble_columns_to_reduce(simplices, columns, dim, pivots);
      }
    }
    report_progress(1.0, true);
    return std::move(result_);
  }

 private:
  using Vertices = std::vector<index_t>;

  // ---- entries -------------------------------------------------------------------------------
  [[nodiscard]] unsigned coefficient_bits() const noexcept {
    if constexpr (std::is_same_v<Field, BinaryField>) {
      return 0;
    } else {
      return field_.coefficient_bits;
    }
  }
  [[nodiscard]] index_t index_of(const Entry& e) const noexcept {
    return static_cast<index_t>(e.packed & index_mask_);
  }
  [[nodiscard]] coefficient_t coefficient_of(const Entry& e) const noexcept {
    if constexpr (std::is_same_v<Field, BinaryField>) {
      return 1;
    } else {
      return static_cast<coefficient_t>(e.packed >> coefficient_shift_);
    }
  }
  [[nodiscard]] Entry make_entry(value_t diameter, index_t index, coefficient_t c) const noexcept {
    if constexpr (std::is_same_v<Field, BinaryField>) {
      return {diameter, static_cast<std::uint64_t>(index)};
    } else {
      return {diameter, static_cast<std::uint64_t>(index) |
                            (static_cast<std::uint64_t>(c) << coefficient_shift_)};
    }
  }
  [[nodiscard]] coefficient_t sign(bool odd) const noexcept {
    return odd ? field_.negate(1) : coefficient_t{1};
  }

  // ---- vertices ------------------------------------------------------------------------------
  // The largest v < top with C(v, k) <= index.
  [[nodiscard]] index_t max_vertex(index_t index, int k, index_t top) const noexcept {
    index_t lo = k - 1;
    index_t hi = top;  // C(hi, k) > index is assumed for hi == top
    while (hi - lo > kLinearSearchSpan) {
      const index_t mid = lo + (hi - lo) / 2;
      if (binomials_(mid, k) <= index) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    // A short range is scanned down from its top: C(v, k) for consecutive v are adjacent in
    // the table, and one mispredicted branch ends the scan instead of one per halving.
    // C(lo, k) <= index holds for every lo reached (C(k - 1, k) = 0): the scan stops by then.
    index_t v = hi - 1;
    while (binomials_(v, k) > index) {
      --v;
    }
    return v;
  }
  // Vertices of the dim-simplex in decreasing order.
  void vertices_of(index_t index, int dim, Vertices& out) const {
    out.resize(static_cast<std::size_t>(dim) + 1);
    if (dim == 1) {
      // An edge {i > j} has index i (i - 1) / 2 + j: i from the square root, then corrected.
      auto i = static_cast<index_t>((1 + std::sqrt(1 + 8 * static_cast<double>(index))) / 2);
      while (i > 1 && binomials_(i, 2) > index) {
        --i;
      }
      while (i + 1 < n_ && binomials_(i + 1, 2) <= index) {
        ++i;
      }
      out[0] = i;
      out[1] = index - binomials_(i, 2);
      return;
    }
    index_t top = n_;
    for (int k = dim + 1; k >= 1; --k) {
      const index_t v = max_vertex(index, k, top);
      out[static_cast<std::size_t>(dim + 1 - k)] = v;
      index -= binomials_(v, k);
      top = v;
    }
  }
  [[nodiscard]] std::vector<vertex_t> sorted_vertices(index_t index, int dim) const {
    Vertices v;
    vertices_of(index, dim, v);
    return {v.rbegin(), v.rend()};
  }
  // Distance between two distinct vertices. Dense input reads the lower triangle directly:
  // with the vertices distinct, the row is the larger one, without the general accessor's
  // branches (this is the innermost read of every cofacet enumeration).
  [[nodiscard]] value_t distance(index_t a, index_t b) const noexcept {
    if constexpr (std::is_same_v<Distances, DenseDistances>) {
      const auto hi = static_cast<std::size_t>(std::max(a, b));
      const auto lo = static_cast<std::size_t>(std::min(a, b));
      return dist_.lower_triangle()[hi * (hi - 1) / 2 + lo];
    } else {
      return dist_(static_cast<std::size_t>(a), static_cast<std::size_t>(b));
    }
  }
  // Row i of the lower triangle (d(i, 0) .. d(i, i - 1)); dense input only.
  [[nodiscard]] const value_t* row(index_t i) const noexcept {
    const auto r = static_cast<std::size_t>(i);
    return dist_.lower_triangle().data() + r * (r - 1) / 2;
  }

  // ---- cofacets ------------------------------------------------------------------------------
  // Enumerates the cofacets of a simplex within the threshold in decreasing index order, so
  // that among cofacets of equal diameter the first one met is the earliest in the filtration.
  // With all == false only cofacets adding a vertex above the simplex's largest are produced:
  // each (d+1)-simplex is then produced by exactly one of its facets.
  class Cofacets {
   public:
    Cofacets(const RipsPersistence& rips, const Vertices& vertices, index_t index, value_t diameter,
             bool all)
        : rips_(rips),
          u_(vertices),
          m_(static_cast<int>(vertices.size())),
          idx_below_(index),
          base_(diameter),
          all_(all) {
      last_distances_.resize(u_.size(), boost::container::default_init);
      if constexpr (std::is_same_v<Distances, SparseDistances>) {
        lists_.resize(u_.size());
        positions_.resize(u_.size());
        for (std::size_t l = 0; l < u_.size(); ++l) {
          lists_[l] = rips.dist_.neighbors(static_cast<std::size_t>(u_[l]));
          positions_[l] = lists_[l].size();
        }
      } else {
        w_ = rips.n_ - 1;
      }
    }

    // Next cofacet; odd tells whether its coefficient in the coboundary is -1.
    bool next(index_t& index, value_t& diameter, bool& odd) {
      if constexpr (std::is_same_v<Distances, SparseDistances>) {
        return next_sparse(index, diameter, odd);
      } else {
        return next_dense(index, diameter, odd);
      }
    }

    // Distance from the vertex the last cofacet added to vertex l of the simplex.
    [[nodiscard]] value_t last_distance(std::size_t l) const noexcept { return last_distances_[l]; }
    // The vertex the last cofacet added.
    [[nodiscard]] index_t last_vertex() const noexcept { return last_vertex_; }
    // Position of that vertex in the cofacet: the number of the simplex's vertices above it.
    [[nodiscard]] std::size_t last_position() const noexcept {
      return static_cast<std::size_t>(j_);
    }

   private:
    void pass_vertices_above(index_t w) noexcept {
      while (j_ < m_ && u_[static_cast<std::size_t>(j_)] > w) {
        const index_t v = u_[static_cast<std::size_t>(j_)];
        idx_below_ -= rips_.binomials_(v, m_ - j_);
        idx_above_ += rips_.binomials_(v, m_ - j_ + 1);
        ++j_;
      }
    }
    [[nodiscard]] index_t index_with(index_t w) const noexcept {
      return idx_above_ + rips_.binomials_(w, m_ - j_ + 1) + idx_below_;
    }

    bool next_dense(index_t& index, value_t& diameter, bool& odd) {
      const index_t* u = u_.data();
      const auto m = static_cast<std::size_t>(m_);
      value_t* last = last_distances_.data();
      const value_t threshold = rips_.threshold_;
      for (; w_ >= 0; --w_) {
        pass_vertices_above(w_);
        if (!all_ && j_ > 0) {
          return false;
        }
        const auto j = static_cast<std::size_t>(j_);
        if (j < m && u[j] == w_) {
          continue;
        }
        // Vertices u[0..j) lie above w (w in their rows), the others below (in w's row); a
        // candidate is given up at its first distance beyond the threshold.
        value_t d = base_;
        const value_t* row_w = rips_.row(w_);
        const auto take = [&](std::size_t from, std::size_t to, auto read) {
          for (std::size_t l = from; l < to; ++l) {
            const value_t x = read(u[l]);
            if (x > threshold) {
              return false;
            }
            last[l] = x;
            d = std::max(d, x);
          }
          return true;
        };
        if (!take(0, j, [&](index_t v) { return rips_.row(v)[w_]; }) ||
            !take(j, m, [&](index_t v) { return row_w[v]; })) {
          continue;
        }
        diameter = d;
        index = index_with(w_);
        odd = (j_ & 1) != 0;
        last_vertex_ = w_;
        --w_;
        return true;
      }
      return false;
    }

    bool next_sparse(index_t& index, value_t& diameter, bool& odd) {
      const std::size_t m = u_.size();
      while (positions_[0] > 0) {
        const index_t w = lists_[0][positions_[0] - 1].vertex;
        if (!all_ && w < u_[0]) {
          return false;
        }
        bool common = true;
        for (std::size_t l = 1; l < m; ++l) {
          std::size_t& p = positions_[l];
          while (p > 0 && lists_[l][p - 1].vertex > w) {
            --p;
          }
          if (p == 0) {
            positions_[0] = 0;
            return false;
          }
          if (lists_[l][p - 1].vertex < w) {
            const std::uint32_t below = lists_[l][p - 1].vertex;
            while (positions_[0] > 0 && lists_[0][positions_[0] - 1].vertex > below) {
              --positions_[0];
            }
            common = false;
            break;
          }
        }
        if (!common) {
          continue;
        }
        value_t d = base_;
        for (std::size_t l = 0; l < m; ++l) {
          last_distances_[l] = lists_[l][positions_[l] - 1].distance;
          d = std::max(d, last_distances_[l]);
        }
        --positions_[0];
        if (d > rips_.threshold_) {
          continue;
        }
        pass_vertices_above(w);
        diameter = d;
        index = index_with(w);
        odd = (j_ & 1) != 0;
        last_vertex_ = w;
        return true;
      }
      return false;
    }

    const RipsPersistence& rips_;
    const Vertices& u_;
    int m_;
    int j_ = 0;
    index_t idx_below_;
    index_t idx_above_ = 0;
    value_t base_;
    bool all_;
    index_t w_ = 0;
    index_t last_vertex_ = -1;
    boost::container::small_vector<std::span<const Neighbor>, 8> lists_;
    boost::container::small_vector<std::size_t, 8> positions_;
    boost::container::small_vector<value_t, 8> last_distances_;
  };

  // ---- apparent pairs ------------------------------------------------------------------------
  // The vertex that the simplex's earliest cofacet of equal diameter adds: the largest w outside
  // the simplex within `diameter` of all its vertices; -1 if there is none. Dense input only: a
  // vertex is given up at its first distance above the diameter, which for most vertices is
  // the first distance read.
  [[nodiscard]] index_t equal_cofacet_vertex(const Vertices& vertices, value_t diameter) const {
    const std::size_t m = vertices.size();
    if (m == 2) {
      return equal_cofacet_vertex_of_edge(vertices[0], vertices[1], diameter);
    }
    std::size_t next_inside = 0;  // vertices are decreasing: the next one w may meet
    for (index_t w = n_ - 1; w >= 0; --w) {
      if (next_inside < m && vertices[next_inside] == w) {
        ++next_inside;
        continue;
      }
      // vertices[0..next_inside) lie above w, the others below, in w's row.
      std::size_t l = 0;
      while (l < next_inside && row(vertices[l])[w] <= diameter) {
        ++l;
      }
      if (l < next_inside) {
        continue;
      }
      const value_t* row_w = row(w);
      while (l < m && row_w[vertices[l]] <= diameter) {
        ++l;
      }
      if (l == m) {
        return w;
      }
    }
    return -1;
  }

  // equal_cofacet_vertex of the edge {a > b}: the same search in three runs of w, each reading
  // the two distances from where they lie (w's row above a; a's row and w's row between; a's
  // and b's rows below b).
  [[nodiscard]] index_t equal_cofacet_vertex_of_edge(index_t a, index_t b,
                                                     value_t diameter) const noexcept {
    const value_t* row_a = row(a);
    const value_t* row_b = row(b);
    const auto ua = static_cast<std::size_t>(a);
    const auto ub = static_cast<std::size_t>(b);
    for (index_t w = n_ - 1; w > a; --w) {
      const value_t* row_w = row(w);
      if (row_w[ua] <= diameter && row_w[ub] <= diameter) {
        return w;
      }
    }
    for (index_t w = a - 1; w > b; --w) {
      if (row_a[w] <= diameter && row(w)[ub] <= diameter) {
        return w;
      }
    }
    for (index_t w = b - 1; w >= 0; --w) {
      if (row_a[w] <= diameter && row_b[w] <= diameter) {
        return w;
      }
    }
    return -1;
  }

  // The index of the cofacet adding w to the simplex (vertices decreasing, w not among them).
  [[nodiscard]] index_t cofacet_index(const Vertices& vertices, index_t w) const noexcept {
    const auto m = static_cast<int>(vertices.size());
    index_t index = 0;
    int position = 0;
    bool placed = false;
    for (int l = 0; l < m; ++l) {
      if (!placed && vertices[static_cast<std::size_t>(l)] < w) {
        index += binomials_(w, m + 1 - position);
        ++position;
        placed = true;
      }
      index += binomials_(vertices[static_cast<std::size_t>(l)], m + 1 - position);
      ++position;
    }
    if (!placed) {
      index += binomials_(w, 1);
    }
    return index;
  }

  // The earliest cofacet of the simplex if it has the simplex's diameter, else -1.
  [[nodiscard]] index_t earliest_equal_cofacet(const Vertices& vertices, index_t index,
                                               value_t diameter) const {
    if constexpr (std::is_same_v<Distances, DenseDistances>) {
      const index_t w = equal_cofacet_vertex(vertices, diameter);
      return w < 0 ? -1 : cofacet_index(vertices, w);
    } else {
      Cofacets cofacets(*this, vertices, index, diameter, true);
      index_t cofacet = 0;
      value_t d = 0;
      bool odd = false;
      while (cofacets.next(cofacet, d, odd)) {
        if (d == diameter) {
          return cofacet;
        }
      }
      return -1;
    }
  }

  struct Facet {
    index_t index = -1;
    bool odd = false;
    std::size_t removed = 0;  // position of the vertex the facet lacks
  };

  using Pairwise = boost::container::small_vector<value_t, 36>;

  // Pairwise distances of the vertices, row-major.
  void pairwise_distances(const Vertices& t, Pairwise& out) const {
    const std::size_t count = t.size();
    out.resize(count * count, boost::container::default_init);
    for (std::size_t a = 0; a < count; ++a) {
      out[a * count + a] = 0;
      for (std::size_t b = a + 1; b < count; ++b) {
        out[a * count + b] = out[b * count + a] = distance(t[a], t[b]);
      }
    }
  }

  // The pairs (a, b), a < b, of a simplex's vertices at distance `diameter` (usually one).
  using RealisingPairs = boost::container::small_vector<std::pair<std::size_t, std::size_t>, 4>;
  [[nodiscard]] static RealisingPairs realising_pairs(const Pairwise& pairwise, std::size_t count,
                                                      value_t diameter) {
    RealisingPairs realising;
    for (std::size_t a = 0; a < count; ++a) {
      for (std::size_t b = a + 1; b < count; ++b) {
        if (pairwise[a * count + b] == diameter) {
          realising.emplace_back(a, b);
        }
      }
    }
    return realising;
  }

  // The latest facet of a simplex if it has the simplex's diameter (the facet with that
  // diameter of smallest index, found by removing vertices from the largest down), with the
  // sign of the simplex in that facet's coboundary. pairwise: the simplex's distances.
  [[nodiscard]] Facet latest_equal_facet(const Vertices& t, const Pairwise& pairwise,
                                         value_t diameter) const {
    const std::size_t count = t.size();
    // Removing vertex i keeps the diameter unless i lies on every pair realising it.
    const RealisingPairs realising = realising_pairs(pairwise, count, diameter);
    for (std::size_t i = 0; i < count; ++i) {
      const bool equal = std::any_of(realising.begin(), realising.end(), [i](const auto& ab) {
        return ab.first != i && ab.second != i;
      });
      if (equal) {
        index_t index = 0;
        for (std::size_t l = 0; l < count; ++l) {
          if (l != i) {
            index += binomials_(t[l], static_cast<int>(l < i ? count - l - 1 : count - l));
          }
        }
        return {index, (i & 1) != 0, i};
      }
    }
    return {};
  }

  [[nodiscard]] Facet latest_equal_facet(const Vertices& t, value_t diameter) const {
    Pairwise pairwise;
    pairwise_distances(t, pairwise);
    return latest_equal_facet(t, pairwise, diameter);
  }

  // Whether (facet, tau) is an apparent pair, given that facet is tau's latest facet of equal
  // diameter: tau must be the facet's earliest cofacet.
  [[nodiscard]] bool facet_pairs_with(const Vertices& t, const Facet& facet, index_t tau,
                                      value_t diameter) const {
    Vertices s(t);
    s.erase(s.begin() + static_cast<std::ptrdiff_t>(facet.removed));
    return earliest_equal_cofacet(s, facet.index, diameter) == tau;
  }

  // The facet sigma with (sigma, tau) an apparent pair of zero persistence, if any.
  [[nodiscard]] Facet zero_apparent_facet(index_t tau, value_t diameter, int dim) const {
    Vertices t;
    vertices_of(tau, dim, t);
    const Facet facet = latest_equal_facet(t, diameter);
    if (facet.index < 0) {
      return {};
    }
    Vertices s;
    vertices_of(facet.index, dim - 1, s);
    return earliest_equal_cofacet(s, facet.index, diameter) == tau ? facet : Facet{};
  }

  // Whether the simplex's earliest cofacet rho has its diameter and has the simplex as its
  // latest facet of that diameter. rho adds vertex w at position j; a facet of rho with smaller
  // index drops a vertex at a position below j, and keeps the diameter unless that vertex lies
  // on every pair realising it. pairwise: the simplex's distances.
  [[nodiscard]] bool has_zero_apparent_cofacet(const Vertices& t, const Pairwise& pairwise,
                                               index_t index, value_t diameter) const {
    const std::size_t count = t.size();
    // rho adds w at `position`, at distance added(l) from vertex l of the simplex.
    auto latest_facet_of_rho = [&](std::size_t position, auto added) {
      if (position == 0) {
        return true;
      }
      // Vertices of the simplex at `diameter` from w, and pairs of the simplex realising it:
      // dropping vertex i keeps rho's diameter if one of them avoids i.
      std::size_t equal_added = 0;
      std::size_t some_equal_added = 0;
      for (std::size_t l = 0; l < count; ++l) {
        if (added(l) == diameter) {
          ++equal_added;
          some_equal_added = l;
        }
      }
      if (equal_added > 1 || (equal_added == 1 && (some_equal_added != 0 || position > 1))) {
        return false;
      }
      const RealisingPairs realising = realising_pairs(pairwise, count, diameter);
      for (std::size_t i = 0; i < position; ++i) {
        if (std::any_of(realising.begin(), realising.end(),
                        [i](const auto& ab) { return ab.first != i && ab.second != i; })) {
          return false;
        }
      }
      return true;
    };
    if constexpr (std::is_same_v<Distances, DenseDistances>) {
      const index_t w = equal_cofacet_vertex(t, diameter);
      if (w < 0) {
        return false;
      }
      const auto position = static_cast<std::size_t>(
          std::count_if(t.begin(), t.end(), [w](index_t v) { return v > w; }));
      return latest_facet_of_rho(position, [&](std::size_t l) { return distance(w, t[l]); });
    } else {
      Cofacets cofacets(*this, t, index, diameter, true);
      index_t cofacet = 0;
      value_t d = 0;
      bool odd = false;
      while (cofacets.next(cofacet, d, odd)) {
        if (d == diameter) {
          return latest_facet_of_rho(cofacets.last_position(),
                                     [&](std::size_t l) { return cofacets.last_distance(l); });
        }
      }
      return false;
    }
  }

  // ---- dimension 0 ---------------------------------------------------------------------------
  void compute_dimension_0(std::vector<Entry>& edges, std::vector<Entry>& columns) {
    edges = all_edges();
    sort_into_filtration_order(edges);
    std::vector<index_t> parent(static_cast<std::size_t>(n_));
    for (index_t v = 0; v < n_; ++v) {
      parent[static_cast<std::size_t>(v)] = v;
    }
    auto find = [&parent](index_t v) {
      while (parent[static_cast<std::size_t>(v)] != v) {
        auto& p = parent[static_cast<std::size_t>(v)];
        p = parent[static_cast<std::size_t>(p)];
        v = p;
      }
      return v;
    };
    auto& diagram = result_.diagrams[0];
    std::vector<Entry> candidates;
    Vertices vertices;
    for (std::size_t e = 0; e < edges.size(); ++e) {
      if ((e & 0xFFFFU) == 0) {
        control_.check_cancelled();
      }
      const index_t index = index_of(edges[e]);
      vertices_of(index, 1, vertices);
      const index_t a = find(vertices[0]);
      const index_t b = find(vertices[1]);
      if (a != b) {
        // All vertices are born at 0: the component with the larger root dies.
        const index_t dying = std::max(a, b);
        parent[static_cast<std::size_t>(dying)] = std::min(a, b);
        if (edges[e].diameter > 0) {
          PersistencePair pair{0, edges[e].diameter, {}, {}};
          if (options_.representatives) {
            pair.birth_simplex = {dying};
            pair.death_simplex = {vertices[1], vertices[0]};
          }
          diagram.push_back(std::move(pair));
        }
      } else if (maxdim_ > 0) {
        candidates.push_back(edges[e]);
      }
    }
    for (index_t v = 0; v < n_; ++v) {
      if (find(v) == v) {
        PersistencePair pair{0, kInfinity, {}, {}};
        if (options_.representatives) {
          pair.birth_simplex = {v};
        }
        diagram.push_back(std::move(pair));
      }
    }
    if (maxdim_ == 0) {
      return;
    }
    // Edges in an apparent pair with a triangle need no column.
    std::vector<std::vector<Entry>> kept(chunk_count(candidates.size(), options_.n_threads));
    parallel_chunks(candidates.size(), options_.n_threads,
                    [&](std::size_t begin, std::size_t end, std::size_t t) {
                      Vertices v;
                      Pairwise pairwise;
                      for (std::size_t i = begin; i < end; ++i) {
                        const index_t index = index_of(candidates[i]);
                        const value_t d = candidates[i].diameter;
                        vertices_of(index, 1, v);
                        pairwise.assign({0, d, d, 0});
                        if (!has_zero_apparent_cofacet(v, pairwise, index, d)) {
                          kept[t].push_back(candidates[i]);
                        }
                      }
                    });
    columns.clear();
    // Chunks are in filtration order and so is their concatenation; reduction wants it reversed.
    for (const auto& part : kept) {
      columns.insert(columns.end(), part.begin(), part.end());
    }
    std::reverse(columns.begin(), columns.end());
    if (maxdim_ < 2) {
      edges = {};
    }
  }

  // Dense input, no representatives: the spanning forest grown by Prim's algorithm over the
  // filtration order (diameter, then index: a total order, so its minimum spanning forest is
  // unique and is the one Kruskal's algorithm takes from the sorted edges), in O(n^2) reads of
  // the matrix and without sorting all edges. Its edges are the deaths of dimension 0; the other
  // edges without a zero-persistence apparent cofacet are the columns of dimension 1, sorted
  // alone. `edges` gets every edge within the threshold, in index order, when dimension 2 needs
  // them (the columns built from them are sorted).
  void compute_dimension_0_dense(std::vector<Entry>& edges, std::vector<Entry>& columns) {
    const auto n = static_cast<std::size_t>(n_);
    std::vector<index_t> joined_by(n, -1);  // the tree neighbour a vertex joined through
    std::vector<value_t> best(n, kInfinity);
    std::vector<index_t> best_index(n, -1);  // -1: no edge within the threshold to the tree yet
    std::vector<index_t> best_from(n, -1);
    std::vector<index_t> outside(n - 1);
    std::iota(outside.begin(), outside.end(), index_t{1});
    std::vector<Entry> tree;
    tree.reserve(n - 1);
    std::size_t components = 1;
    index_t current = 0;
    for (std::size_t step = 0; !outside.empty(); ++step) {
      if ((step & 0x3FU) == 0) {
        control_.check_cancelled();
      }
      std::size_t pick = outside.size();
      for (std::size_t k = 0; k < outside.size(); ++k) {
        const index_t v = outside[k];
        const auto u = static_cast<std::size_t>(v);
        const value_t d = distance(current, v);
        if (d <= threshold_) {
          const index_t index = edge_index(current, v);
          if (best_index[u] < 0 || filtration_less(d, index, best[u], best_index[u])) {
            best[u] = d;
            best_index[u] = index;
            best_from[u] = current;
          }
        }
        if (best_index[u] >= 0) {
          const auto p = static_cast<std::size_t>(pick < outside.size() ? outside[pick] : 0);
          if (pick == outside.size() ||
              filtration_less(best[u], best_index[u], best[p], best_index[p])) {
            pick = k;
          }
        }
      }
      if (pick == outside.size()) {
        pick = 0;  // no edge leaves the tree: the next vertex starts a new component
        ++components;
      } else {
        const auto u = static_cast<std::size_t>(outside[pick]);
        joined_by[u] = best_from[u];
        tree.push_back(make_entry(best[u], best_index[u], 1));
      }
      current = outside[pick];
      outside[pick] = outside.back();
      outside.pop_back();
    }
    std::sort(tree.begin(), tree.end(), [this](const Entry& a, const Entry& b) {
      return filtration_less(a.diameter, index_of(a), b.diameter, index_of(b));
    });
    auto& diagram = result_.diagrams[0];
    for (const Entry& e : tree) {
      if (e.diameter > 0) {
        diagram.push_back({0, e.diameter, {}, {}});
      }
    }
    for (std::size_t c = 0; c < components; ++c) {
      diagram.push_back({0, kInfinity, {}, {}});
    }
    if (maxdim_ == 0) {
      return;
    }
    const bool keep_edges = maxdim_ >= 2;
    // Edges in index order: row i of the lower triangle is the edges {i, j}, j < i, at indices
    // C(i, 2) + j.
    const std::size_t edge_count = n * (n - 1) / 2;
    const std::size_t chunks = chunk_count(edge_count, options_.n_threads);
    std::vector<std::vector<Entry>> kept(chunks);
    std::vector<std::vector<Entry>> all(keep_edges ? chunks : 0);
    parallel_chunks(
        edge_count, options_.n_threads, [&](std::size_t begin, std::size_t end, std::size_t t) {
          if (begin == end) {
            return;
          }
          Vertices v;
          vertices_of(static_cast<index_t>(begin), 1, v);
          index_t i = v[0];
          index_t j = v[1];
          const value_t* row_i = row(i);
          Pairwise pairwise(4, 0.0);
          for (std::size_t e = begin; e < end; ++e) {
            if ((e & 0xFFFFU) == 0) {
              control_.check_cancelled();
            }
            const value_t d = row_i[j];
            if (d <= threshold_) {
              const Entry edge = make_entry(d, static_cast<index_t>(e), 1);
              if (keep_edges) {
                all[t].push_back(edge);
              }
              // A tree edge is a death of dimension 0: cleared.
              if (joined_by[static_cast<std::size_t>(i)] != j &&
                  joined_by[static_cast<std::size_t>(j)] != i) {
                v[0] = i;
                v[1] = j;
                pairwise[1] = pairwise[2] = d;
                if (!has_zero_apparent_cofacet(v, pairwise, static_cast<index_t>(e), d)) {
                  kept[t].push_back(edge);
                }
              }
            }
            if (++j == i) {
              row_i = row(++i);
              j = 0;
            }
          }
        });
    columns.clear();
    for (auto& part : kept) {
      columns.insert(columns.end(), part.begin(), part.end());
      part = {};
    }
    // Reduced in reverse filtration order.
    parallel_sort(columns, options_.n_threads, [this](const Entry& a, const Entry& b) {
      return filtration_less(b.diameter, index_of(b), a.diameter, index_of(a));
    });
    edges.clear();
    for (auto& part : all) {
      edges.insert(edges.end(), part.begin(), part.end());
      part = {};
    }
  }

  [[nodiscard]] index_t edge_index(index_t a, index_t b) const noexcept {
    return a > b ? binomials_(a, 2) + b : binomials_(b, 2) + a;
  }

  [[nodiscard]] std::vector<Entry> all_edges() const {
    std::vector<Entry> edges;
    for (index_t i = 1; i < n_; ++i) {
      if constexpr (std::is_same_v<Distances, SparseDistances>) {
        for (const Neighbor& nb : dist_.neighbors(static_cast<std::size_t>(i))) {
          if (nb.vertex >= i) {
            break;
          }
          if (nb.distance <= threshold_) {
            edges.push_back(make_entry(nb.distance, binomials_(i, 2) + nb.vertex, 1));
          }
        }
      } else {
        for (index_t j = 0; j < i; ++j) {
          const value_t d = distance(i, j);
          if (d <= threshold_) {
            edges.push_back(make_entry(d, binomials_(i, 2) + j, 1));
          }
        }
      }
    }
    return edges;
  }

  // ---- higher dimensions ---------------------------------------------------------------------
  // Columns of dimension dim + 1: the (dim+1)-simplices that are neither cleared (the pivot of
  // a column of dimension dim) nor in an apparent pair.
  void assemble_columns_to_reduce(std::vector<Entry>& simplices, std::vector<Entry>& columns,
                                  int dim, const PivotMap& pivots) {
    const bool keep_simplices = dim + 1 < maxdim_;
    // The dim-simplices with vertex n - 1 are those of index C(n - 1, dim + 1) and above.
    const index_t last_vertex_start = binomials_(n_ - 1, dim + 1);
    const unsigned threads = std::max(1U, options_.n_threads);
    const std::size_t chunks = chunk_count(simplices.size(), threads);
    std::vector<std::vector<Entry>> next_simplices(chunks);
    std::vector<std::vector<Entry>> next_columns(chunks);
    const auto caller = std::this_thread::get_id();
    const auto total = static_cast<double>(simplices.size());
    parallel_chunks(
        simplices.size(), threads, [&](std::size_t begin, std::size_t end, std::size_t t) {
          Vertices vertices;
          Vertices cofacet_vertices;
          Pairwise sigma_pairwise;
          Pairwise tau_pairwise;
          const bool reports = std::this_thread::get_id() == caller;
          for (std::size_t i = begin; i < end; ++i) {
            if ((i & 0xFFU) == 0) {
              control_.check_cancelled();
              if (reports) {
                // The first half of dimension dim + 1's share; its reduction the second.
                report_progress((dim + 1 + 0.5 * static_cast<double>(i) / total) / (maxdim_ + 1),
                                false);
              }
            }
            const index_t index = index_of(simplices[i]);
            if (index >= last_vertex_start) {
              continue;  // its largest vertex is n - 1: no vertex above it to add
            }
            const value_t diameter = simplices[i].diameter;
            vertices_of(index, dim, vertices);
            bool sigma_pairwise_known = false;  // computed for the first cofacet that needs it
            const std::size_t m = vertices.size();
            Cofacets cofacets(*this, vertices, index, diameter, false);
            index_t cofacet = 0;
            value_t d = 0;
            bool odd = false;
            bool equal_seen = false;
            while (cofacets.next(cofacet, d, odd)) {
              const Entry entry = make_entry(d, cofacet, 1);
              if (keep_simplices) {
                next_simplices[t].push_back(entry);
              }
              // Cofacets come in decreasing index, adding a vertex above the simplex's: the first
              // of equal diameter is the simplex's earliest cofacet, and the simplex is the latest
              // facet of every cofacet of equal diameter.
              const bool earliest_equal = d == diameter && !equal_seen;
              equal_seen = equal_seen || d == diameter;
              if (pivots.find(cofacet) != nullptr) {
                continue;
              }
              if (earliest_equal) {
                continue;  // the cofacet of an apparent pair with this simplex
              }
              if (!sigma_pairwise_known) {
                pairwise_distances(vertices, sigma_pairwise);
                sigma_pairwise_known = true;
              }
              // The cofacet's vertices in decreasing order: the added vertex comes first.
              cofacet_vertices.resize(m + 1);
              cofacet_vertices[0] = cofacets.last_vertex();
              std::copy(vertices.begin(), vertices.end(), cofacet_vertices.begin() + 1);
              tau_pairwise.resize((m + 1) * (m + 1), boost::container::default_init);
              tau_pairwise[0] = 0;
              for (std::size_t a = 0; a < m; ++a) {
                tau_pairwise[a + 1] = tau_pairwise[(a + 1) * (m + 1)] = cofacets.last_distance(a);
                for (std::size_t b = 0; b < m; ++b) {
                  tau_pairwise[(a + 1) * (m + 1) + b + 1] = sigma_pairwise[a * m + b];
                }
              }
              if (d != diameter) {
                const Facet facet = latest_equal_facet(cofacet_vertices, tau_pairwise, d);
                if (facet.index >= 0 && facet_pairs_with(cofacet_vertices, facet, cofacet, d)) {
                  continue;  // the cofacet of an apparent pair with another facet
                }
              }
              if (has_zero_apparent_cofacet(cofacet_vertices, tau_pairwise, cofacet, d)) {
                continue;  // the facet of an apparent pair: settled without a column
              }
              next_columns[t].push_back(entry);
            }
          }
        });
    simplices.clear();
    simplices.shrink_to_fit();
    columns.clear();
    for (std::size_t t = 0; t < chunks; ++t) {
      simplices.insert(simplices.end(), next_simplices[t].begin(), next_simplices[t].end());
      next_simplices[t] = {};
      columns.insert(columns.end(), next_columns[t].begin(), next_columns[t].end());
      next_columns[t] = {};
    }
    parallel_sort(columns, options_.n_threads, [this](const Entry& a, const Entry& b) {
      return filtration_less(b.diameter, index_of(b), a.diameter, index_of(a));
    });
  }

  // A column being reduced: its coboundary entries, and the columns added to it.
  struct Working {
    ColumnHeap heap;
    std::vector<Entry> reduction;
    std::vector<Entry> pending;  // cofacets held back by add_apparent_facet
    Entry pivot{};
    bool found = false;
    bool emergent = false;
  };

  void push_coboundary(Working& w, const Entry& simplex, coefficient_t factor, int dim,
                       Vertices& vertices) const {
    const index_t index = index_of(simplex);
    vertices_of(index, dim, vertices);
    Cofacets cofacets(*this, vertices, index, simplex.diameter, true);
    const coefficient_t c = field_.multiply(factor, coefficient_of(simplex));
    index_t cofacet = 0;
    value_t d = 0;
    bool odd = false;
    while (cofacets.next(cofacet, d, odd)) {
      w.heap.push(make_entry(d, cofacet, odd ? field_.negate(c) : c));
    }
    w.reduction.push_back(make_entry(simplex.diameter, index, c));
  }

  // Takes out entries of equal index together; leaves the first nonzero sum, in w.pivot, as the
  // heap's only earliest entry.
  [[nodiscard]] bool pop_pivot(Working& w) const {
    auto& heap = w.heap;
    while (heap.settle()) {
      const std::vector<Entry>& front = heap.front();
      coefficient_t c = 0;
      for (const Entry& e : front) {
        c = field_.add(c, coefficient_of(e));
      }
      const Entry first = front.front();
      heap.pop_front();
      if (c != 0) {
        w.pivot = make_entry(first.diameter, index_of(first), c);
        heap.push(w.pivot);
        return true;
      }
    }
    return false;
  }

  // Fills the heap with the coboundary of the column's simplex. Returns true with the pivot set
  // when the column is an emergent pair: its earliest cofacet has its diameter and is free.
  bool init_coboundary(Working& w, const Entry& column, int dim, const PivotMap& pivots,
                       bool allow_emergent, Vertices& vertices) const {
    w.heap.reset(index_mask_);
    w.reduction.clear();
    const index_t index = index_of(column);
    vertices_of(index, dim, vertices);
    Cofacets cofacets(*this, vertices, index, column.diameter, true);
    bool emergent_possible = allow_emergent;
    index_t cofacet = 0;
    value_t d = 0;
    bool odd = false;
    while (cofacets.next(cofacet, d, odd)) {
      const Entry entry = make_entry(d, cofacet, sign(odd));
      if (emergent_possible && d == column.diameter) {
        emergent_possible = false;
        if (pivots.find(cofacet) == nullptr && zero_apparent_facet(cofacet, d, dim + 1).index < 0) {
          w.pivot = entry;
          return true;
        }
      }
      w.heap.push(entry);
    }
    return false;
  }

  // If the pivot tau is the cofacet of a zero-persistence apparent pair (sigma, tau), adds the
  // coboundary of sigma, scaled to cancel the pivot, and returns true. sigma's cofacets are
  // enumerated once: those met before the first of equal diameter wait in w.pending until that
  // one turns out to be tau (the pair is apparent) or not (nothing is added).
  bool add_apparent_facet(Working& w, int dim, Vertices& vertices) const {
    const index_t tau = index_of(w.pivot);
    const value_t diameter = w.pivot.diameter;
    vertices_of(tau, dim + 1, vertices);
    const Facet facet = latest_equal_facet(vertices, diameter);
    if (facet.index < 0) {
      return false;
    }
    vertices.erase(vertices.begin() + static_cast<std::ptrdiff_t>(facet.removed));
    const coefficient_t c =
        field_.negate(field_.multiply(coefficient_of(w.pivot), field_.inverse(sign(facet.odd))));
    Cofacets cofacets(*this, vertices, facet.index, diameter, true);
    index_t cofacet = 0;
    value_t d = 0;
    bool odd = false;
    w.pending.clear();
    while (cofacets.next(cofacet, d, odd)) {
      w.pending.push_back(make_entry(d, cofacet, odd ? field_.negate(c) : c));
      if (d == diameter) {
        if (cofacet != tau) {
          return false;
        }
        break;
      }
    }
    for (const Entry& e : w.pending) {
      w.heap.push(e);
    }
    while (cofacets.next(cofacet, d, odd)) {
      w.heap.push(make_entry(d, cofacet, odd ? field_.negate(c) : c));
    }
    w.reduction.push_back(make_entry(diameter, facet.index, c));
    return true;
  }

  // Adds columns owning the pivot, and the coboundaries of apparent pairs, until the pivot is
  // free in `pivots` (true, w.pivot set) or the column is zero (false). Only reads `pivots` and
  // the stored reductions of the columns it names, so columns reduce concurrently against a
  // fixed map.
  bool reduce(Working& w, bool found, const std::vector<Entry>& columns, int dim,
              const PivotMap& pivots, Vertices& vertices) const {
    std::size_t additions = 0;
    while (found) {
      const index_t pivot_index = index_of(w.pivot);
      const coefficient_t pivot_coefficient = coefficient_of(w.pivot);
      if (const PivotMap::Owner* owner = pivots.find(pivot_index); owner != nullptr) {
        const coefficient_t factor =
            field_.negate(field_.multiply(pivot_coefficient, field_.inverse(owner->coefficient)));
        add_column(w, columns, owner->column, factor, dim, vertices);
      } else if (!add_apparent_facet(w, dim, vertices)) {
        return true;
      }
      if ((++additions & 0x3FFU) == 0) {
        control_.check_cancelled();
      }
      found = pop_pivot(w);
    }
    return false;
  }

  // Records the reduced column j: its pair, its pivot, and its additions.
  void finish_column(Working& w, const std::vector<Entry>& columns, std::size_t j, int dim,
                     PivotMap& pivots) {
    auto& diagram = result_.diagrams[static_cast<std::size_t>(dim)];
    if (w.found) {
      pivots.insert(index_of(w.pivot), {static_cast<std::uint32_t>(j), coefficient_of(w.pivot)});
      if (w.pivot.diameter > columns[j].diameter) {
        add_pair(diagram, columns[j], &w.pivot, dim);
      }
    } else {
      add_pair(diagram, columns[j], nullptr, dim);
    }
    store_reduction_column(w);
  }

  void compute_pairs(const std::vector<Entry>& columns, int dim, PivotMap& pivots) {
    reduction_entries_.clear();
    reduction_offsets_.assign(1, 0);
    if (options_.n_threads > 1 && columns.size() >= kMinParallelColumns) {
      compute_pairs_in_batches(columns, dim, pivots);
      return;
    }
    Working w;
    Vertices vertices;
    for (std::size_t j = 0; j < columns.size(); ++j) {
      if ((j & 0xFFU) == 0) {
        control_.check_cancelled();
        report_progress(reduction_progress(dim, j, columns.size()), false);
      }
      w.emergent = init_coboundary(w, columns[j], dim, pivots, true, vertices);
      w.found = w.emergent || reduce(w, pop_pivot(w), columns, dim, pivots, vertices);
      finish_column(w, columns, j, dim, pivots);
    }
  }

  // Batches of columns: every column of a batch is first reduced, concurrently, against the
  // columns of the earlier batches (final by then); then, in order, against the earlier
  // columns of its own batch. Any sequence of additions of earlier columns gives the same
  // pivots, so the pairs are those of the serial reduction, in the same order. The helper
  // threads live as long as the dimension, meeting the calling thread at a barrier twice per
  // batch.
  void compute_pairs_in_batches(const std::vector<Entry>& columns, int dim, PivotMap& pivots) {
    const auto threads =
        static_cast<unsigned>(std::min<std::size_t>(options_.n_threads, kParallelBatch));
    std::vector<Working> batch(kParallelBatch);
    std::atomic<std::size_t> next{0};
    std::size_t start = 0;
    std::size_t count = 0;
    bool stop = false;
    std::barrier meeting(static_cast<std::ptrdiff_t>(threads));
    std::vector<std::exception_ptr> errors(threads);
    auto reduce_batch = [&](unsigned t, Vertices& v) {
      try {
        for (std::size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
          Working& w = batch[i];
          w.emergent = init_coboundary(w, columns[start + i], dim, pivots, true, v);
          w.found = w.emergent || reduce(w, pop_pivot(w), columns, dim, pivots, v);
        }
      } catch (...) {
        errors[t] = std::current_exception();
        next.store(count);
      }
    };
    {
      std::vector<std::jthread> helpers;
      for (unsigned t = 1; t < threads; ++t) {
        helpers.emplace_back([&, t] {
          Vertices v;
          while (true) {
            meeting.arrive_and_wait();  // a batch is ready, or stop
            if (stop) {
              return;
            }
            reduce_batch(t, v);
            meeting.arrive_and_wait();  // the batch is reduced
          }
        });
      }
      Vertices vertices;
      for (start = 0; start < columns.size() && !stop; start += kParallelBatch) {
        count = std::min(kParallelBatch, columns.size() - start);
        next.store(0);
        meeting.arrive_and_wait();
        reduce_batch(0, vertices);
        meeting.arrive_and_wait();
        if (std::any_of(errors.begin(), errors.end(), [](const auto& e) { return e != nullptr; })) {
          break;
        }
        try {
          finish_batch(batch, columns, start, count, dim, pivots, vertices);
        } catch (...) {
          errors[0] = std::current_exception();
          break;
        }
      }
      stop = true;
      meeting.arrive_and_wait();  // releases the helpers, which return
    }
    for (const auto& error : errors) {
      if (error) {
        std::rethrow_exception(error);
      }
    }
  }

  void finish_batch(std::vector<Working>& batch, const std::vector<Entry>& columns,
                    std::size_t start, std::size_t count, int dim, PivotMap& pivots,
                    Vertices& vertices) {
    control_.check_cancelled();
    report_progress(reduction_progress(dim, start, columns.size()), false);
    for (std::size_t i = 0; i < count; ++i) {
      Working& w = batch[i];
      const std::size_t j = start + i;
      if (w.emergent && pivots.find(index_of(w.pivot)) != nullptr) {
        // An earlier column of the batch took the pivot: reduce this one in full.
        w.emergent = false;
        init_coboundary(w, columns[j], dim, pivots, false, vertices);
        w.found = reduce(w, pop_pivot(w), columns, dim, pivots, vertices);
      } else if (w.found && !w.emergent) {
        w.found = reduce(w, true, columns, dim, pivots, vertices);
      }
      finish_column(w, columns, j, dim, pivots);
      if (w.heap.capacity() > kKeptHeapCapacity) {
        w.heap = ColumnHeap{};
      }
    }
  }

  void add_column(Working& w, const std::vector<Entry>& columns, std::uint32_t k,
                  coefficient_t factor, int dim, Vertices& vertices) const {
    push_coboundary(w, make_entry(columns[k].diameter, index_of(columns[k]), 1), factor, dim,
                    vertices);
    for (std::size_t i = reduction_offsets_[k]; i < reduction_offsets_[k + 1]; ++i) {
      push_coboundary(w, reduction_entries_[i], factor, dim, vertices);
    }
  }

  // Keeps the column's additions (its own simplex is implicit), merged by index.
  void store_reduction_column(Working& w) {
    auto& added = w.reduction;
    std::sort(added.begin(), added.end(),
              [this](const Entry& a, const Entry& b) { return index_of(a) < index_of(b); });
    for (std::size_t i = 0; i < added.size();) {
      const index_t index = index_of(added[i]);
      coefficient_t c = 0;
      const value_t diameter = added[i].diameter;
      for (; i < added.size() && index_of(added[i]) == index; ++i) {
        c = field_.add(c, coefficient_of(added[i]));
      }
      if (c != 0) {
        reduction_entries_.push_back(make_entry(diameter, index, c));
      }
    }
    reduction_offsets_.push_back(reduction_entries_.size());
  }

  void add_pair(std::vector<PersistencePair>& diagram, const Entry& birth, const Entry* death,
                int dim) const {
    PersistencePair pair{birth.diameter, death != nullptr ? death->diameter : kInfinity, {}, {}};
    if (options_.representatives) {
      pair.birth_simplex = sorted_vertices(index_of(birth), dim);
      if (death != nullptr) {
        pair.death_simplex = sorted_vertices(index_of(*death), dim + 1);
      }
    }
    diagram.push_back(std::move(pair));
  }

  // Dimension dim's share of the progress is [dim, dim + 1) / (maxdim + 1): the assembly of its
  // columns the first half (for dimension 1, part of dimension 0's pass), their reduction the
  // second.
  [[nodiscard]] double reduction_progress(int dim, std::size_t done, std::size_t count) const {
    return (dim + 0.5 + 0.5 * static_cast<double>(done) / static_cast<double>(count)) /
           (maxdim_ + 1);
  }

  void report_progress(double fraction, bool force) {
    const auto now = std::chrono::steady_clock::now();
    if (force || now - last_report_ > std::chrono::milliseconds(50)) {
      last_report_ = now;
      control_.report(std::clamp(fraction, 0.0, 1.0));
    }
  }

  const Distances& dist_;
  index_t n_;
  int maxdim_;
  value_t threshold_;
  Field field_;
  unsigned coefficient_shift_;
  std::uint64_t index_mask_;
  Binomials binomials_;
  const RipsOptions& options_;
  const Control& control_;
  PersistenceResult result_;
  std::vector<Entry> reduction_entries_;
  std::vector<std::size_t> reduction_offsets_;
  std::chrono::steady_clock::time_point last_report_{};
};

// Upper bounds on the number of k-simplices: orient each edge towards the endpoint of larger
// degree; every clique is counted once at its lowest vertex, among C(outdegree, k) choices.
std::vector<double> clique_bounds(const std::vector<std::vector<std::uint32_t>>& adjacency,
                                  int max_k) {
  const std::size_t n = adjacency.size();
  std::vector<std::size_t> rank(n);
  std::vector<std::size_t> order(n);
  for (std::size_t v = 0; v < n; ++v) {
    order[v] = v;
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return adjacency[a].size() < adjacency[b].size() ||
           (adjacency[a].size() == adjacency[b].size() && a < b);
  });
  for (std::size_t r = 0; r < n; ++r) {
    rank[order[r]] = r;
  }
  std::vector<double> counts(static_cast<std::size_t>(max_k) + 1, 0);
  for (std::size_t v = 0; v < n; ++v) {
    double out = 0;
    for (const std::uint32_t u : adjacency[v]) {
      out += rank[u] > rank[v] ? 1 : 0;
    }
    double choose = 1;  // C(out, k)
    for (int k = 0; k <= max_k; ++k) {
      counts[static_cast<std::size_t>(k)] += choose;
      choose = choose * (out - k) / (k + 1);
      if (choose <= 0) {
        break;
      }
    }
  }
  return counts;
}

constexpr int kMaxDimension = 1000;

}  // namespace

value_t effective_threshold(const RipsInput& input, const RipsOptions& options) {
  if (options.threshold) {
    return *options.threshold;
  }
  if (const auto* dense = std::get_if<DenseDistances>(&input)) {
    return dense->size() <= 1 ? 0 : enclosing_radius(*dense);
  }
  return kInfinity;
}

void validate(const RipsInput& input, const RipsOptions& options) {
  if (vertex_count(input) == 0) {
    throw std::invalid_argument("the input is empty: no points or distances");
  }
  if (options.maxdim < 0 || options.maxdim > kMaxDimension) {
    throw std::invalid_argument(
        fmt::format("maxdim must be between 0 and {}, got {}", kMaxDimension, options.maxdim));
  }
  if (options.threshold && (std::isnan(*options.threshold) || *options.threshold < 0)) {
    throw std::invalid_argument(
        fmt::format("threshold must be a non-negative number, got {}", *options.threshold));
  }
  if (options.n_threads == 0) {
    throw std::invalid_argument("n_threads must be at least 1");
  }
  check_index_range(vertex_count(input), options.maxdim, options.modulus);
}

void check_index_range(std::size_t n, int maxdim, std::uint64_t modulus) {
  if (modulus != 2) {
    (void)PrimeField(modulus);  // throws for a non-prime
  }
  const unsigned bits = modulus == 2 ? 0U : static_cast<unsigned>(std::bit_width(modulus - 1));
  const int top = std::min<int>(maxdim, static_cast<int>(n) - 1);
  (void)Binomials(n, top + 2, index_limit(bits));
}

Estimate estimate_rips(const RipsInput& input, const RipsOptions& options) {
  validate(input, options);
  const value_t threshold = effective_threshold(input, options);
  const std::size_t n = vertex_count(input);
  std::vector<std::vector<std::uint32_t>> adjacency(n);
  double distance_bytes = 0;
  std::visit(
      [&](const auto& d) {
        using D = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<D, SparseDistances>) {
          distance_bytes = static_cast<double>(d.edge_count() * 2 * sizeof(Neighbor) + n * 8);
          for (std::size_t v = 0; v < n; ++v) {
            for (const Neighbor& nb : d.neighbors(v)) {
              if (nb.distance <= threshold) {
                adjacency[v].push_back(nb.vertex);
              }
            }
          }
        } else {
          distance_bytes = static_cast<double>(d.lower_triangle().size() * sizeof(value_t));
          for (std::size_t i = 1; i < n; ++i) {
            for (std::size_t j = 0; j < i; ++j) {
              if (d(i, j) <= threshold) {
                adjacency[i].push_back(static_cast<std::uint32_t>(j));
                adjacency[j].push_back(static_cast<std::uint32_t>(i));
              }
            }
          }
        }
      },
      input);
  Estimate estimate;
  estimate.simplices = clique_bounds(adjacency, options.maxdim + 1);
  const auto count = [&](int k) {
    return k >= 0 && k < static_cast<int>(estimate.simplices.size())
               ? estimate.simplices[static_cast<std::size_t>(k)]
               : 0.0;
  };
  const double entry = sizeof(Entry);
  // Peak: the simplices and columns of the top dimension, the pivot table of the dimension
  // below it (two slots per pair at most half full), and the sorted edges of dimension 0.
  const int top = options.maxdim;
  const double reduction = entry * (count(top) + count(top - 1)) + 2 * 16.0 * count(top);
  estimate.bytes = distance_bytes + std::max(entry * count(1) * 2, reduction);
  return estimate;
}

PersistenceResult vietoris_rips(const RipsInput& input, const RipsOptions& options,
                                const Control& control) {
  validate(input, options);
  if (control.memory_budget_bytes != 0) {
    const Estimate estimate = estimate_rips(input, options);
    if (estimate.bytes > static_cast<double>(control.memory_budget_bytes)) {
      throw ResourceError(fmt::format(
          "the computation needs an estimated {:.0f} MB, more than the budget of {} MB; "
          "lower maxdim, lower the threshold or use fewer points",
          estimate.bytes / 1e6, control.memory_budget_bytes / 1000000));
    }
  }
  const value_t threshold = effective_threshold(input, options);
  if (const auto* dense = std::get_if<DenseDistances>(&input);
      dense != nullptr && options.threshold && *options.threshold < enclosing_radius(*dense)) {
    // Below the enclosing radius most pairs are absent: neighbour lists beat the full matrix.
    return vietoris_rips(RipsInput(sparsify(*dense, threshold)), options, control);
  }
  return std::visit(
      [&](const auto& distances) {
        using D = std::decay_t<decltype(distances)>;
        if (options.modulus == 2) {
          return RipsPersistence<D, BinaryField>(distances, options, control, threshold, {})
              .compute();
        }
        return RipsPersistence<D, OddPrimeField>(distances, options, control, threshold,
                                                 OddPrimeField(options.modulus))
            .compute();
      },
      input);
}

}  // namespace tda
