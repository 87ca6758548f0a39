#include "tda/features.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <numbers>
#include <numeric>

namespace tda {
namespace {

struct Direction {
  value_t x;
  value_t y;
  value_t diagonal;  // projection of the diagonal point ((b+d)/2, (b+d)/2) is (b+d) times this
};

std::array<Direction, kSlices> make_directions() {
  std::array<Direction, kSlices> directions{};
  for (std::size_t k = 0; k < kSlices; ++k) {
    const value_t angle =
        -std::numbers::pi / 2 + std::numbers::pi * static_cast<value_t>(k) / kSlices;
    const value_t x = std::cos(angle);
    const value_t y = std::sin(angle);
    directions[k] = {x, y, (x + y) / 2};
  }
  return directions;
}

const std::array<Direction, kSlices>& directions() {
  static const std::array<Direction, kSlices> kDirections = make_directions();
  return kDirections;
}

bool finite(const Interval& interval) { return std::isfinite(interval[1]); }

std::vector<Interval> finite_part(std::span<const Interval> diagram) {
  std::vector<Interval> out;
  out.reserve(diagram.size());
  std::ranges::copy_if(diagram, std::back_inserter(out), finite);
  return out;
}

std::size_t essential(std::span<const Interval> diagram) {
  return static_cast<std::size_t>(
      std::ranges::count_if(diagram, [](const Interval& i) { return !finite(i); }));
}

// A diagram's points projected onto one direction after another, in increasing order. Each
// direction's sort starts from the previous direction's order: for nearby directions that order
// is nearly right (insertion sort is then close to linear), or nearly backwards (a diagram of
// dimension 0, all births equal, flips at once when the direction's second component changes
// sign), when it is reversed first.
class Projections {
 public:
  explicit Projections(std::span<const Interval> points) : points_(points), order_(points.size()) {
    std::iota(order_.begin(), order_.end(), std::uint32_t{0});
    values_.resize(points.size());
    sorted_.resize(points.size());
  }

  std::span<const value_t> sorted(const Direction& dir) {
    for (std::size_t i = 0; i < points_.size(); ++i) {
      values_[i] = dir.x * points_[i][0] + dir.y * points_[i][1];
    }
    if (!order_.empty() && values_[order_.front()] > values_[order_.back()]) {
      std::ranges::reverse(order_);
    }
    for (std::size_t i = 1; i < order_.size(); ++i) {
      const std::uint32_t moving = order_[i];
      const value_t value = values_[moving];
      std::size_t j = i;
      for (; j > 0 && values_[order_[j - 1]] > value; --j) {
        order_[j] = order_[j - 1];
      }
      order_[j] = moving;
    }
    for (std::size_t i = 0; i < order_.size(); ++i) {
      sorted_[i] = values_[order_[i]];
    }
    return sorted_;
  }

 private:
  std::span<const Interval> points_;
  std::vector<std::uint32_t> order_;
  std::vector<value_t> values_;
  std::vector<value_t> sorted_;
};

// b + d of each point, increasing: its diagonal point's projection is that times a direction's
// diagonal factor, so one sort serves every direction.
std::vector<value_t> sorted_midpoint_sums(std::span<const Interval> points) {
  std::vector<value_t> sums(points.size());
  std::ranges::transform(points, sums.begin(), [](const Interval& i) { return i[0] + i[1]; });
  std::ranges::sort(sums);
  return sums;
}

// The diagonal projections in increasing order (the sums' order, or its reverse when the
// direction's diagonal factor is negative), written to the front of out.
std::span<const value_t> diagonal_projections(std::span<const value_t> sums, const Direction& dir,
                                              std::vector<value_t>& out) {
  const std::size_t n = sums.size();
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = dir.diagonal * (dir.diagonal >= 0 ? sums[i] : sums[n - 1 - i]);
  }
  return {out.data(), n};
}

}  // namespace

DiagramFeatures diagram_features(std::span<const Interval> diagram) {
  DiagramFeatures out;
  value_t positive_sum = 0;
  for (const Interval& interval : diagram) {
    if (!finite(interval)) {
      ++out.betti;
      continue;
    }
    const value_t length = interval[1] - interval[0];
    out.total_persistence += length;
    if (length > 0) {
      positive_sum += length;
    }
  }
  if (positive_sum > 0) {
    for (const Interval& interval : diagram) {
      const value_t length = interval[1] - interval[0];
      if (finite(interval) && length > 0) {
        const value_t p = length / positive_sum;
        out.entropy -= p * std::log(p);
      }
    }
  }
  return out;
}

value_t sliced_wasserstein(std::span<const Interval> a_all, std::span<const Interval> b_all) {
  const std::vector<Interval> a = finite_part(a_all);
  const std::vector<Interval> b = finite_part(b_all);
  if (a.empty() && b.empty()) {
    return 0;
  }
  Projections a_points(a);
  Projections b_points(b);
  const std::vector<value_t> a_diagonal = sorted_midpoint_sums(a);
  const std::vector<value_t> b_diagonal = sorted_midpoint_sums(b);
  const std::size_t size = a.size() + b.size();
  std::vector<value_t> left(size);
  std::vector<value_t> right(size);
  std::vector<value_t> diagonal(std::max(a.size(), b.size()));
  value_t total = 0;
  for (const Direction& dir : directions()) {
    // left: a's points and b's diagonal projections; right: b's points and a's.
    std::ranges::merge(a_points.sorted(dir), diagonal_projections(b_diagonal, dir, diagonal),
                       left.begin());
    std::ranges::merge(b_points.sorted(dir), diagonal_projections(a_diagonal, dir, diagonal),
                       right.begin());
    for (std::size_t k = 0; k < size; ++k) {
      total += std::abs(left[k] - right[k]);
    }
  }
  return total / kSlices;
}

value_t anomaly_score(const Diagrams& previous, const Diagrams& current) {
  value_t score = 0;
  const std::size_t dims = std::max(previous.size(), current.size());
  for (std::size_t dim = 0; dim < dims; ++dim) {
    const std::span<const Interval> p = dim < previous.size()
                                            ? std::span<const Interval>(previous[dim])
                                            : std::span<const Interval>();
    const std::span<const Interval> c = dim < current.size()
                                            ? std::span<const Interval>(current[dim])
                                            : std::span<const Interval>();
    score += sliced_wasserstein(p, c);
    const std::size_t ep = essential(p);
    const std::size_t ec = essential(c);
    score += static_cast<value_t>(ep > ec ? ep - ec : ec - ep);
  }
  return score;
}

}  // namespace tda
