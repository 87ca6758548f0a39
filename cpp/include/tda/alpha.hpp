// Persistent homology of the alpha filtration of a point cloud in R^d.
//
// The alpha complex is the Delaunay triangulation filtered by the squared radius of each
// simplex's smallest empty circumsphere (GUDHI's convention): a simplex whose smallest
// circumsphere contains another point of one of its cofaces ("attached") enters with its
// earliest coface. Its persistence equals that of the growing union of balls around the points.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tda/diagram.hpp"

namespace tda {

struct AlphaOptions {
  // Highest homology dimension reported; -1 reports dimensions 0..d-1 (higher ones are empty).
  int maxdim = -1;
  // true: filtration values are squared radii (GUDHI's convention); false: radii.
  bool squared_radius = true;
  // Prime p of the coefficient field Z/p.
  std::uint64_t modulus = 2;
  // Fill birth_simplex / death_simplex of each pair with input point indices.
  bool representatives = false;
};

// Where one computation spent its time and what it built, for benchmarks and diagnostics.
struct AlphaStats {
  double triangulation_seconds = 0;  // deduplication and Delaunay triangulation
  double filtration_seconds = 0;     // alpha values and face enumeration
  double sort_seconds = 0;           // ordering each dimension by (value, vertices)
  double reduction_seconds = 0;      // union-find and boundary-matrix reduction
  std::size_t distinct_points = 0;
  int affine_dimension = 0;            // dimension of the points' affine hull
  std::vector<std::size_t> simplices;  // simplices[k]: k-simplices of the Delaunay complex
  std::size_t exact_radii = 0;         // circumradii recomputed in exact arithmetic
};

// Expected simplex counts per dimension and peak memory for n points in R^dim (in general
// position; uniform samples come close). Throws std::invalid_argument as alpha_complex does.
[[nodiscard]] Estimate estimate_alpha(const double* points, std::size_t n, std::size_t dim,
                                      const AlphaOptions& options);

// Persistence diagrams of the alpha filtration of the n points (row-major n x dim array).
// Pairs of zero persistence are omitted; the single essential class is in dimension 0.
// Duplicate points, co-spherical or lower-dimensional configurations are handled exactly.
// Throws std::invalid_argument on bad input (no points, dim 0, NaN or infinite coordinates,
// a modulus that is not a prime), ResourceError when the estimate exceeds
// control.memory_budget_bytes, Cancelled when control.cancel is raised.
[[nodiscard]] PersistenceResult alpha_complex(const double* points, std::size_t n, std::size_t dim,
                                              const AlphaOptions& options,
                                              const Control& control = {});
// The same, recording the time split and sizes in *stats.
[[nodiscard]] PersistenceResult alpha_complex(const double* points, std::size_t n, std::size_t dim,
                                              const AlphaOptions& options, const Control& control,
                                              AlphaStats* stats);

}  // namespace tda
