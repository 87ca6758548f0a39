// Helpers shared by the binding modules of tda_backend.core._core: converting results to
// NumPy and adapting Python's progress callbacks and cancel tokens to tda::Control.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include "tda/diagram.hpp"

namespace tda::python {

namespace nb = nanobind;

// A flag a Python thread raises to stop a computation running in another thread.
class CancelToken {
 public:
  void cancel() noexcept { flag_.store(true, std::memory_order_relaxed); }
  [[nodiscard]] bool cancelled() const noexcept { return flag_.load(std::memory_order_relaxed); }
  [[nodiscard]] const std::atomic<bool>* flag() const noexcept { return &flag_; }

 private:
  std::atomic<bool> flag_{false};
};

// Builds a Control; the progress callable is invoked with the GIL held.
inline Control make_control(const std::optional<nb::callable>& progress, const CancelToken* cancel,
                            std::uint64_t memory_budget_bytes) {
  Control control;
  if (progress) {
    control.progress = [callback = *progress](double fraction) {
      const nb::gil_scoped_acquire gil;
      callback(fraction);
    };
  }
  control.cancel = cancel != nullptr ? cancel->flag() : nullptr;
  control.memory_budget_bytes = static_cast<std::size_t>(memory_budget_bytes);
  return control;
}

template <class T>
nb::ndarray<nb::numpy, T> to_numpy(std::vector<T>&& values,
                                   std::initializer_list<std::size_t> shape) {
  auto* owned = new std::vector<T>(std::move(values));
  const nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T>(owned->data(), shape, owner);
}

// {"diagrams": [ndarray (k, 2)], "birth_simplices": [[ndarray]] | None, "death_simplices": ...}
inline nb::dict to_python(PersistenceResult&& result, bool representatives) {
  nb::list diagrams;
  nb::list births;
  nb::list deaths;
  for (auto& pairs : result.diagrams) {
    std::vector<double> flat;
    flat.reserve(pairs.size() * 2);
    nb::list dim_births;
    nb::list dim_deaths;
    for (auto& pair : pairs) {
      flat.push_back(pair.birth);
      flat.push_back(pair.death);
      if (representatives) {
        const std::size_t b = pair.birth_simplex.size();
        const std::size_t d = pair.death_simplex.size();
        dim_births.append(to_numpy(std::move(pair.birth_simplex), {b}));
        dim_deaths.append(to_numpy(std::move(pair.death_simplex), {d}));
      }
    }
    diagrams.append(to_numpy(std::move(flat), {pairs.size(), 2}));
    births.append(dim_births);
    deaths.append(dim_deaths);
  }
  nb::dict out;
  out["diagrams"] = diagrams;
  out["birth_simplices"] = representatives ? nb::object(births) : nb::none();
  out["death_simplices"] = representatives ? nb::object(deaths) : nb::none();
  return out;
}

}  // namespace tda::python
