// Distances between the vertices of a Vietoris–Rips filtration: dense (a compressed lower
// triangle) or sparse (a neighbour structure holding only the edges within a threshold).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "tda/diagram.hpp"

namespace tda {

enum class Metric { euclidean, manhattan, chebyshev, cosine };

// Parses "euclidean", "manhattan", "chebyshev" or "cosine"; throws std::invalid_argument otherwise.
[[nodiscard]] Metric parse_metric(std::string_view name);

// All pairwise distances; d(i, j) for i > j lives at i * (i - 1) / 2 + j.
class DenseDistances {
 public:
  DenseDistances() = default;
  // Takes the lower triangle row by row (d(1,0), d(2,0), d(2,1), ...); validates that every
  // entry is finite and non-negative and that the length is a triangular number.
  explicit DenseDistances(std::vector<value_t> lower_triangle);

  [[nodiscard]] std::size_t size() const noexcept { return n_; }
  [[nodiscard]] value_t operator()(std::size_t i, std::size_t j) const noexcept {
    if (i == j) {
      return 0;
    }
    if (i < j) {
      std::swap(i, j);
    }
    return lower_[i * (i - 1) / 2 + j];
  }
  [[nodiscard]] const std::vector<value_t>& lower_triangle() const noexcept { return lower_; }

 private:
  std::vector<value_t> lower_;
  std::size_t n_ = 0;
};

struct Neighbor {
  std::uint32_t vertex;
  value_t distance;
};

// Symmetric neighbour lists in compressed-row form, each sorted by vertex.
class SparseDistances {
 public:
  struct Edge {
    std::size_t i;
    std::size_t j;
    value_t distance;
  };
  SparseDistances() = default;
  // Builds from undirected edges on n vertices; an edge given twice must have one value,
  // self-loops are ignored, missing edges mean +inf. Validates finiteness and sign.
  SparseDistances(std::size_t n, std::span<const Edge> edges);

  [[nodiscard]] std::size_t size() const noexcept {
    return offsets_.empty() ? 0 : offsets_.size() - 1;
  }
  [[nodiscard]] std::span<const Neighbor> neighbors(std::size_t v) const noexcept {
    return {neighbors_.data() + offsets_[v], offsets_[v + 1] - offsets_[v]};
  }
  // +inf when i and j are not adjacent; 0 when i == j.
  [[nodiscard]] value_t operator()(std::size_t i, std::size_t j) const noexcept;
  [[nodiscard]] std::size_t edge_count() const noexcept { return neighbors_.size() / 2; }

 private:
  std::vector<std::size_t> offsets_;
  std::vector<Neighbor> neighbors_;
};

template <class D>
concept DistanceMatrix = requires(const D& d, std::size_t i) {
  { d.size() } -> std::convertible_to<std::size_t>;
  { d(i, i) } -> std::convertible_to<value_t>;
};

// A point cloud: n rows of `dim` coordinates, row-major. Throws std::invalid_argument on an
// empty cloud, zero dimension or a non-finite coordinate (naming row and column).
struct PointCloud {
  std::span<const double> coordinates;
  std::size_t n = 0;
  std::size_t dim = 0;
  void validate() const;
};

[[nodiscard]] DenseDistances dense_distances(const PointCloud& points, Metric metric,
                                             unsigned n_threads = 1);
// Only the pairs at distance <= threshold.
[[nodiscard]] SparseDistances sparse_distances(const PointCloud& points, Metric metric,
                                               value_t threshold, unsigned n_threads = 1);
[[nodiscard]] SparseDistances sparsify(const DenseDistances& distances, value_t threshold);

// The smallest radius at which some vertex is within distance of all others; above it the
// Vietoris–Rips complex is a cone, so no finite interval dies later.
[[nodiscard]] value_t enclosing_radius(const DenseDistances& distances);

}  // namespace tda
