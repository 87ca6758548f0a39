// Alpha-complex persistence on shapes whose diagrams are known in closed form.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "tda/alpha.hpp"

namespace {

using tda::AlphaOptions;
using tda::PersistencePair;
using tda::PersistenceResult;

PersistenceResult compute(const std::vector<double>& points, std::size_t dim,
                          AlphaOptions options = {}) {
  return tda::alpha_complex(points.data(), points.size() / dim, dim, options);
}

std::vector<double> regular_polygon(std::size_t n, double radius = 1.0) {
  std::vector<double> points;
  for (std::size_t i = 0; i < n; ++i) {
    const double angle = 2 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(n);
    points.push_back(radius * std::cos(angle));
    points.push_back(radius * std::sin(angle));
  }
  return points;
}

std::vector<double> sphere_sample(std::size_t n, std::size_t dim, unsigned seed) {
  std::mt19937_64 random(seed);
  std::normal_distribution<double> normal;
  std::vector<double> points;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<double> x(dim);
    double norm = 0;
    for (auto& c : x) {
      c = normal(random);
      norm += c * c;
    }
    for (const double c : x) {
      points.push_back(c / std::sqrt(norm));
    }
  }
  return points;
}

std::vector<double> grid(std::size_t side, std::size_t dim) {
  std::vector<double> points;
  std::size_t total = 1;
  for (std::size_t d = 0; d < dim; ++d) {
    total *= side;
  }
  for (std::size_t i = 0; i < total; ++i) {
    std::size_t rest = i;
    for (std::size_t d = 0; d < dim; ++d) {
      points.push_back(static_cast<double>(rest % side));
      rest /= side;
    }
  }
  return points;
}

std::size_t count_longer_than(const std::vector<PersistencePair>& diagram, double length) {
  return static_cast<std::size_t>(std::count_if(
      diagram.begin(), diagram.end(), [&](const auto& p) { return p.death - p.birth > length; }));
}

TEST(AlphaComplex, RegularPolygonHasOneLoopDyingAtTheCircumradius) {
  const std::size_t n = 24;
  PersistenceResult result = compute(regular_polygon(n), 2);
  ASSERT_EQ(result.diagrams.size(), 2U);
  // The rounded vertices are not exactly co-circular: the inner triangles differ by an ulp.
  ASSERT_EQ(count_longer_than(result.diagrams[1], 1e-9), 1U);
  std::erase_if(result.diagrams[1], [](const auto& p) { return p.death - p.birth < 1e-9; });
  const double half_side = std::sin(std::numbers::pi / static_cast<double>(n));
  EXPECT_NEAR(result.diagrams[1][0].birth, half_side * half_side, 1e-12);
  EXPECT_NEAR(result.diagrams[1][0].death, 1.0, 1e-12);
  // n - 1 components merge at the half side, one lives forever.
  ASSERT_EQ(result.diagrams[0].size(), n);
  EXPECT_EQ(std::count_if(result.diagrams[0].begin(), result.diagrams[0].end(),
                          [](const auto& p) { return p.essential(); }),
            1);
}

TEST(AlphaComplex, RadiusConventionTakesSquareRoots) {
  AlphaOptions options;
  options.squared_radius = false;
  PersistenceResult result = compute(regular_polygon(12, 2.0), 2, options);
  std::erase_if(result.diagrams[1], [](const auto& p) { return p.death - p.birth < 1e-9; });
  ASSERT_EQ(result.diagrams[1].size(), 1U);
  EXPECT_NEAR(result.diagrams[1][0].death, 2.0, 1e-12);
  EXPECT_NEAR(result.diagrams[1][0].birth, 2.0 * std::sin(std::numbers::pi / 12), 1e-12);
}

TEST(AlphaComplex, SphereSampleHasOneVoid) {
  const PersistenceResult result = compute(sphere_sample(400, 3, 7), 3);
  ASSERT_EQ(result.diagrams.size(), 3U);
  EXPECT_EQ(count_longer_than(result.diagrams[2], 0.5), 1U);
  for (const auto& pair : result.diagrams[2]) {
    EXPECT_LE(pair.death, 1.0 + 1e-9);
  }
  EXPECT_EQ(count_longer_than(result.diagrams[1], 0.2), 0U);
}

TEST(AlphaComplex, HypersphereSampleIn4DHasOneThreeDimensionalClass) {
  const PersistenceResult result = compute(sphere_sample(300, 4, 11), 4);
  ASSERT_EQ(result.diagrams.size(), 4U);
  EXPECT_EQ(count_longer_than(result.diagrams[3], 0.4), 1U);
  EXPECT_EQ(count_longer_than(result.diagrams[2], 0.3), 0U);
}

TEST(AlphaComplex, CubicLatticeFillsSquaresThenCubes) {
  // 4x4x4 grid: 81 independent loops of the lattice graph at 1/4 die when the 108 squares fill
  // at 1/2, leaving 27 voids that the cubes fill at 3/4.
  const PersistenceResult result = compute(grid(4, 3), 3);
  ASSERT_EQ(result.diagrams[0].size(), 64U);
  for (const auto& pair : result.diagrams[0]) {
    if (!pair.essential()) {
      EXPECT_DOUBLE_EQ(pair.death, 0.25);
    }
  }
  ASSERT_EQ(result.diagrams[1].size(), 81U);
  for (const auto& pair : result.diagrams[1]) {
    EXPECT_DOUBLE_EQ(pair.birth, 0.25);
    EXPECT_DOUBLE_EQ(pair.death, 0.5);
  }
  ASSERT_EQ(result.diagrams[2].size(), 27U);
  for (const auto& pair : result.diagrams[2]) {
    EXPECT_DOUBLE_EQ(pair.birth, 0.5);
    EXPECT_DOUBLE_EQ(pair.death, 0.75);
  }
}

TEST(AlphaComplex, SquareLatticeIn2DAnd4D) {
  const PersistenceResult plane = compute(grid(5, 2), 2);
  ASSERT_EQ(plane.diagrams[1].size(), 16U);
  for (const auto& pair : plane.diagrams[1]) {
    EXPECT_DOUBLE_EQ(pair.birth, 0.25);
    EXPECT_DOUBLE_EQ(pair.death, 0.5);
  }
  // 3^4 grid: the 16 hypercubes each enclose a 3-dimensional void from 3/4 to 1.
  const PersistenceResult space = compute(grid(3, 4), 4);
  ASSERT_EQ(space.diagrams.size(), 4U);
  ASSERT_EQ(space.diagrams[3].size(), 16U);
  for (const auto& pair : space.diagrams[3]) {
    EXPECT_DOUBLE_EQ(pair.birth, 0.75);
    EXPECT_DOUBLE_EQ(pair.death, 1.0);
  }
}

TEST(AlphaComplex, DuplicatesChangeNothingAndMapToInputIndices) {
  std::vector<double> points = regular_polygon(10);
  const PersistenceResult plain = compute(points, 2);
  // Repeat point 3 twice and point 0 once, at the end.
  for (const std::size_t i : {3U, 3U, 0U}) {
    points.push_back(points[2 * i]);
    points.push_back(points[2 * i + 1]);
  }
  AlphaOptions options;
  options.representatives = true;
  const PersistenceResult doubled = compute(points, 2, options);
  ASSERT_EQ(doubled.diagrams.size(), plain.diagrams.size());
  for (std::size_t k = 0; k < plain.diagrams.size(); ++k) {
    ASSERT_EQ(doubled.diagrams[k].size(), plain.diagrams[k].size());
  }
  for (const auto& diagram : doubled.diagrams) {
    for (const auto& pair : diagram) {
      for (const auto v : pair.birth_simplex) {
        EXPECT_LT(v, 10);
      }
      for (const auto v : pair.death_simplex) {
        EXPECT_LT(v, 10);
      }
    }
  }
}

TEST(AlphaComplex, RepresentativesAreTheSimplicesOfBirthAndDeath) {
  AlphaOptions options;
  options.representatives = true;
  const PersistenceResult result = compute(regular_polygon(8), 2, options);
  const auto& loop = result.diagrams[1].at(0);
  EXPECT_EQ(loop.birth_simplex.size(), 2U);
  EXPECT_EQ(loop.death_simplex.size(), 3U);
  EXPECT_TRUE(std::is_sorted(loop.death_simplex.begin(), loop.death_simplex.end()));
  for (const auto& pair : result.diagrams[0]) {
    EXPECT_EQ(pair.birth_simplex.size(), 1U);
    EXPECT_EQ(pair.death_simplex.size(), pair.essential() ? 0U : 2U);
  }
}

TEST(AlphaComplex, PointsOnAFlatUseTheirAffineHull) {
  // A polygon in a tilted plane of R^3 and on a line of R^3.
  std::vector<double> tilted;
  const std::vector<double> polygon = regular_polygon(16);
  for (std::size_t i = 0; i < 16; ++i) {
    const double x = polygon[2 * i];
    const double y = polygon[2 * i + 1];
    tilted.insert(tilted.end(), {x, y, x + 2 * y});
  }
  const PersistenceResult plane = compute(tilted, 3);
  ASSERT_EQ(plane.diagrams.size(), 3U);
  EXPECT_EQ(count_longer_than(plane.diagrams[1], 0.1), 1U);
  EXPECT_TRUE(plane.diagrams[2].empty());

  const std::vector<double> line = {0, 0, 0, 1, 1, 1, 3, 3, 3, 4, 4, 4};
  const PersistenceResult segment = compute(line, 3);
  ASSERT_EQ(segment.diagrams[0].size(), 4U);
  std::vector<double> deaths;
  for (const auto& pair : segment.diagrams[0]) {
    deaths.push_back(pair.death);
  }
  std::sort(deaths.begin(), deaths.end());
  EXPECT_NEAR(deaths[0], 0.75, 1e-12);
  EXPECT_NEAR(deaths[1], 0.75, 1e-12);
  EXPECT_NEAR(deaths[2], 3.0, 1e-12);
  EXPECT_TRUE(std::isinf(deaths[3]));
}

TEST(AlphaComplex, FewerPointsThanDimensionPlusOne) {
  const std::vector<double> two = {0, 0, 0, 0, 2, 0, 0, 0};
  const PersistenceResult result = compute(two, 4);
  ASSERT_EQ(result.diagrams.size(), 4U);
  ASSERT_EQ(result.diagrams[0].size(), 2U);
  const std::vector<double> one = {5, 5, 5};
  const PersistenceResult single = compute(one, 3);
  ASSERT_EQ(single.diagrams[0].size(), 1U);
  EXPECT_TRUE(single.diagrams[0][0].essential());
  // One-dimensional input.
  const std::vector<double> ticks = {3, 0, 1};
  const PersistenceResult line = compute(ticks, 1);
  ASSERT_EQ(line.diagrams.size(), 1U);
  ASSERT_EQ(line.diagrams[0].size(), 3U);
}

TEST(AlphaComplex, CoefficientFieldsAgreeOnTorsionFreeShapes) {
  AlphaOptions options;
  options.modulus = 3;
  const auto points = sphere_sample(200, 3, 5);
  const PersistenceResult mod3 = compute(points, 3, options);
  const PersistenceResult mod2 = compute(points, 3);
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(mod3.diagrams[k].size(), mod2.diagrams[k].size()) << "dimension " << k;
  }
}

TEST(AlphaComplex, MaxdimTruncatesTheDiagrams) {
  AlphaOptions options;
  options.maxdim = 1;
  const PersistenceResult result = compute(sphere_sample(100, 3, 3), 3, options);
  EXPECT_EQ(result.diagrams.size(), 2U);
}

TEST(AlphaComplex, RejectsBadInput) {
  const std::vector<double> nan = {0, 0, std::numeric_limits<double>::quiet_NaN(), 1};
  EXPECT_THROW(compute(nan, 2), std::invalid_argument);
  const std::vector<double> inf = {0, 0, std::numeric_limits<double>::infinity(), 1};
  EXPECT_THROW(compute(inf, 2), std::invalid_argument);
  EXPECT_THROW(tda::alpha_complex(nullptr, 0, 2, {}), std::invalid_argument);
  const std::vector<double> some = {0, 1};
  EXPECT_THROW(tda::alpha_complex(some.data(), 2, 0, {}), std::invalid_argument);
  AlphaOptions not_prime;
  not_prime.modulus = 4;
  EXPECT_THROW(compute(some, 1, not_prime), std::invalid_argument);
}

TEST(AlphaComplex, RaisedCancelFlagStops) {
  std::atomic<bool> cancel{true};
  tda::Control control;
  control.cancel = &cancel;
  const auto points = sphere_sample(1000, 3, 1);
  EXPECT_THROW((void)tda::alpha_complex(points.data(), 1000, 3, {}, control), tda::Cancelled);
}

TEST(AlphaComplex, MemoryBudgetIsEnforcedFromTheEstimate) {
  const auto points = sphere_sample(1000, 3, 1);
  const tda::Estimate estimate = tda::estimate_alpha(points.data(), 1000, 3, {});
  ASSERT_EQ(estimate.simplices.size(), 4U);
  EXPECT_GT(estimate.bytes, 0);
  tda::Control control;
  control.memory_budget_bytes = 1000;
  EXPECT_THROW((void)tda::alpha_complex(points.data(), 1000, 3, {}, control), tda::ResourceError);
}

TEST(AlphaComplex, ProgressIsMonotoneAndEndsAtOne) {
  std::vector<double> seen;
  tda::Control control;
  control.progress = [&](double fraction) { seen.push_back(fraction); };
  const auto points = sphere_sample(2000, 3, 2);
  (void)tda::alpha_complex(points.data(), 2000, 3, {}, control);
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_DOUBLE_EQ(seen.back(), 1.0);
}

}  // namespace
