// Alpha-complex persistence: validate, deduplicate, triangulate in the affine hull of the
// points, then compute persistence of the filtered Delaunay complex.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "alpha_internal.hpp"
#include "tda/alpha.hpp"
#include "tda/field.hpp"

namespace tda {

namespace {

using alpha_detail::index_t;

void validate(const double* points, std::size_t n, std::size_t dim, const AlphaOptions& options) {
  if (n == 0) {
    throw std::invalid_argument("alpha complex needs at least one point, got none");
  }
  if (dim == 0) {
    throw std::invalid_argument("points must have at least one coordinate (dimension 0 given)");
  }
  if (points == nullptr) {
    throw std::invalid_argument("points array is null");
  }
  if (n >= alpha_detail::kNone / 2) {
    throw ResourceError("too many points for 32-bit simplex indices: " + std::to_string(n));
  }
  if (options.maxdim < -1) {
    throw std::invalid_argument("maxdim must be -1 (all) or >= 0, got " +
                                std::to_string(options.maxdim));
  }
  if (options.modulus >= (std::uint64_t{1} << 31U) || !is_prime(options.modulus)) {
    throw std::invalid_argument("modulus must be a prime below 2^31, got " +
                                std::to_string(options.modulus));
  }
  for (std::size_t i = 0; i < n * dim; ++i) {
    if (!std::isfinite(points[i])) {
      throw std::invalid_argument("point " + std::to_string(i / dim) +
                                  " has a non-finite coordinate (" + std::to_string(points[i]) +
                                  " at index " + std::to_string(i % dim) + ")");
    }
  }
}

// Mean counts per point of k-simplices of the Delaunay triangulation of a uniform sample in R^d
// (exact for d <= 3 as n grows; rough above, from the expected number of cells per point).
std::vector<double> simplices_per_point(std::size_t d) {
  switch (d) {
    case 1:
      return {1, 1};
    case 2:
      return {1, 3, 2};
    case 3:
      return {1, 7.77, 13.54, 6.77};
    default:
      break;
  }
  // Top cells per point grow roughly 6x-8x per dimension (31.8 in 4D, 198 in 5D); each
  // (d-1)-face bounds two cells; lower faces interpolate geometrically down to the edges.
  double top = 31.8;
  for (std::size_t k = 4; k < d; ++k) {
    top *= 6.0 + static_cast<double>(k - 4);
  }
  std::vector<double> counts(d + 1);
  counts[0] = 1;
  counts[d] = top;
  counts[d - 1] = top * static_cast<double>(d + 1) / 2;
  const double edges = 4.5 * static_cast<double>(d * d) / 2;
  counts[1] = edges;
  for (std::size_t k = 2; k + 1 < d; ++k) {
    const double t = static_cast<double>(k - 1) / static_cast<double>(d - 2);
    counts[k] = edges * std::pow(counts[d - 1] / edges, t);
  }
  return counts;
}

// A run of duplicates keeps the smallest input index as its representative.
struct DistinctPoints {
  std::vector<double> coordinates;
  std::vector<vertex_t> original_index;
};

DistinctPoints deduplicate(const double* points, std::size_t n, std::size_t dim) {
  std::vector<index_t> order(n);
  std::iota(order.begin(), order.end(), index_t{0});
  const auto row = [&](index_t i) { return points + std::size_t{i} * dim; };
  std::sort(order.begin(), order.end(), [&](index_t a, index_t b) {
    const double* pa = row(a);
    const double* pb = row(b);
    for (std::size_t c = 0; c < dim; ++c) {
      if (pa[c] != pb[c]) {
        return pa[c] < pb[c];
      }
    }
    return a < b;
  });
  DistinctPoints distinct;
  distinct.coordinates.reserve(n * dim);
  distinct.original_index.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0 && std::equal(row(order[i]), row(order[i]) + dim, row(order[i - 1]))) {
      continue;
    }
    distinct.coordinates.insert(distinct.coordinates.end(), row(order[i]), row(order[i]) + dim);
    distinct.original_index.push_back(order[i]);
  }
  return distinct;
}

// Coordinates of the points in an orthonormal frame of the affine hull spanned by `frame`.
std::vector<double> hull_coordinates(const std::vector<double>& points, std::size_t dim,
                                     const std::vector<index_t>& frame) {
  const std::size_t k = frame.size() - 1;
  const double* origin = &points[std::size_t{frame[0]} * dim];
  std::vector<double> basis(k * dim);
  for (std::size_t i = 0; i < k; ++i) {
    double* v = &basis[i * dim];
    for (std::size_t c = 0; c < dim; ++c) {
      v[c] = points[std::size_t{frame[i + 1]} * dim + c] - origin[c];
    }
    // Two passes of Gram-Schmidt keep the frame orthonormal to rounding.
    for (int pass = 0; pass < 2; ++pass) {
      for (std::size_t j = 0; j < i; ++j) {
        const double* q = &basis[j * dim];
        double dot = 0;
        for (std::size_t c = 0; c < dim; ++c) {
          dot += q[c] * v[c];
        }
        for (std::size_t c = 0; c < dim; ++c) {
          v[c] -= dot * q[c];
        }
      }
    }
    double norm = 0;
    for (std::size_t c = 0; c < dim; ++c) {
      norm += v[c] * v[c];
    }
    norm = std::sqrt(norm);
    for (std::size_t c = 0; c < dim; ++c) {
      v[c] /= norm;
    }
  }
  const std::size_t n = points.size() / dim;
  std::vector<double> projected(n * k);
  for (std::size_t p = 0; p < n; ++p) {
    for (std::size_t j = 0; j < k; ++j) {
      double dot = 0;
      for (std::size_t c = 0; c < dim; ++c) {
        dot += (points[p * dim + c] - origin[c]) * basis[j * dim + c];
      }
      projected[p * k + j] = dot;
    }
  }
  return projected;
}

alpha_detail::DelaunayFiltration triangulate(const std::vector<double>& points, std::size_t dim,
                                             const Control& control, AlphaStats* stats) {
  const std::size_t n = points.size() / dim;
  alpha_detail::DelaunayFiltration filtration;
  switch (dim) {
    case 1:
      return alpha_detail::delaunay_filtration_1(points.data(), n);
    case 2:
      filtration = alpha_detail::delaunay_filtration_2(points.data(), n, control, stats);
      break;
    case 3:
      filtration = alpha_detail::delaunay_filtration_3(points.data(), n, control, stats);
      break;
    default:
      filtration = alpha_detail::delaunay_filtration_d(points.data(), n, dim, control, stats);
      break;
  }
  if (filtration.hull_frame.empty()) {
    return filtration;
  }
  // The points lie on a flat: their alpha complex is the one of their coordinates in it.
  const std::size_t flat_dim = filtration.hull_frame.size() - 1;
  return triangulate(hull_coordinates(points, dim, filtration.hull_frame), flat_dim, control,
                     stats);
}

void apply_options(PersistenceResult& result, const AlphaOptions& options,
                   const std::vector<vertex_t>& original_index) {
  for (auto& diagram : result.diagrams) {
    for (auto& pair : diagram) {
      if (!options.squared_radius) {
        pair.birth = std::sqrt(pair.birth);
        pair.death = std::sqrt(pair.death);
      }
      for (auto* simplex : {&pair.birth_simplex, &pair.death_simplex}) {
        for (auto& v : *simplex) {
          v = original_index[static_cast<std::size_t>(v)];
        }
        std::sort(simplex->begin(), simplex->end());
      }
    }
  }
}

}  // namespace

Estimate estimate_alpha(const double* points, std::size_t n, std::size_t dim,
                        const AlphaOptions& options) {
  validate(points, n, dim, options);
  const std::vector<double> per_point = simplices_per_point(dim);
  Estimate estimate;
  const auto count = static_cast<double>(n);
  // Bytes per simplex while the complex is built and reduced (values, vertices, order, ranks,
  // reduction columns), measured on uniform samples; the triangulation itself is the peak for
  // small d.
  double bytes = count * static_cast<double>(dim) * 8 * 3;
  for (std::size_t k = 0; k < per_point.size(); ++k) {
    estimate.simplices.push_back(per_point[k] * count);
    bytes += per_point[k] * count * (48.0 + 4.0 * static_cast<double>(k + 1));
  }
  // Delaunay cells of CGAL's triangulation: vertex and neighbour handles per cell.
  bytes += per_point[dim] * count * (16.0 * static_cast<double>(dim + 1) + 16.0);
  estimate.bytes = bytes;
  return estimate;
}

PersistenceResult alpha_complex(const double* points, std::size_t n, std::size_t dim,
                                const AlphaOptions& options, const Control& control) {
  return alpha_complex(points, n, dim, options, control, nullptr);
}

PersistenceResult alpha_complex(const double* points, std::size_t n, std::size_t dim,
                                const AlphaOptions& options, const Control& control,
                                AlphaStats* stats) {
  const Estimate estimate = estimate_alpha(points, n, dim, options);
  if (control.memory_budget_bytes != 0 &&
      estimate.bytes > static_cast<double>(control.memory_budget_bytes)) {
    throw ResourceError("alpha complex of " + std::to_string(n) + " points in dimension " +
                        std::to_string(dim) + " needs about " +
                        std::to_string(static_cast<long long>(estimate.bytes / 1e6)) +
                        " MB, above the memory budget of " +
                        std::to_string(control.memory_budget_bytes / 1000000) + " MB");
  }
  control.check_cancelled();
  alpha_detail::StageClock clock;
  // Dimensions d and above are empty but listed when asked for.
  const int maxdim = options.maxdim < 0 ? static_cast<int>(dim) - 1 : options.maxdim;
  const DistinctPoints distinct = deduplicate(points, n, dim);
  const std::size_t distinct_count = distinct.original_index.size();
  if (stats != nullptr) {
    *stats = AlphaStats{};
    stats->distinct_points = distinct_count;
    stats->triangulation_seconds = clock.lap();
  }

  PersistenceResult result;
  result.diagrams.resize(static_cast<std::size_t>(maxdim) + 1);
  if (distinct_count == 1) {
    PersistencePair pair;
    pair.birth = 0;
    if (options.representatives) {
      pair.birth_simplex = {distinct.original_index[0]};
    }
    result.diagrams[0].push_back(std::move(pair));
    control.report(1.0);
    return result;
  }

  const alpha_detail::DelaunayFiltration filtration =
      triangulate(distinct.coordinates, dim, control, stats);
  if (stats != nullptr) {
    stats->affine_dimension = filtration.top;
    stats->simplices.assign(static_cast<std::size_t>(filtration.top) + 1, 0);
    stats->simplices[0] = filtration.vertex_count;
    for (int k = 1; k <= filtration.top; ++k) {
      stats->simplices[static_cast<std::size_t>(k)] =
          filtration.layers[static_cast<std::size_t>(k)].size();
    }
    stats->exact_radii = alpha_detail::take_exact_radius_count();
  }
  PersistenceResult computed = alpha_detail::filtration_persistence(
      filtration, maxdim, options.modulus, options.representatives, control, stats);
  for (std::size_t k = 0; k < computed.diagrams.size() && k < result.diagrams.size(); ++k) {
    result.diagrams[k] = std::move(computed.diagrams[k]);
  }
  apply_options(result, options, distinct.original_index);
  control.report(1.0);
  return result;
}

}  // namespace tda
