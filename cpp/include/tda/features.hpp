// Features of persistence diagrams: Betti numbers, total persistence, persistent entropy, and
// the sliced Wasserstein distance between diagrams (the windowed stream job's anomaly score).
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <vector>

#include "tda/diagram.hpp"

namespace tda {

// (birth, death); death is +inf for an essential class.
using Interval = std::array<value_t, 2>;
// diagrams[k]: the intervals of dimension k.
using Diagrams = std::vector<std::vector<Interval>>;

struct DiagramFeatures {
  std::size_t betti = 0;          // essential classes
  value_t total_persistence = 0;  // sum of the finite intervals' lengths
  value_t entropy = 0;  // Shannon entropy of the positive finite lengths, normalised (0 if none)
};

[[nodiscard]] DiagramFeatures diagram_features(std::span<const Interval> diagram);

// Number of fixed directions of the sliced Wasserstein distance, spread evenly over
// [-pi/2, pi/2): the same for every call, so that distances are comparable over time.
inline constexpr std::size_t kSlices = 32;

// Sliced Wasserstein distance between the finite parts of two diagrams (Carriere, Cuturi, Oudot
// 2017): each diagram is completed by the other's projections onto the diagonal, and the
// 1-Wasserstein distances of both point sets projected onto each direction are averaged.
[[nodiscard]] value_t sliced_wasserstein(std::span<const Interval> a, std::span<const Interval> b);

// Distance of a window's diagrams to the previous window's: per dimension (a missing dimension
// is empty) the sliced Wasserstein distance plus the change in the number of essential classes.
[[nodiscard]] value_t anomaly_score(const Diagrams& previous, const Diagrams& current);

}  // namespace tda
