#include <fmt/core.h>
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "common.hpp"
#include "tda/rips.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace tda::python {
namespace {

using Matrix = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Vector = nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using IndexVector = nb::ndarray<const std::int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

RipsInput from_points(const Matrix& points, const std::string& metric,
                      std::optional<double> threshold, unsigned n_threads) {
  const PointCloud cloud{
      {points.data(), points.shape(0) * points.shape(1)}, points.shape(0), points.shape(1)};
  const Metric m = parse_metric(metric);
  const nb::gil_scoped_release release;
  if (threshold) {
    if (!(*threshold >= 0)) {
      throw std::invalid_argument(
          fmt::format("threshold must be a non-negative number, got {}", *threshold));
    }
    return sparse_distances(cloud, m, *threshold, std::max(1U, n_threads));
  }
  return dense_distances(cloud, m, std::max(1U, n_threads));
}

RipsInput from_matrix(const Matrix& matrix) {
  const std::size_t n = matrix.shape(0);
  if (matrix.shape(1) != n) {
    throw std::invalid_argument(
        fmt::format("a distance matrix must be square, got shape ({}, {})", n, matrix.shape(1)));
  }
  if (n == 0) {
    throw std::invalid_argument("the distance matrix is empty");
  }
  const double* d = matrix.data();
  std::vector<double> lower;
  lower.reserve(n * (n - 1) / 2);
  for (std::size_t i = 0; i < n; ++i) {
    if (d[i * n + i] != 0) {
      throw std::invalid_argument(fmt::format(
          "diagonal entry ({}, {}) of the distance matrix is {}, expected 0", i, i, d[i * n + i]));
    }
    for (std::size_t j = 0; j < i; ++j) {
      // Exact comparison: NaN fails it and is reported by DenseDistances below.
      if (d[i * n + j] != d[j * n + i] && !(std::isnan(d[i * n + j]) || std::isnan(d[j * n + i]))) {
        throw std::invalid_argument(fmt::format(
            "the distance matrix is not symmetric: entry ({}, {}) is {} but ({}, {}) is {}", i, j,
            d[i * n + j], j, i, d[j * n + i]));
      }
      lower.push_back(d[i * n + j]);
    }
  }
  return DenseDistances(std::move(lower));
}

RipsInput from_sparse(std::size_t n, const IndexVector& rows, const IndexVector& cols,
                      const Vector& values) {
  if (rows.shape(0) != cols.shape(0) || rows.shape(0) != values.shape(0)) {
    throw std::invalid_argument("sparse rows, columns and values must have the same length");
  }
  if (n == 0) {
    throw std::invalid_argument("the distance matrix is empty");
  }
  std::vector<SparseDistances::Edge> edges;
  edges.reserve(rows.shape(0));
  for (std::size_t k = 0; k < rows.shape(0); ++k) {
    if (rows.data()[k] < 0 || cols.data()[k] < 0) {
      throw std::invalid_argument(fmt::format("sparse entry {} has a negative index", k));
    }
    edges.push_back({static_cast<std::size_t>(rows.data()[k]),
                     static_cast<std::size_t>(cols.data()[k]), values.data()[k]});
  }
  return SparseDistances(n, edges);
}

RipsOptions make_options(int maxdim, std::optional<double> threshold, std::uint64_t modulus,
                         unsigned n_threads, bool representatives) {
  RipsOptions options;
  options.maxdim = maxdim;
  options.threshold = threshold;
  options.modulus = modulus;
  options.n_threads = n_threads;
  options.representatives = representatives;
  return options;
}

}  // namespace

void bind_rips(nb::module_& m) {
  nb::class_<RipsInput>(m, "RipsInput", "Validated distances of a Vietoris-Rips computation.")
      .def_prop_ro("n_points",
                   [](const RipsInput& input) {
                     return std::visit([](const auto& d) { return d.size(); }, input);
                   })
      .def_prop_ro("is_sparse", [](const RipsInput& input) {
        return std::holds_alternative<SparseDistances>(input);
      });

  m.def("rips_input_from_points", &from_points, "points"_a, "metric"_a, "threshold"_a.none(),
        "n_threads"_a, "Distances of a point cloud; only pairs within threshold when given.");
  m.def("check_index_range", &check_index_range, "n"_a, "maxdim"_a, "modulus"_a,
        "Raise ResourceError when simplex indices would overflow 64 bits.");
  m.def("rips_input_from_matrix", &from_matrix, "matrix"_a, "A full symmetric distance matrix.");
  m.def("rips_input_from_sparse", &from_sparse, "n"_a, "rows"_a, "cols"_a, "values"_a,
        "Sparse distances as triplets; missing entries are +inf.");

  m.def(
      "vietoris_rips",
      [](const RipsInput& input, int maxdim, std::optional<double> threshold, std::uint64_t modulus,
         unsigned n_threads, bool representatives, std::optional<nb::callable> progress,
         const CancelToken* cancel, std::uint64_t memory_budget_bytes) {
        const RipsOptions options =
            make_options(maxdim, threshold, modulus, n_threads, representatives);
        const Control control = make_control(progress, cancel, memory_budget_bytes);
        PersistenceResult result;
        value_t used_threshold = 0;
        {
          const nb::gil_scoped_release release;
          result = tda::vietoris_rips(input, options, control);
          used_threshold = effective_threshold(input, options);
        }
        nb::dict out = to_python(std::move(result), representatives);
        out["threshold"] = used_threshold;
        return out;
      },
      "input"_a, "maxdim"_a, "threshold"_a.none(), "modulus"_a, "n_threads"_a, "representatives"_a,
      "progress"_a.none(), "cancel"_a.none(), "memory_budget_bytes"_a,
      "Persistence diagrams of the Vietoris-Rips filtration (GIL released while computing).");

  m.def(
      "estimate_rips",
      [](const RipsInput& input, int maxdim, std::optional<double> threshold) {
        const RipsOptions options = make_options(maxdim, threshold, 2, 1, false);
        Estimate estimate;
        {
          const nb::gil_scoped_release release;
          estimate = tda::estimate_rips(input, options);
        }
        return nb::make_tuple(estimate.simplices, estimate.bytes);
      },
      "input"_a, "maxdim"_a, "threshold"_a.none(),
      "Simplex counts per dimension (upper bounds) and expected peak bytes.");
}

}  // namespace tda::python
