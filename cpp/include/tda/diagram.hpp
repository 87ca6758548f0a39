// Persistence diagrams and the controls every computation of the engine accepts.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace tda {

using value_t = double;
using vertex_t = std::int64_t;

inline constexpr value_t kInfinity = std::numeric_limits<value_t>::infinity();

// One interval [birth, death); death is +inf for an essential class. The simplices are the
// ones whose filtration values are birth and death, as sorted vertex lists (death_simplex is
// empty for an essential class); they are filled only when representatives are requested.
struct PersistencePair {
  value_t birth = 0;
  value_t death = kInfinity;
  std::vector<vertex_t> birth_simplex;
  std::vector<vertex_t> death_simplex;

  [[nodiscard]] bool essential() const noexcept { return death == kInfinity; }
};

// diagrams[k] holds the pairs of dimension k, in the order the reduction found them.
struct PersistenceResult {
  std::vector<std::vector<PersistencePair>> diagrams;
};

// Thrown when the caller's cancellation flag was raised during a computation.
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("computation cancelled") {}
};

// Thrown when a computation would exceed a resource the caller limited (memory budget,
// index range); the message says what to change.
class ResourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a caller learns before computing: counts of simplices per dimension (upper bounds
// where exact counting would cost as much as the computation) and the peak memory expected.
struct Estimate {
  std::vector<double> simplices;  // simplices[k]: k-simplices within the threshold
  double bytes = 0;
};

// Hooks a long computation checks. progress receives a fraction in [0, 1]; it is called from
// the computing thread, at most a few hundred times per computation. cancel is polled often
// enough that a raised flag stops the computation within a fraction of a second.
struct Control {
  std::function<void(double)> progress;
  const std::atomic<bool>* cancel = nullptr;
  std::size_t memory_budget_bytes = 0;  // 0: no limit

  void check_cancelled() const {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      throw Cancelled();
    }
  }
  void report(double fraction) const {
    if (progress) {
      progress(fraction);
    }
  }
};

}  // namespace tda
