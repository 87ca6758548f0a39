// Internals of the alpha-complex module shared by its translation units: the filtered Delaunay
// complex handed from the triangulation stage to the persistence stage, and the geometry.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "tda/alpha.hpp"
#include "tda/diagram.hpp"

namespace tda::alpha_detail {

using index_t = std::uint32_t;
inline constexpr index_t kNone = std::numeric_limits<index_t>::max();

// The k-simplices (k >= 1) of a Delaunay complex with their alpha values.
struct SimplexLayer {
  int dim = 0;
  std::vector<index_t> vertices;  // dim + 1 per simplex, ascending
  std::vector<double> values;
  // dim + 1 per simplex: index in the layer below of the face opposite vertex i. Filled for the
  // layers 2..top-1 whose boundary matrices are reduced explicitly.
  std::vector<index_t> facets;

  [[nodiscard]] std::size_t size() const noexcept { return values.size(); }
  [[nodiscard]] std::span<const index_t> simplex(std::size_t i) const noexcept {
    const auto width = static_cast<std::size_t>(dim) + 1;
    return {vertices.data() + i * width, width};
  }
};

// A Delaunay triangulation of full dimension `top` >= 1 with alpha values on every simplex.
// layers[k] holds the k-simplices for 1 <= k <= top (layers[0] stays empty: every vertex has
// value 0). top_cofaces holds, for each (top-1)-simplex, its two top-dimensional cofaces, kNone
// standing for the unbounded outside of the convex hull.
struct DelaunayFiltration {
  int top = 0;
  std::size_t vertex_count = 0;
  std::vector<SimplexLayer> layers;
  std::vector<index_t> top_cofaces;
  // Index among the caller's points of each vertex (empty: the identity); builders number
  // vertices in their own, cache-friendly order.
  std::vector<index_t> vertex_labels;
  // Set instead of the layers when the points span an affine hull of dimension top < ambient:
  // top + 1 affinely independent points (by index) to re-express the points in.
  std::vector<index_t> hull_frame;
};

// Wall-clock split of one computation, for benchmarks.
struct StageClock {
  using clock = std::chrono::steady_clock;
  clock::time_point start = clock::now();
  double lap() {
    const auto now = clock::now();
    const double seconds = std::chrono::duration<double>(now - start).count();
    start = now;
    return seconds;
  }
};

// Triangulate n >= 2 distinct points of R^dim and compute alpha values, or return only
// hull_frame when the points lie on a lower-dimensional flat.
DelaunayFiltration delaunay_filtration_2(const double* points, std::size_t n,
                                         const Control& control, AlphaStats* stats);
DelaunayFiltration delaunay_filtration_3(const double* points, std::size_t n,
                                         const Control& control, AlphaStats* stats);
DelaunayFiltration delaunay_filtration_d(const double* points, std::size_t n, std::size_t dim,
                                         const Control& control, AlphaStats* stats);
// Points of R^1: consecutive points are joined.
DelaunayFiltration delaunay_filtration_1(const double* points, std::size_t n);

// Persistence pairs of the filtration over Z/p, in terms of the filtration's vertex indices
// (translated to input indices by the caller). Dimensions above maxdim are dropped.
PersistenceResult filtration_persistence(const DelaunayFiltration& filtration, int maxdim,
                                         std::uint64_t modulus, bool representatives,
                                         const Control& control, AlphaStats* stats);

// Squared radius of the smallest sphere through the k + 1 points (pointers to dim coordinates
// each), computed in floating point when well conditioned and in exact rational arithmetic
// otherwise, so that the result is the rounding of the exact value up to ~1e-12 relative.
double squared_circumradius(std::span<const double* const> simplex, std::size_t dim,
                            double* center = nullptr, bool* exact = nullptr);
// Whether x lies strictly inside the smallest circumsphere of the simplex, decided exactly.
bool inside_circumsphere_exact(std::span<const double* const> simplex, std::size_t dim,
                               const double* x);
// Number of exact recomputations since the last call (per thread).
std::size_t take_exact_radius_count();
double squared_circumradius_exact(std::span<const double* const> simplex, std::size_t dim,
                                  double* center = nullptr);

// Specialised forms for 2D and 3D (same accuracy contract).
double squared_circumradius_triangle_2(const double* p, const double* q, const double* r);
double squared_circumradius_triangle_3(const double* p, const double* q, const double* r);
// Also sets bit i of *attached when vertex i lies strictly inside the diametral ball of the
// facet opposite it (the circumcenter lies beyond that facet), or *attached = -1 when the
// tetrahedron is too flat for floating point to decide.
double squared_circumradius_tetrahedron(const double* p, const double* q, const double* r,
                                        const double* s, int* attached);
// Whether t lies strictly inside the ball with diameter pq (the angle at t is obtuse); exact
// arithmetic decides near-right angles.
inline bool inside_diametral_ball(const double* p, const double* q, const double* t,
                                  std::size_t dim) {
  double dot = 0;
  double p2 = 0;
  double q2 = 0;
  for (std::size_t i = 0; i < dim; ++i) {
    const double u = p[i] - t[i];
    const double v = q[i] - t[i];
    dot += u * v;
    p2 += u * u;
    q2 += v * v;
  }
  if (dot * dot > 1e-20 * p2 * q2) {
    return dot < 0;
  }
  const double* segment[] = {p, q};
  return inside_circumsphere_exact(segment, dim, t);
}
inline double squared_half_length(const double* p, const double* q, std::size_t dim) {
  double sum = 0;
  for (std::size_t i = 0; i < dim; ++i) {
    const double delta = p[i] - q[i];
    sum += delta * delta;
  }
  return sum / 4;
}

// Polls cancellation and reports progress every `stride` calls of tick().
class Ticker {
 public:
  Ticker(const Control& control, double from, double to, std::size_t total)
      : control_(control), from_(from), to_(to), total_(total == 0 ? 1 : total) {}
  void tick() {
    if ((++count_ & kStrideMask) == 0) {
      control_.check_cancelled();
      control_.report(from_ +
                      (to_ - from_) * static_cast<double>(count_) / static_cast<double>(total_));
    }
  }
  void finish() const {
    control_.check_cancelled();
    control_.report(to_);
  }

 private:
  static constexpr std::size_t kStrideMask = (std::size_t{1} << 16U) - 1;
  const Control& control_;
  double from_;
  double to_;
  std::size_t total_;
  std::size_t count_ = 0;
};

// Fractions of the progress scale given to each stage.
inline constexpr double kTriangulationEnd = 0.4;
inline constexpr double kFiltrationEnd = 0.6;
inline constexpr double kSortEnd = 0.7;

}  // namespace tda::alpha_detail
