#include "tda/distance.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/core.h>

namespace tda {

Metric parse_metric(std::string_view name) {
  if (name == "euclidean") {
    return Metric::euclidean;
  }
  if (name == "manhattan") {
    return Metric::manhattan;
  }
  if (name == "chebyshev") {
    return Metric::chebyshev;
  }
  if (name == "cosine") {
    return Metric::cosine;
  }
  throw std::invalid_argument(
      fmt::format("unknown metric '{}': expected euclidean, manhattan, chebyshev or cosine", name));
}

namespace {

void check_distance(value_t d, std::size_t i, std::size_t j) {
  if (!std::isfinite(d)) {
    throw std::invalid_argument(
        fmt::format("distance between {} and {} is not a finite number ({})", i, j, d));
  }
  if (d < 0) {
    throw std::invalid_argument(
        fmt::format("distance between {} and {} is negative ({})", i, j, d));
  }
}

std::size_t triangular_root(std::size_t length) {
  // n (n - 1) / 2 == length
  auto n = static_cast<std::size_t>((1 + std::sqrt(1 + 8.0 * static_cast<double>(length))) / 2);
  while (n * (n - 1) / 2 > length) {
    --n;
  }
  while ((n + 1) * n / 2 <= length) {
    ++n;
  }
  return n;
}

// Runs body(begin, end) over [0, count) split into n_threads contiguous chunks.
template <class Body>
void parallel_chunks(std::size_t count, unsigned n_threads, Body body) {
  if (n_threads <= 1 || count < 64) {
    body(std::size_t{0}, count);
    return;
  }
  std::vector<std::jthread> workers;
  const std::size_t chunk = (count + n_threads - 1) / n_threads;
  for (std::size_t begin = 0; begin < count; begin += chunk) {
    workers.emplace_back(
        [&body, begin, end = std::min(count, begin + chunk)] { body(begin, end); });
  }
}

class MetricFunction {
 public:
  MetricFunction(const PointCloud& points, Metric metric) : points_(points), metric_(metric) {
    if (metric == Metric::cosine) {
      norms_.resize(points.n);
      for (std::size_t i = 0; i < points.n; ++i) {
        double s = 0;
        for (double x : row(i)) {
          s += x * x;
        }
        if (s == 0) {
          throw std::invalid_argument(
              fmt::format("point {} is zero: the cosine distance is undefined for it", i));
        }
        norms_[i] = std::sqrt(s);
      }
    }
  }

 private:
  // f.template operator()<M>() for this metric M: the one place the metric is switched on.
  template <class F>
  decltype(auto) with_metric(F&& f) const {
    switch (metric_) {
      case Metric::euclidean:
        return f.template operator()<Metric::euclidean>();
      case Metric::manhattan:
        return f.template operator()<Metric::manhattan>();
      case Metric::chebyshev:
        return f.template operator()<Metric::chebyshev>();
      case Metric::cosine:
        return f.template operator()<Metric::cosine>();
    }
    std::unreachable();
  }

 public:
  [[nodiscard]] value_t operator()(std::size_t i, std::size_t j) const noexcept {
    return with_metric([&]<Metric M>() { return of<M>(i, j); });
  }

  // Row i of a lower triangle: the distances from point i to points 0 .. i-1, the metric chosen
  // once for the row rather than once per pair.
  void fill_row(std::size_t i, value_t* out) const noexcept {
    with_metric([&]<Metric M>() { fill_row<M>(i, out); });
  }

 private:
  // Points of 2 and 3 coordinates (the common cases) get loops of known length.
  template <Metric M>
  void fill_row(std::size_t i, value_t* out) const noexcept {
    const auto fill = [&]<std::size_t D>() {
      for (std::size_t j = 0; j < i; ++j) {
        out[j] = of<M, D>(i, j);
      }
    };
    switch (points_.dim) {
      case 2:
        return fill.template operator()<2>();
      case 3:
        return fill.template operator()<3>();
      default:
        return fill.template operator()<0>();
    }
  }

  // D: the number of coordinates when known at compile time, else 0.
  template <Metric M, std::size_t D = 0>
  [[nodiscard]] value_t of(std::size_t i, std::size_t j) const noexcept {
    const std::size_t dim = D == 0 ? points_.dim : D;
    const double* a = points_.coordinates.data() + i * dim;
    const double* b = points_.coordinates.data() + j * dim;
    double acc = 0;
    if constexpr (M == Metric::euclidean) {
      for (std::size_t k = 0; k < dim; ++k) {
        const double t = a[k] - b[k];
        acc += t * t;
      }
      return std::sqrt(acc);
    } else if constexpr (M == Metric::manhattan) {
      for (std::size_t k = 0; k < dim; ++k) {
        acc += std::abs(a[k] - b[k]);
      }
      return acc;
    } else if constexpr (M == Metric::chebyshev) {
      for (std::size_t k = 0; k < dim; ++k) {
        acc = std::max(acc, std::abs(a[k] - b[k]));
      }
      return acc;
    } else {
      for (std::size_t k = 0; k < dim; ++k) {
        acc += a[k] * b[k];
      }
      // Rounding can push the similarity of parallel vectors past 1.
      return std::max(0.0, 1.0 - acc / (norms_[i] * norms_[j]));
    }
  }

 public:
 private:
  [[nodiscard]] std::span<const double> row(std::size_t i) const noexcept {
    return points_.coordinates.subspan(i * points_.dim, points_.dim);
  }
  const PointCloud& points_;
  Metric metric_;
  std::vector<double> norms_;
};

}  // namespace

DenseDistances::DenseDistances(std::vector<value_t> lower_triangle)
    : lower_(std::move(lower_triangle)), n_(triangular_root(lower_.size())) {
  if (n_ * (n_ - 1) / 2 != lower_.size()) {
    throw std::invalid_argument(fmt::format(
        "a lower-triangular distance matrix needs n(n-1)/2 entries; {} is not of that form",
        lower_.size()));
  }
  // One branch-free pass; the entry at fault is looked for only when there is one (NaN fails
  // both comparisons).
  bool valid = true;
  for (const value_t d : lower_) {
    valid &= (d >= 0) & (d <= std::numeric_limits<value_t>::max());
  }
  if (valid) {
    return;
  }
  for (std::size_t i = 1, k = 0; i < n_; ++i) {
    for (std::size_t j = 0; j < i; ++j, ++k) {
      check_distance(lower_[k], i, j);
    }
  }
}

SparseDistances::SparseDistances(std::size_t n, std::span<const Edge> edges) {
  if (n >= (std::size_t{1} << 32U)) {
    throw std::invalid_argument("too many vertices for a sparse distance matrix");
  }
  std::vector<std::size_t> degree(n + 1, 0);
  for (const Edge& e : edges) {
    if (e.i >= n || e.j >= n) {
      throw std::invalid_argument(
          fmt::format("edge ({}, {}) names a vertex outside 0..{}", e.i, e.j, n == 0 ? 0 : n - 1));
    }
    check_distance(e.distance, e.i, e.j);
    if (e.i != e.j) {
      ++degree[e.i];
      ++degree[e.j];
    }
  }
  offsets_.assign(n + 1, 0);
  for (std::size_t v = 0; v < n; ++v) {
    offsets_[v + 1] = offsets_[v] + degree[v];
  }
  neighbors_.resize(offsets_[n]);
  std::vector<std::size_t> fill(offsets_.begin(), offsets_.end() - 1);
  for (const Edge& e : edges) {
    if (e.i != e.j) {
      neighbors_[fill[e.i]++] = {static_cast<std::uint32_t>(e.j), e.distance};
      neighbors_[fill[e.j]++] = {static_cast<std::uint32_t>(e.i), e.distance};
    }
  }
  // Sort each list and merge duplicates, keeping the smaller distance.
  std::size_t out = 0;
  std::vector<std::size_t> new_offsets(n + 1, 0);
  for (std::size_t v = 0; v < n; ++v) {
    auto first = neighbors_.begin() + static_cast<std::ptrdiff_t>(offsets_[v]);
    auto last = neighbors_.begin() + static_cast<std::ptrdiff_t>(offsets_[v + 1]);
    std::sort(first, last, [](const Neighbor& a, const Neighbor& b) {
      return a.vertex < b.vertex || (a.vertex == b.vertex && a.distance < b.distance);
    });
    for (auto it = first; it != last; ++it) {
      if (out > new_offsets[v] && neighbors_[out - 1].vertex == it->vertex) {
        if (neighbors_[out - 1].distance != it->distance) {
          throw std::invalid_argument(fmt::format(
              "the sparse distance matrix is not symmetric: entries ({}, {}) disagree ({} and {})",
              v, it->vertex, neighbors_[out - 1].distance, it->distance));
        }
        continue;
      }
      neighbors_[out++] = *it;
    }
    new_offsets[v + 1] = out;
  }
  neighbors_.resize(out);
  neighbors_.shrink_to_fit();
  offsets_ = std::move(new_offsets);
}

value_t SparseDistances::operator()(std::size_t i, std::size_t j) const noexcept {
  if (i == j) {
    return 0;
  }
  const auto list = neighbors(i);
  const auto it = std::lower_bound(list.begin(), list.end(), j,
                                   [](const Neighbor& a, std::size_t v) { return a.vertex < v; });
  return it != list.end() && it->vertex == j ? it->distance : kInfinity;
}

void PointCloud::validate() const {
  if (n == 0) {
    throw std::invalid_argument("the point cloud is empty");
  }
  if (dim == 0) {
    throw std::invalid_argument("points have no coordinates (dimension 0)");
  }
  if (coordinates.size() != n * dim) {
    throw std::invalid_argument("coordinate count does not match n * dim");
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < dim; ++k) {
      if (!std::isfinite(coordinates[i * dim + k])) {
        throw std::invalid_argument(
            fmt::format("coordinate {} of point {} is not a finite number ({})", k, i,
                        coordinates[i * dim + k]));
      }
    }
  }
}

DenseDistances dense_distances(const PointCloud& points, Metric metric, unsigned n_threads) {
  points.validate();
  const MetricFunction distance(points, metric);
  std::vector<value_t> lower(points.n * (points.n - 1) / 2);
  parallel_chunks(points.n, n_threads, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = std::max<std::size_t>(begin, 1); i < end; ++i) {
      distance.fill_row(i, lower.data() + i * (i - 1) / 2);
    }
  });
  return DenseDistances(std::move(lower));
}

SparseDistances sparse_distances(const PointCloud& points, Metric metric, value_t threshold,
                                 unsigned n_threads) {
  points.validate();
  const MetricFunction distance(points, metric);
  const unsigned threads = std::max(1U, n_threads);
  std::vector<std::vector<SparseDistances::Edge>> found(threads);
  const std::size_t chunk = (points.n + threads - 1) / threads;
  parallel_chunks(points.n, threads, [&](std::size_t begin, std::size_t end) {
    auto& edges = found[begin / chunk];
    for (std::size_t i = begin; i < end; ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        const value_t d = distance(i, j);
        if (d <= threshold) {
          edges.push_back({i, j, d});
        }
      }
    }
  });
  std::vector<SparseDistances::Edge> edges;
  for (auto& part : found) {
    edges.insert(edges.end(), part.begin(), part.end());
    part = {};
  }
  return {points.n, edges};
}

SparseDistances sparsify(const DenseDistances& distances, value_t threshold) {
  std::vector<SparseDistances::Edge> edges;
  for (std::size_t i = 1; i < distances.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const value_t d = distances(i, j);
      if (d <= threshold) {
        edges.push_back({i, j, d});
      }
    }
  }
  return {distances.size(), edges};
}

value_t enclosing_radius(const DenseDistances& distances) {
  // The largest distance from each point, in one pass over the lower triangle.
  std::vector<value_t> farthest(distances.size(), 0);
  const value_t* d = distances.lower_triangle().data();
  for (std::size_t i = 1; i < distances.size(); ++i) {
    value_t row_max = 0;
    for (std::size_t j = 0; j < i; ++j, ++d) {
      row_max = std::max(row_max, *d);
      farthest[j] = std::max(farthest[j], *d);
    }
    farthest[i] = row_max;
  }
  value_t radius = kInfinity;
  for (const value_t f : farthest) {
    radius = std::min(radius, f);
  }
  return radius;
}

}  // namespace tda
