// Bindings of the alpha-complex module: tda_backend.core.alpha is their typed face.
#include <cstdint>
#include <optional>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/vector.h>

#include "common.hpp"
#include "tda/alpha.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace tda::python {
namespace {

using Matrix = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;

AlphaOptions make_options(int maxdim, bool squared_radius, std::uint64_t modulus,
                          bool representatives) {
  AlphaOptions options;
  options.maxdim = maxdim;
  options.squared_radius = squared_radius;
  options.modulus = modulus;
  options.representatives = representatives;
  return options;
}

nb::dict stats_to_python(const AlphaStats& stats) {
  nb::dict timings;
  timings["triangulation"] = stats.triangulation_seconds;
  timings["filtration"] = stats.filtration_seconds;
  timings["sort"] = stats.sort_seconds;
  timings["reduction"] = stats.reduction_seconds;
  nb::dict out;
  out["timings"] = timings;
  out["n_distinct_points"] = stats.distinct_points;
  out["affine_dimension"] = stats.affine_dimension;
  out["simplices"] = stats.simplices;
  out["exact_radii"] = stats.exact_radii;
  return out;
}

}  // namespace

void bind_alpha(nb::module_& m) {
  m.def(
      "alpha_complex",
      [](const Matrix& points, int maxdim, bool squared_radius, std::uint64_t modulus,
         bool representatives, std::optional<nb::callable> progress, const CancelToken* cancel,
         std::uint64_t memory_budget_bytes) {
        const AlphaOptions options = make_options(maxdim, squared_radius, modulus, representatives);
        const Control control = make_control(progress, cancel, memory_budget_bytes);
        PersistenceResult result;
        AlphaStats stats;
        {
          const nb::gil_scoped_release release;
          result = tda::alpha_complex(points.data(), points.shape(0), points.shape(1), options,
                                      control, &stats);
        }
        nb::dict out = to_python(std::move(result), representatives);
        out["stats"] = stats_to_python(stats);
        return out;
      },
      "points"_a, "maxdim"_a, "squared_radius"_a, "modulus"_a, "representatives"_a,
      "progress"_a.none(), "cancel"_a.none(), "memory_budget_bytes"_a,
      "Persistence diagrams of the alpha filtration (GIL released while computing).");

  m.def(
      "estimate_alpha",
      [](const Matrix& points, int maxdim) {
        Estimate estimate;
        {
          const nb::gil_scoped_release release;
          estimate = tda::estimate_alpha(points.data(), points.shape(0), points.shape(1),
                                         make_options(maxdim, true, 2, false));
        }
        return nb::make_tuple(estimate.simplices, estimate.bytes);
      },
      "points"_a, "maxdim"_a,
      "Expected simplex counts per dimension and peak bytes of alpha_complex.");
}

}  // namespace tda::python
