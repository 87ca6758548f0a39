// Persistence of a filtered Delaunay complex of full dimension T, from the top down so that each
// step clears the next:
//   dimension T-1 by union-find on the dual graph (top cells and the outside, joined by their
//     common facets in decreasing order: Alexander duality), which also marks the positive
//     (T-1)-simplices;
//   dimensions T-2 .. 1 by reducing the boundary matrix of the next dimension over Z/p with
//     clearing (positive columns skipped) and, for edges, compression (rows of edges that merge
//     components never hold a pivot and are dropped);
//   dimension 0 by union-find on the edges (Kruskal), computed first for the compression.
// Each dimension is ordered by (value, vertex list); dimensions never share a matrix axis, so
// the order across dimensions only has to put faces first, which monotone values guarantee.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "alpha_internal.hpp"
#include "tda/field.hpp"

namespace tda::alpha_detail {

namespace {

// Position of each simplex of one dimension in the filtration, and its inverse.
struct LayerOrder {
  std::vector<index_t> simplex_at;  // rank -> simplex
  std::vector<index_t> rank_of;     // simplex -> rank
  std::vector<double> value_at;     // rank -> value
};

LayerOrder order_layer(const SimplexLayer& layer, const Control& control) {
  struct Key {
    std::uint64_t bits;  // a non-negative double orders as its bit pattern
    index_t simplex;
  };
  const std::size_t size = layer.size();
  std::vector<Key> keys(size);
  std::vector<Key> scratch(size);
  for (std::size_t i = 0; i < size; ++i) {
    keys[i] = {std::bit_cast<std::uint64_t>(layer.values[i]), static_cast<index_t>(i)};
  }
  // Least-significant-digit radix sort, 11 bits a pass; passes where every key has the same
  // digit (the exponent bits of a narrow range of values) are skipped.
  constexpr unsigned digit_bits = 11;
  constexpr std::size_t buckets = std::size_t{1} << digit_bits;
  std::vector<std::size_t> counts(buckets);
  for (unsigned shift = 0; shift < 64; shift += digit_bits) {
    control.check_cancelled();
    std::fill(counts.begin(), counts.end(), 0);
    for (const Key& key : keys) {
      ++counts[(key.bits >> shift) & (buckets - 1)];
    }
    if (size == 0 || counts[(keys[0].bits >> shift) & (buckets - 1)] == size) {
      continue;
    }
    std::size_t total = 0;
    for (auto& count : counts) {
      total += std::exchange(count, total);
    }
    for (const Key& key : keys) {
      scratch[counts[(key.bits >> shift) & (buckets - 1)]++] = key;
    }
    keys.swap(scratch);
  }
  // Equal values are ordered by vertex list, independently of how the simplices were found.
  const auto lexicographic = [&](const Key& a, const Key& b) {
    const auto va = layer.simplex(a.simplex);
    const auto vb = layer.simplex(b.simplex);
    return std::lexicographical_compare(va.begin(), va.end(), vb.begin(), vb.end());
  };
  for (std::size_t first = 0; first < size;) {
    std::size_t last = first + 1;
    while (last < size && keys[last].bits == keys[first].bits) {
      ++last;
    }
    if (last - first > 1) {
      std::sort(keys.begin() + static_cast<std::ptrdiff_t>(first),
                keys.begin() + static_cast<std::ptrdiff_t>(last), lexicographic);
    }
    first = last;
  }
  LayerOrder order;
  order.simplex_at.resize(size);
  order.rank_of.resize(size);
  order.value_at.resize(size);
  for (std::size_t r = 0; r < size; ++r) {
    order.simplex_at[r] = keys[r].simplex;
    order.rank_of[keys[r].simplex] = static_cast<index_t>(r);
    order.value_at[r] = std::bit_cast<double>(keys[r].bits);
  }
  return order;
}

class UnionFind {
 public:
  explicit UnionFind(std::size_t size) : parent_(size) {
    std::iota(parent_.begin(), parent_.end(), index_t{0});
  }
  index_t find(index_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  void attach(index_t child_root, index_t parent_root) { parent_[child_root] = parent_root; }

 private:
  std::vector<index_t> parent_;
};

class PairCollector {
 public:
  PairCollector(const DelaunayFiltration& filtration, const std::vector<LayerOrder>& orders,
                bool representatives)
      : filtration_(filtration), orders_(orders), representatives_(representatives) {}

  // Records [birth, death) unless it has zero persistence. Simplices are given by rank in
  // their dimension, vertices (birth_dim 0) by index.
  void add(std::vector<PersistencePair>& diagram, int birth_dim, index_t birth, index_t death) {
    const double birth_value = value(birth_dim, birth);
    const double death_value = death == kNone ? kInfinity : value(birth_dim + 1, death);
    if (!(birth_value < death_value)) {
      return;
    }
    PersistencePair pair;
    pair.birth = birth_value;
    pair.death = death_value;
    if (representatives_) {
      pair.birth_simplex = vertices(birth_dim, birth);
      if (death != kNone) {
        pair.death_simplex = vertices(birth_dim + 1, death);
      }
    }
    diagram.push_back(std::move(pair));
  }

 private:
  [[nodiscard]] double value(int dim, index_t rank) const {
    return dim == 0 ? 0.0 : orders_[static_cast<std::size_t>(dim)].value_at[rank];
  }
  [[nodiscard]] std::vector<vertex_t> vertices(int dim, index_t rank) const {
    const index_t simplex =
        dim == 0 ? rank : orders_[static_cast<std::size_t>(dim)].simplex_at[rank];
    const auto& labels = filtration_.vertex_labels;
    const auto label = [&](index_t v) {
      return static_cast<vertex_t>(labels.empty() ? v : labels[v]);
    };
    if (dim == 0) {
      return {label(simplex)};
    }
    std::vector<vertex_t> out;
    for (const index_t v : filtration_.layers[static_cast<std::size_t>(dim)].simplex(simplex)) {
      out.push_back(label(v));
    }
    return out;
  }

  const DelaunayFiltration& filtration_;
  const std::vector<LayerOrder>& orders_;
  bool representatives_;
};

// Dimension 0: Kruskal with the elder rule (all vertices are born at 0; the smaller index is
// older). Returns which edges (by rank) merged two components.
std::vector<std::uint8_t> vertex_pairs(const DelaunayFiltration& filtration,
                                       const LayerOrder& edge_order, PairCollector& pairs,
                                       std::vector<PersistencePair>& diagram) {
  const SimplexLayer& edges = filtration.layers[1];
  UnionFind components(filtration.vertex_count);
  std::vector<std::uint8_t> merging(edges.size(), 0);
  // The root of a component is its oldest vertex: attaching the younger root keeps it so.
  for (std::size_t r = 0; r < merging.size(); ++r) {
    const std::size_t e = edge_order.simplex_at[r];
    const index_t u = components.find(edges.vertices[2 * e]);
    const index_t v = components.find(edges.vertices[2 * e + 1]);
    if (u == v) {
      continue;
    }
    const auto [older, younger] = std::minmax(u, v);
    pairs.add(diagram, 0, younger, static_cast<index_t>(r));
    components.attach(younger, older);
    merging[r] = 1;
  }
  pairs.add(diagram, 0, components.find(0), kNone);
  return merging;
}

// Dimension T-1 by duality: in decreasing order, a facet joining two components of the dual
// graph creates a (T-1)-class that the youngest top cell of the younger component kills. Nodes
// are the cells' ranks and the outside (above every rank); the root of a component is its
// youngest node, so attaching the smaller root under the larger keeps the elder rule.
std::vector<std::uint8_t> top_pairs(const DelaunayFiltration& filtration,
                                    const LayerOrder& facet_order, const LayerOrder& cell_order,
                                    PairCollector& pairs, std::vector<PersistencePair>& diagram,
                                    const Control& control) {
  const int top = filtration.top;
  const std::size_t facet_count = facet_order.simplex_at.size();
  const auto outside = static_cast<index_t>(cell_order.simplex_at.size());
  // Cofaces of each facet as cell ranks, in facet rank order, so that the union-find below
  // reads them sequentially. Translating in the builder's (spatially coherent) order first
  // keeps the rank lookups cache friendly; the permutation then moves one pair per facet.
  std::vector<index_t> cofaces(2 * facet_count);
  for (std::size_t i = 0; i < 2 * facet_count; ++i) {
    const index_t cell = filtration.top_cofaces[i];
    cofaces[i] = cell == kNone ? outside : cell_order.rank_of[cell];
  }
  {
    std::vector<index_t> by_rank(2 * facet_count);
    for (std::size_t r = 0; r < facet_count; ++r) {
      const std::size_t f = facet_order.simplex_at[r];
      by_rank[2 * r] = cofaces[2 * f];
      by_rank[2 * r + 1] = cofaces[2 * f + 1];
    }
    cofaces.swap(by_rank);
  }
  UnionFind regions(std::size_t{outside} + 1);
  std::vector<std::uint8_t> positive(facet_count, 0);
  Ticker ticker(control, kSortEnd, kSortEnd + (1 - kSortEnd) / 4, facet_count);
  for (std::size_t r = facet_count; r-- > 0;) {
    const index_t a = regions.find(cofaces[2 * r]);
    const index_t b = regions.find(cofaces[2 * r + 1]);
    ticker.tick();
    if (a == b) {
      continue;
    }
    const auto [younger, elder] = std::minmax(a, b);
    pairs.add(diagram, top - 1, static_cast<index_t>(r), younger);
    regions.attach(younger, elder);
    positive[r] = 1;
  }
  return positive;
}

// Standard column reduction over Z/p; reduced columns are kept (pivot coefficient 1) for the
// columns that later hit their pivot.
class BoundaryReduction {
 public:
  struct Entry {
    index_t row;  // rank of a k-simplex
    coefficient_t coefficient;
  };

  BoundaryReduction(const PrimeField& field, std::size_t row_count)
      : field_(field), column_of_pivot_(row_count, kNone) {}

  // Reduces `column` (sorted by decreasing row); returns its pivot row or kNone.
  index_t reduce(std::vector<Entry>& column) {
    while (!column.empty()) {
      const index_t pivot = column.front().row;
      const index_t owner = column_of_pivot_[pivot];
      if (owner == kNone) {
        break;
      }
      // Stored columns have pivot coefficient 1: subtract coefficient x stored column.
      add_multiple(column, owner, field_.negate(column.front().coefficient));
    }
    if (column.empty()) {
      return kNone;
    }
    const index_t pivot = column.front().row;
    const coefficient_t scale = field_.inverse(column.front().coefficient);
    column_of_pivot_[pivot] = static_cast<index_t>(starts_.size());
    starts_.push_back(pool_.size());
    for (const Entry& entry : column) {
      pool_.push_back({entry.row, field_.multiply(entry.coefficient, scale)});
    }
    ends_.push_back(pool_.size());
    return pivot;
  }

 private:
  void add_multiple(std::vector<Entry>& column, index_t stored, coefficient_t factor) {
    const Entry* other = pool_.data() + starts_[stored];
    const Entry* other_end = pool_.data() + ends_[stored];
    merged_.clear();
    auto mine = column.begin();
    while (mine != column.end() || other != other_end) {
      if (other == other_end || (mine != column.end() && mine->row > other->row)) {
        merged_.push_back(*mine++);
      } else if (mine == column.end() || other->row > mine->row) {
        merged_.push_back({other->row, field_.multiply(other->coefficient, factor)});
        ++other;
      } else {
        const coefficient_t sum =
            field_.add(mine->coefficient, field_.multiply(other->coefficient, factor));
        if (sum != 0) {
          merged_.push_back({mine->row, sum});
        }
        ++mine;
        ++other;
      }
    }
    column.swap(merged_);
  }

  const PrimeField& field_;
  std::vector<index_t> column_of_pivot_;
  std::vector<std::size_t> starts_;
  std::vector<std::size_t> ends_;
  std::vector<Entry> pool_;
  std::vector<Entry> merged_;
};

// Reduces the boundary matrix of the (k+1)-simplices (rows: k-simplices) over Z/p, skipping the
// columns marked in `cleared` and the rows marked in `dropped_rows` (may be empty; both by
// rank). Returns the k-simplices (by rank) found positive, the pivots.
std::vector<std::uint8_t> middle_pairs(
    const DelaunayFiltration& filtration, int k, const std::vector<LayerOrder>& orders,
    const std::vector<std::uint8_t>& cleared, const std::vector<std::uint8_t>& dropped_rows,
    const PrimeField& field, PairCollector& pairs, std::vector<PersistencePair>& diagram,
    const Control& control, double progress_from, double progress_to) {
  const SimplexLayer& columns = filtration.layers[static_cast<std::size_t>(k) + 1];
  const LayerOrder& column_order = orders[static_cast<std::size_t>(k) + 1];
  const LayerOrder& row_order = orders[static_cast<std::size_t>(k)];
  const std::size_t width = static_cast<std::size_t>(k) + 2;
  BoundaryReduction reduction(field, row_order.simplex_at.size());
  std::vector<std::uint8_t> positive(row_order.simplex_at.size(), 0);
  std::vector<BoundaryReduction::Entry> column;
  // Boundaries as row ranks (kNone for dropped rows), translated in the builder's spatially
  // coherent order so that the rank lookups hit the cache.
  std::vector<index_t> boundary_rows(columns.facets.size());
  for (std::size_t i = 0; i < boundary_rows.size(); ++i) {
    const index_t row = row_order.rank_of[columns.facets[i]];
    boundary_rows[i] = (!dropped_rows.empty() && dropped_rows[row] != 0) ? kNone : row;
  }
  Ticker ticker(control, progress_from, progress_to, column_order.simplex_at.size());
  for (std::size_t r = 0; r < cleared.size(); ++r) {
    ticker.tick();
    if (cleared[r] != 0) {
      continue;
    }
    const std::size_t c = column_order.simplex_at[r];
    column.clear();
    for (std::size_t i = 0; i < width; ++i) {
      const index_t row = boundary_rows[c * width + i];
      if (row == kNone) {
        continue;
      }
      // The boundary alternates signs along the sorted vertex list.
      const coefficient_t sign = (i % 2 == 0) ? 1 : field.negate(1);
      column.push_back({row, sign});
    }
    // Insertion sort: a boundary has dim + 2 entries.
    for (std::size_t i = 1; i < column.size(); ++i) {
      for (std::size_t j = i; j > 0 && column[j - 1].row < column[j].row; --j) {
        std::swap(column[j - 1], column[j]);
      }
    }
    const index_t pivot = reduction.reduce(column);
    if (pivot != kNone) {
      positive[pivot] = 1;
      pairs.add(diagram, k, pivot, static_cast<index_t>(r));
    }
  }
  return positive;
}

}  // namespace

PersistenceResult filtration_persistence(const DelaunayFiltration& filtration, int maxdim,
                                         std::uint64_t modulus, bool representatives,
                                         const Control& control, AlphaStats* stats) {
  StageClock clock;
  const PrimeField field(modulus);
  const int top = filtration.top;
  std::vector<LayerOrder> orders(static_cast<std::size_t>(top) + 1);
  for (int k = 1; k <= top; ++k) {
    orders[static_cast<std::size_t>(k)] =
        order_layer(filtration.layers[static_cast<std::size_t>(k)], control);
    control.report(kFiltrationEnd + (kSortEnd - kFiltrationEnd) * k / top);
  }
  if (stats != nullptr) {
    stats->sort_seconds += clock.lap();
  }

  PersistenceResult result;
  result.diagrams.resize(static_cast<std::size_t>(top));
  PairCollector pairs(filtration, orders, representatives);
  const std::vector<std::uint8_t> merging_edges =
      vertex_pairs(filtration, orders[1], pairs, result.diagrams[0]);
  if (top >= 2) {
    std::vector<std::uint8_t> positive =
        top_pairs(filtration, orders[static_cast<std::size_t>(top) - 1],
                  orders[static_cast<std::size_t>(top)], pairs,
                  result.diagrams[static_cast<std::size_t>(top) - 1], control);
    for (int k = top - 2; k >= 1; --k) {
      const double from = kSortEnd + (1 - kSortEnd) / 4;
      const double step = (1 - from) / (top - 2);
      positive = middle_pairs(filtration, k, orders, positive,
                              k == 1 ? merging_edges : std::vector<std::uint8_t>{}, field, pairs,
                              result.diagrams[static_cast<std::size_t>(k)], control,
                              from + step * (top - 2 - k), from + step * (top - 1 - k));
    }
  }
  if (stats != nullptr) {
    stats->reduction_seconds += clock.lap();
  }
  result.diagrams.resize(std::min(result.diagrams.size(), static_cast<std::size_t>(maxdim) + 1));
  return result;
}

}  // namespace tda::alpha_detail
