#include <cmath>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

#include "tda/features.hpp"

namespace {

using tda::Interval;
constexpr double kInf = tda::kInfinity;

TEST(Features, CountsEssentialClassesAndMeasuresFiniteOnes) {
  const std::vector<Interval> diagram{{0, 1}, {0, 1}, {0.5, 0.5}, {0, kInf}, {1, kInf}};
  const tda::DiagramFeatures f = tda::diagram_features(diagram);
  EXPECT_EQ(f.betti, 2U);
  EXPECT_DOUBLE_EQ(f.total_persistence, 2.0);
  // Two bars of equal positive length (the zero-length one is left out): log 2.
  EXPECT_DOUBLE_EQ(f.entropy, std::numbers::ln2);
  EXPECT_EQ(tda::diagram_features({}).entropy, 0.0);
}

TEST(Features, SlicedWassersteinIsAMetricOnFiniteParts) {
  const std::vector<Interval> a{{0, 1}, {0.2, 0.7}, {0, kInf}};
  const std::vector<Interval> b{{0.1, 0.9}};
  const std::vector<Interval> c{{0.3, 0.4}, {0.5, 2.0}};
  EXPECT_EQ(tda::sliced_wasserstein(a, a), 0.0);
  EXPECT_EQ(tda::sliced_wasserstein({}, {}), 0.0);
  EXPECT_DOUBLE_EQ(tda::sliced_wasserstein(a, b), tda::sliced_wasserstein(b, a));
  EXPECT_GT(tda::sliced_wasserstein(a, b), 0.0);
  EXPECT_LE(tda::sliced_wasserstein(a, c),
            tda::sliced_wasserstein(a, b) + tda::sliced_wasserstein(b, c) + 1e-12);
  // Essential classes do not enter the distance.
  const std::vector<Interval> a_finite{{0, 1}, {0.2, 0.7}};
  EXPECT_DOUBLE_EQ(tda::sliced_wasserstein(a, b), tda::sliced_wasserstein(a_finite, b));
}

TEST(Features, SlicedWassersteinOfOneBarAgainstNothing) {
  // The bar (0, 1) against the empty diagram: on a direction at angle t the bar projects to
  // sin t, its diagonal point (1/2, 1/2) to (cos t + sin t) / 2; averaged over 32 angles.
  double expected = 0;
  for (int k = 0; k < 32; ++k) {
    const double t = -std::numbers::pi / 2 + std::numbers::pi * k / 32;
    expected += std::abs(std::sin(t) - (std::cos(t) + std::sin(t)) / 2);
  }
  expected /= 32;
  const std::vector<Interval> bar{{0, 1}};
  EXPECT_NEAR(tda::sliced_wasserstein(bar, {}), expected, 1e-15);
}

TEST(Features, AnomalyScoreAddsTheChangeOfEssentialClasses) {
  const tda::Diagrams previous{{{0, 1}, {0, kInf}}, {}};
  const tda::Diagrams current{{{0, 1}, {0, kInf}, {0, kInf}}, {{0.2, 0.3}}, {}};
  const double expected = 1.0 + tda::sliced_wasserstein({}, current[1]);
  EXPECT_DOUBLE_EQ(tda::anomaly_score(previous, current), expected);
  EXPECT_EQ(tda::anomaly_score(current, current), 0.0);
}

}  // namespace
