#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "tda/io.hpp"
#include "tda/rips.hpp"

namespace {

using tda::DenseDistances;
using tda::PersistenceResult;
using tda::RipsOptions;

// Bars of dimension dim alive at value t (birth <= t < death).
int betti_at(const PersistenceResult& r, std::size_t dim, double t) {
  return static_cast<int>(
      std::count_if(r.diagrams[dim].begin(), r.diagrams[dim].end(),
                    [t](const auto& p) { return p.birth <= t && t < p.death; }));
}

DenseDistances from_points(const std::vector<std::vector<double>>& points) {
  std::vector<double> flat;
  for (const auto& p : points) {
    flat.insert(flat.end(), p.begin(), p.end());
  }
  return tda::dense_distances({flat, points.size(), points.front().size()}, tda::Metric::euclidean);
}

std::vector<std::vector<double>> circle(int n, double cx = 0, double cy = 0, double angle0 = 0) {
  std::vector<std::vector<double>> points;
  for (int i = 0; i < n; ++i) {
    const double a = angle0 + 2 * std::numbers::pi * i / n;
    points.push_back({cx + std::cos(a), cy + std::sin(a)});
  }
  return points;
}

PersistenceResult rips(tda::RipsInput input, int maxdim, std::uint64_t modulus = 2,
                       unsigned threads = 1) {
  RipsOptions options;
  options.maxdim = maxdim;
  options.modulus = modulus;
  options.n_threads = threads;
  return tda::vietoris_rips(input, options);
}

TEST(Rips, CircleHasOneLongLoop) {
  const auto r = rips(from_points(circle(16)), 2);
  ASSERT_EQ(r.diagrams.size(), 3U);
  EXPECT_EQ(betti_at(r, 0, 0.5), 1);
  EXPECT_EQ(betti_at(r, 1, 0.5), 1);
  EXPECT_EQ(betti_at(r, 1, 1.5), 1);
  // Dies once a triangle of the sample holds the centre: sides 2 sin(6 pi / 16) and less.
  EXPECT_DOUBLE_EQ(r.diagrams[1][0].death, 2 * std::sin(6 * std::numbers::pi / 16));
  EXPECT_EQ(r.diagrams[1].size(), 1U);
}

TEST(Rips, OctahedronIsASphere) {
  const auto r =
      rips(from_points({{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}}), 2);
  ASSERT_EQ(r.diagrams[2].size(), 1U);
  EXPECT_DOUBLE_EQ(r.diagrams[2][0].birth, std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(r.diagrams[2][0].death, 2.0);
  EXPECT_TRUE(r.diagrams[1].empty());
}

TEST(Rips, FlatTorusGridHasBetti121) {
  // A 6x6 grid on the flat torus with the cyclic Chebyshev distance: at scale 1 its Rips
  // complex is the torus.
  const int k = 6;
  std::vector<double> lower;
  for (int i = 1; i < k * k; ++i) {
    for (int j = 0; j < i; ++j) {
      const int dx = std::abs(i / k - j / k);
      const int dy = std::abs(i % k - j % k);
      lower.push_back(std::max(std::min(dx, k - dx), std::min(dy, k - dy)));
    }
  }
  const DenseDistances d(lower);
  for (const std::uint64_t p : {2U, 3U}) {
    const auto r = rips(d, 2, p);
    EXPECT_EQ(betti_at(r, 0, 1), 1) << "p=" << p;
    EXPECT_EQ(betti_at(r, 1, 1), 2) << "p=" << p;
    EXPECT_EQ(betti_at(r, 2, 1), 1) << "p=" << p;
  }
}

TEST(Rips, WedgeOfTwoCirclesHasTwoLoops) {
  auto points = circle(12, -1, 0);
  for (const auto& p : circle(12, 1, 0, std::numbers::pi)) {
    if (std::hypot(p[0], p[1]) > 1e-9) {  // the shared point (0, 0) once
      points.push_back(p);
    }
  }
  const auto r = rips(from_points(points), 1);
  EXPECT_EQ(betti_at(r, 1, 0.6), 2);
  EXPECT_EQ(betti_at(r, 0, 0.6), 1);
}

tda::InputData read_dataset(const std::string& name) {
  std::ifstream in(std::string(TDA_DATASETS_DIR) + "/" + name);
  EXPECT_TRUE(in) << name;
  return tda::read_input(in, tda::InputFormat::lower_distance);
}

TEST(Rips, ProjectivePlaneHomologyDependsOnTheField) {
  auto data = read_dataset("projective_plane.lower_distance_matrix");
  const auto mod2 = rips(*data.dense, 2, 2);
  const auto mod3 = rips(*data.dense, 2, 3);
  EXPECT_EQ(mod2.diagrams[1].size(), 1U);
  EXPECT_EQ(mod2.diagrams[2].size(), 1U);
  EXPECT_TRUE(mod3.diagrams[1].empty());
  EXPECT_TRUE(mod3.diagrams[2].empty());
}

// sphere_3_192 has about 3,000 columns in dimension 2: enough for the parallel reduction (small
// inputs reduce on one thread whatever n_threads says).
TEST(Rips, ThreadsGiveIdenticalResults) {
  auto data = read_dataset("sphere_3_192.lower_distance_matrix");
  struct Case {
    std::uint64_t modulus;
    unsigned threads;
  };
  for (const Case& c : {Case{2, 2}, Case{3, 3}, Case{5, 4}}) {
    RipsOptions options;
    options.maxdim = 2;
    options.modulus = c.modulus;
    options.representatives = true;
    const auto one = tda::vietoris_rips(*data.dense, options);
    options.n_threads = c.threads;
    const auto many = tda::vietoris_rips(*data.dense, options);
    for (std::size_t dim = 0; dim < 3; ++dim) {
      ASSERT_EQ(one.diagrams[dim].size(), many.diagrams[dim].size()) << "p=" << c.modulus;
      for (std::size_t i = 0; i < one.diagrams[dim].size(); ++i) {
        const auto& a = one.diagrams[dim][i];
        const auto& b = many.diagrams[dim][i];
        EXPECT_EQ(a.birth, b.birth) << "p=" << c.modulus << " dim " << dim << " pair " << i;
        EXPECT_EQ(a.death, b.death) << "p=" << c.modulus << " dim " << dim << " pair " << i;
        EXPECT_EQ(a.birth_simplex, b.birth_simplex) << "p=" << c.modulus << " dim " << dim;
        EXPECT_EQ(a.death_simplex, b.death_simplex) << "p=" << c.modulus << " dim " << dim;
      }
    }
  }
}

// Dense input without representatives takes dimension 0 from Prim's algorithm over the
// filtration order; with representatives, from Kruskal's over the sorted edges. The filtration
// order is total, so both find the same spanning forest and every diagram comes out the same,
// pair for pair, ties included.
void expect_same_pairs(const PersistenceResult& a, const PersistenceResult& b,
                       const std::string& what) {
  ASSERT_EQ(a.diagrams.size(), b.diagrams.size()) << what;
  for (std::size_t dim = 0; dim < a.diagrams.size(); ++dim) {
    ASSERT_EQ(a.diagrams[dim].size(), b.diagrams[dim].size()) << what << " dim " << dim;
    for (std::size_t i = 0; i < a.diagrams[dim].size(); ++i) {
      EXPECT_EQ(a.diagrams[dim][i].birth, b.diagrams[dim][i].birth) << what << " dim " << dim;
      EXPECT_EQ(a.diagrams[dim][i].death, b.diagrams[dim][i].death) << what << " dim " << dim;
    }
  }
}

TEST(Rips, DimensionZeroByPrimMatchesKruskal) {
  auto data = read_dataset("sphere_3_192.lower_distance_matrix");
  for (const std::uint64_t modulus : {2U, 3U}) {
    for (const unsigned threads : {1U, 2U}) {  // 18,336 edges: the 2-thread scan runs in chunks
      RipsOptions options;
      options.maxdim = 2;
      options.modulus = modulus;
      options.n_threads = threads;
      const auto prim = tda::vietoris_rips(*data.dense, options);
      options.representatives = true;
      const auto kruskal = tda::vietoris_rips(*data.dense, options);
      expect_same_pairs(prim, kruskal,
                        "sphere p=" + std::to_string(modulus) + " t=" + std::to_string(threads));
    }
  }
  // Points on a small integer grid: many equal distances and duplicate points.
  std::mt19937_64 rng(20261130);
  for (int trial = 0; trial < 300; ++trial) {
    const auto n = static_cast<std::size_t>(1 + rng() % 40);
    const auto dim = static_cast<std::size_t>(1 + rng() % 3);
    const auto grid = 1 + rng() % 4;
    std::vector<double> coordinates(n * dim);
    for (double& x : coordinates) {
      x = static_cast<double>(rng() % (grid + 1));
    }
    RipsOptions options;
    options.maxdim = static_cast<int>(rng() % 3);
    if (rng() % 3 == 0) {
      options.threshold = static_cast<double>(rng() % 5) * 0.5;
    }
    const auto distances = tda::dense_distances({coordinates, n, dim}, tda::Metric::euclidean);
    const auto prim = tda::vietoris_rips(distances, options);
    options.representatives = true;
    const auto kruskal = tda::vietoris_rips(distances, options);
    expect_same_pairs(prim, kruskal, "trial " + std::to_string(trial));
  }
}

TEST(Rips, SparseBelowTheEnclosingRadiusMatchesDense) {
  auto data = read_dataset("sphere_3_192.lower_distance_matrix");
  RipsOptions options;
  options.maxdim = 2;
  options.threshold = 0.9;
  const auto dense = tda::vietoris_rips(*data.dense, options);
  const auto sparse = tda::vietoris_rips(tda::sparsify(*data.dense, 0.9), options);
  for (std::size_t dim = 0; dim < 3; ++dim) {
    EXPECT_EQ(dense.diagrams[dim].size(), sparse.diagrams[dim].size());
  }
}

TEST(Rips, RepresentativesHaveTheirFiltrationValues) {
  const DenseDistances d = from_points(circle(10));
  RipsOptions options;
  options.maxdim = 1;
  options.representatives = true;
  const auto r = tda::vietoris_rips(d, options);
  ASSERT_EQ(r.diagrams[1].size(), 1U);
  const auto& pair = r.diagrams[1][0];
  ASSERT_EQ(pair.birth_simplex.size(), 2U);
  EXPECT_DOUBLE_EQ(d(pair.birth_simplex[0], pair.birth_simplex[1]), pair.birth);
  ASSERT_EQ(pair.death_simplex.size(), 3U);
  double diameter = 0;
  for (std::size_t a = 0; a < 3; ++a) {
    for (std::size_t b = a + 1; b < 3; ++b) {
      diameter = std::max(diameter, d(pair.death_simplex[a], pair.death_simplex[b]));
    }
  }
  EXPECT_DOUBLE_EQ(diameter, pair.death);
}

TEST(Rips, BadOptionsAreRejected) {
  const DenseDistances d = from_points(circle(5));
  RipsOptions options;
  options.modulus = 4;
  EXPECT_THROW((void)tda::vietoris_rips(d, options), std::invalid_argument);
  options = {};
  options.maxdim = -1;
  EXPECT_THROW((void)tda::vietoris_rips(d, options), std::invalid_argument);
  options = {};
  options.threshold = -1;
  EXPECT_THROW((void)tda::vietoris_rips(d, options), std::invalid_argument);
  EXPECT_THROW(tda::check_index_range(200, 60, 2), tda::ResourceError);
}

TEST(Rips, MemoryBudgetAndCancellation) {
  const DenseDistances d = from_points(circle(40));
  RipsOptions options;
  options.maxdim = 3;
  tda::Control control;
  control.memory_budget_bytes = 1000;
  EXPECT_THROW((void)tda::vietoris_rips(d, options, control), tda::ResourceError);
  std::atomic<bool> cancel{true};
  tda::Control cancelled;
  cancelled.cancel = &cancel;
  EXPECT_THROW((void)tda::vietoris_rips(d, options, cancelled), tda::Cancelled);
}

}  // namespace
