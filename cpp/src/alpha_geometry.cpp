// Circumradii for the alpha filtration. Floating point is exact enough when a simplex is well
// shaped; its error grows with the condition number kappa = (product of edge lengths from the
// first vertex) / volume, so beyond kMaxCondition the radius is recomputed in exact rationals and
// rounded once. This keeps values within ~1e-12 of the exact ones that GUDHI rounds.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <vector>

#include <CGAL/Exact_rational.h>

#include "alpha_internal.hpp"

namespace tda::alpha_detail {

namespace {

// Relative error of the floating-point formulas below is at most ~20 eps kappa.
constexpr double kMaxCondition = 1e3;
// The Gram-matrix form of the general dimension errs by ~ eps kappa^2 instead.
constexpr double kMaxSquaredCondition = 1e4;

// Floating-point side tests closer to a tie than this (relative) are left to exact arithmetic.
constexpr double kAmbiguous = 1e-10;

thread_local std::size_t exact_radius_count = 0;

// The double nearest to q (CGAL::to_double may truncate). A value beyond the doubles (a squared
// circumradius of points with coordinates near 1e150 and above) is refused.
double nearest_double(const CGAL::Exact_rational& q) {
  const double guess = CGAL::to_double(q);
  if (!std::isfinite(guess)) {
    throw std::invalid_argument(
        "alpha complex: a squared circumradius exceeds the range of double precision "
        "(coordinates too large); rescale the points");
  }
  double best = guess;
  CGAL::Exact_rational best_error = CGAL::abs(q - CGAL::Exact_rational(guess));
  for (const double candidate :
       {std::nextafter(guess, -HUGE_VAL), std::nextafter(guess, HUGE_VAL)}) {
    const CGAL::Exact_rational error = CGAL::abs(q - CGAL::Exact_rational(candidate));
    if (error < best_error) {
      best = candidate;
      best_error = error;
    }
  }
  return best;
}

}  // namespace

std::size_t take_exact_radius_count() {
  const std::size_t count = exact_radius_count;
  exact_radius_count = 0;
  return count;
}

namespace {

using Q = CGAL::Exact_rational;

// The circumcenter of the simplex as origin + sum_i lambda_i a_i, a_i = p_i - origin, in exact
// arithmetic: lambda, the edges a_i and sum_i lambda_i |a_i|^2 / 2 (the squared radius).
struct ExactCircumsphere {
  std::vector<Q> edges;
  std::vector<Q> lambda;
  Q squared_radius;
};

ExactCircumsphere exact_circumsphere(std::span<const double* const> simplex, std::size_t dim) {
  const std::size_t k = simplex.size() - 1;
  const double* origin = simplex[0];
  // The circumcenter is origin + sum_i lambda_i a_i with a_i = p_i - origin and
  // a_i . (center - origin) = |a_i|^2 / 2: the Gram system G lambda = diag(G) / 2.
  std::vector<Q> edges(k * dim);
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t c = 0; c < dim; ++c) {
      edges[i * dim + c] = Q(simplex[i + 1][c]) - Q(origin[c]);
    }
  }
  std::vector<Q> gram(k * (k + 1));  // augmented k x (k + 1)
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j <= i; ++j) {
      Q dot = 0;
      for (std::size_t c = 0; c < dim; ++c) {
        dot += edges[i * dim + c] * edges[j * dim + c];
      }
      gram[i * (k + 1) + j] = dot;
      gram[j * (k + 1) + i] = dot;
    }
    gram[i * (k + 1) + k] = gram[i * (k + 1) + i] / 2;
  }
  const std::vector<Q> half_norms = [&] {
    std::vector<Q> h(k);
    for (std::size_t i = 0; i < k; ++i) {
      h[i] = gram[i * (k + 1) + k];
    }
    return h;
  }();
  // Gaussian elimination; the Gram matrix of affinely independent points is positive definite,
  // so the diagonal pivots are nonzero.
  for (std::size_t col = 0; col < k; ++col) {
    const Q pivot = gram[col * (k + 1) + col];
    for (std::size_t row = col + 1; row < k; ++row) {
      const Q factor = gram[row * (k + 1) + col] / pivot;
      if (factor == 0) {
        continue;
      }
      for (std::size_t c = col; c <= k; ++c) {
        gram[row * (k + 1) + c] -= factor * gram[col * (k + 1) + c];
      }
    }
  }
  std::vector<Q> lambda(k);
  for (std::size_t row = k; row-- > 0;) {
    Q sum = gram[row * (k + 1) + k];
    for (std::size_t c = row + 1; c < k; ++c) {
      sum -= gram[row * (k + 1) + c] * lambda[c];
    }
    lambda[row] = sum / gram[row * (k + 1) + row];
  }
  Q squared_radius = 0;
  for (std::size_t i = 0; i < k; ++i) {
    squared_radius += lambda[i] * half_norms[i];
  }
  return {std::move(edges), std::move(lambda), std::move(squared_radius)};
}

}  // namespace

double squared_circumradius_exact(std::span<const double* const> simplex, std::size_t dim,
                                  double* center) {
  ++exact_radius_count;
  const ExactCircumsphere sphere = exact_circumsphere(simplex, dim);
  const std::size_t k = simplex.size() - 1;
  if (center != nullptr) {
    for (std::size_t c = 0; c < dim; ++c) {
      Q coordinate = simplex[0][c];
      for (std::size_t i = 0; i < k; ++i) {
        coordinate += sphere.lambda[i] * sphere.edges[i * dim + c];
      }
      center[c] = nearest_double(coordinate);
    }
  }
  return nearest_double(sphere.squared_radius);
}

bool inside_circumsphere_exact(std::span<const double* const> simplex, std::size_t dim,
                               const double* x) {
  // |x - center|^2 < r^2  <=>  |y|^2 - 2 sum_i lambda_i (a_i . y) < 0 with y = x - origin.
  const ExactCircumsphere sphere = exact_circumsphere(simplex, dim);
  const std::size_t k = simplex.size() - 1;
  std::vector<Q> y(dim);
  Q power = 0;
  for (std::size_t c = 0; c < dim; ++c) {
    y[c] = Q(x[c]) - Q(simplex[0][c]);
    power += y[c] * y[c];
  }
  for (std::size_t i = 0; i < k; ++i) {
    Q dot = 0;
    for (std::size_t c = 0; c < dim; ++c) {
      dot += sphere.edges[i * dim + c] * y[c];
    }
    power -= 2 * sphere.lambda[i] * dot;
  }
  return power < 0;
}

double squared_circumradius(std::span<const double* const> simplex, std::size_t dim, double* center,
                            bool* exact) {
  if (exact != nullptr) {
    *exact = false;
  }
  const auto fallback = [&] {
    if (exact != nullptr) {
      *exact = true;
    }
    return squared_circumradius_exact(simplex, dim, center);
  };
  const std::size_t k = simplex.size() - 1;
  const double* origin = simplex[0];
  if (k == 0) {
    if (center != nullptr) {
      std::copy(origin, origin + dim, center);
    }
    return 0;
  }
  // With a_i = p_i - origin, G = (a_i . a_j) and b = diag(G), the squared radius is
  // b^T G^-1 b / 4 = -det([G b; b^T 0]) / (4 det G). Fraction-free (Bareiss) elimination of the
  // bordered matrix yields both determinants without division rounding on integral input, so
  // exactly co-spherical points (lattices) get exactly equal values.
  const std::size_t m = k + 1;
  std::vector<double> edges(k * dim);
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t c = 0; c < dim; ++c) {
      edges[i * dim + c] = simplex[i + 1][c] - origin[c];
    }
  }
  std::vector<double> bordered(m * m, 0.0);
  double norms_product = 1;
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j <= i; ++j) {
      double dot = 0;
      for (std::size_t c = 0; c < dim; ++c) {
        dot += edges[i * dim + c] * edges[j * dim + c];
      }
      bordered[i * m + j] = dot;
      bordered[j * m + i] = dot;
    }
    bordered[i * m + k] = bordered[i * m + i];
    bordered[k * m + i] = bordered[i * m + i];
    norms_product *= bordered[i * m + i];
  }
  std::vector<double> gram(k * (k + 1));  // G | b / 2, for the center
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      gram[i * (k + 1) + j] = bordered[i * m + j];
    }
    gram[i * (k + 1) + k] = bordered[i * m + i] / 2;
  }
  double previous = 1;
  for (std::size_t step = 0; step + 1 < m; ++step) {
    const double pivot = bordered[step * m + step];
    if (!(pivot > 0)) {
      return fallback();
    }
    for (std::size_t i = step + 1; i < m; ++i) {
      for (std::size_t j = step + 1; j < m; ++j) {
        bordered[i * m + j] =
            (pivot * bordered[i * m + j] - bordered[i * m + step] * bordered[step * m + j]) /
            previous;
      }
    }
    previous = pivot;
  }
  const double gram_determinant = previous;  // leading k x k minor
  const double bordered_determinant = bordered[k * m + k];
  if (!(gram_determinant * kMaxSquaredCondition > norms_product)) {
    return fallback();
  }
  if (center != nullptr) {
    // Cholesky-free elimination (G is positive definite) for the barycentric weights.
    for (std::size_t col = 0; col < k; ++col) {
      for (std::size_t row = col + 1; row < k; ++row) {
        const double factor = gram[row * (k + 1) + col] / gram[col * (k + 1) + col];
        for (std::size_t c = col; c <= k; ++c) {
          gram[row * (k + 1) + c] -= factor * gram[col * (k + 1) + c];
        }
      }
    }
    std::vector<double> lambda(k);
    for (std::size_t row = k; row-- > 0;) {
      double sum = gram[row * (k + 1) + k];
      for (std::size_t c = row + 1; c < k; ++c) {
        sum -= gram[row * (k + 1) + c] * lambda[c];
      }
      lambda[row] = sum / gram[row * (k + 1) + row];
    }
    for (std::size_t c = 0; c < dim; ++c) {
      double coordinate = origin[c];
      for (std::size_t i = 0; i < k; ++i) {
        coordinate += lambda[i] * edges[i * dim + c];
      }
      center[c] = coordinate;
    }
  }
  return -bordered_determinant / (4 * gram_determinant);
}

double squared_circumradius_triangle_2(const double* p, const double* q, const double* r) {
  // R^2 = |a|^2 |b|^2 |a - b|^2 / (4 (a x b)^2): only the cross product cancels.
  const double ax = q[0] - p[0];
  const double ay = q[1] - p[1];
  const double bx = r[0] - p[0];
  const double by = r[1] - p[1];
  const double cx = r[0] - q[0];
  const double cy = r[1] - q[1];
  const double a2 = ax * ax + ay * ay;
  const double b2 = bx * bx + by * by;
  const double c2 = cx * cx + cy * cy;
  const double cross = ax * by - ay * bx;
  const double cross2 = cross * cross;
  if (!(cross2 * kMaxCondition * kMaxCondition > a2 * b2)) {
    const double* simplex[] = {p, q, r};
    return squared_circumradius_exact(simplex, 2);
  }
  return a2 * b2 * c2 / (4 * cross2);
}

double squared_circumradius_triangle_3(const double* p, const double* q, const double* r) {
  const double ax = q[0] - p[0];
  const double ay = q[1] - p[1];
  const double az = q[2] - p[2];
  const double bx = r[0] - p[0];
  const double by = r[1] - p[1];
  const double bz = r[2] - p[2];
  const double cx = r[0] - q[0];
  const double cy = r[1] - q[1];
  const double cz = r[2] - q[2];
  const double a2 = ax * ax + ay * ay + az * az;
  const double b2 = bx * bx + by * by + bz * bz;
  const double c2 = cx * cx + cy * cy + cz * cz;
  const double wx = ay * bz - az * by;
  const double wy = az * bx - ax * bz;
  const double wz = ax * by - ay * bx;
  const double w2 = wx * wx + wy * wy + wz * wz;
  if (!(w2 * kMaxCondition * kMaxCondition > a2 * b2)) {
    const double* simplex[] = {p, q, r};
    return squared_circumradius_exact(simplex, 3);
  }
  return a2 * b2 * c2 / (4 * w2);
}

double squared_circumradius_tetrahedron(const double* p, const double* q, const double* r,
                                        const double* s, int* attached) {
  // center - p = (|a|^2 (b x c) + |b|^2 (c x a) + |c|^2 (a x b)) / (2 a . (b x c)).
  const double ax = q[0] - p[0];
  const double ay = q[1] - p[1];
  const double az = q[2] - p[2];
  const double bx = r[0] - p[0];
  const double by = r[1] - p[1];
  const double bz = r[2] - p[2];
  const double cx = s[0] - p[0];
  const double cy = s[1] - p[1];
  const double cz = s[2] - p[2];
  const double a2 = ax * ax + ay * ay + az * az;
  const double b2 = bx * bx + by * by + bz * bz;
  const double c2 = cx * cx + cy * cy + cz * cz;
  const double bcx = by * cz - bz * cy;
  const double bcy = bz * cx - bx * cz;
  const double bcz = bx * cy - by * cx;
  const double cax = cy * az - cz * ay;
  const double cay = cz * ax - cx * az;
  const double caz = cx * ay - cy * ax;
  const double abx = ay * bz - az * by;
  const double aby = az * bx - ax * bz;
  const double abz = ax * by - ay * bx;
  const double det = ax * bcx + ay * bcy + az * bcz;
  if (!(det * det * kMaxCondition * kMaxCondition > a2 * b2 * c2)) {
    const double* simplex[] = {p, q, r, s};
    *attached = -1;
    return squared_circumradius_exact(simplex, 3);
  }
  const double nx = a2 * bcx + b2 * cax + c2 * abx;
  const double ny = a2 * bcy + b2 * cay + c2 * aby;
  const double nz = a2 * bcz + b2 * caz + c2 * abz;
  // Barycentric coordinates of the center, times 2 det^2: n . (b x c), n . (c x a), n . (a x b)
  // for q, r, s and the rest of 2 det^2 for p. A negative one puts the center beyond the facet
  // opposite that vertex, which is then inside the facet's diametral ball.
  const double weight_q = nx * bcx + ny * bcy + nz * bcz;
  const double weight_r = nx * cax + ny * cay + nz * caz;
  const double weight_s = nx * abx + ny * aby + nz * abz;
  const double weight_p = 2 * det * det - weight_q - weight_r - weight_s;
  const double smallest =
      std::min({std::abs(weight_p), std::abs(weight_q), std::abs(weight_r), std::abs(weight_s)});
  if (smallest <= kAmbiguous * (std::abs(weight_p) + std::abs(weight_q) + std::abs(weight_r) +
                                std::abs(weight_s))) {
    // A vertex (nearly) on a facet's diametral sphere: let the exact predicate decide.
    *attached = -1;
    return (nx * nx + ny * ny + nz * nz) / (4 * det * det);
  }
  *attached = (weight_p < 0 ? 1 : 0) | (weight_q < 0 ? 2 : 0) | (weight_r < 0 ? 4 : 0) |
              (weight_s < 0 ? 8 : 0);
  return (nx * nx + ny * ny + nz * nz) / (4 * det * det);
}

}  // namespace tda::alpha_detail
