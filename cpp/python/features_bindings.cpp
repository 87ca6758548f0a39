// Diagram features, and one sliding window of a stream computed whole: Rips persistence of its
// points, features, anomaly score against the previous window, and the JSON of all of it.
#include <cmath>
#include <cstring>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <fmt/core.h>
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "tda/distance.hpp"
#include "tda/features.hpp"
#include "tda/rips.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace tda::python {
namespace {

using Matrix = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Pairs = nb::ndarray<const double, nb::shape<-1, 2>, nb::c_contig, nb::device::cpu>;

std::vector<Interval> to_intervals(const Pairs& pairs) {
  std::vector<Interval> out(pairs.shape(0));
  if (!out.empty()) {
    std::memcpy(out.data(), pairs.data(), out.size() * sizeof(Interval));
  }
  return out;
}

Diagrams to_diagrams(const std::vector<Pairs>& diagrams) {
  Diagrams out;
  out.reserve(diagrams.size());
  for (const Pairs& pairs : diagrams) {
    out.push_back(to_intervals(pairs));
  }
  return out;
}

// The state form of diagrams: the number of dimensions, each dimension's count of intervals,
// then the intervals' values, all native 8-byte words.
std::string to_bytes(const Diagrams& diagrams) {
  std::vector<std::uint64_t> header{diagrams.size()};
  std::size_t values = 0;
  for (const auto& pairs : diagrams) {
    header.push_back(pairs.size());
    values += 2 * pairs.size();
  }
  std::string out((header.size() + values) * 8, '\0');
  char* cursor = out.data();
  std::memcpy(cursor, header.data(), header.size() * 8);
  cursor += header.size() * 8;
  for (const auto& pairs : diagrams) {
    if (!pairs.empty()) {
      std::memcpy(cursor, pairs.data(), pairs.size() * sizeof(Interval));
      cursor += pairs.size() * sizeof(Interval);
    }
  }
  return out;
}

Diagrams from_bytes(std::string_view bytes) {
  const auto word = [&](std::size_t k) {
    if ((k + 1) * 8 > bytes.size()) {
      throw std::invalid_argument("the previous window's diagrams are truncated");
    }
    std::uint64_t value = 0;
    std::memcpy(&value, bytes.data() + k * 8, 8);
    return value;
  };
  const std::uint64_t dims = word(0);
  if (dims > bytes.size() / 8) {
    throw std::invalid_argument("the previous window's diagrams are malformed");
  }
  Diagrams out(dims);
  std::size_t offset = (1 + dims) * 8;
  for (std::size_t d = 0; d < dims; ++d) {
    const std::uint64_t count = word(1 + d);
    if (count > (bytes.size() - std::min(offset, bytes.size())) / sizeof(Interval)) {
      throw std::invalid_argument("the previous window's diagrams are truncated");
    }
    out[d].resize(count);
    if (count > 0) {
      std::memcpy(out[d].data(), bytes.data() + offset, count * sizeof(Interval));
    }
    offset += count * sizeof(Interval);
  }
  return out;
}

// A double as JSON: shortest round-trip digits, always with a fraction or exponent (as Python
// writes floats), null for +inf.
void write_number(std::string& out, value_t value) {
  if (std::isinf(value)) {
    out += "null";
    return;
  }
  const std::size_t start = out.size();
  fmt::format_to(std::back_inserter(out), "{}", value);
  if (out.find_first_of(".e", start) == std::string::npos) {
    out += ".0";
  }
}

// "diagrams": {...}, "betti", "total_persistence", "persistent_entropy", "anomaly_score" as the
// members of a JSON object, without its braces.
std::string window_json(const Diagrams& diagrams, value_t score) {
  std::size_t intervals = 0;
  for (const auto& pairs : diagrams) {
    intervals += pairs.size();
  }
  std::string out;
  out.reserve(128 + 96 * diagrams.size() + 48 * intervals);
  std::vector<DiagramFeatures> features;
  out += "\"diagrams\":{";
  for (std::size_t dim = 0; dim < diagrams.size(); ++dim) {
    fmt::format_to(std::back_inserter(out), "{}\"{}\":[", dim == 0 ? "" : ",", dim);
    const char* separator = "";
    for (const Interval& interval : diagrams[dim]) {
      out += separator;
      out += '[';
      write_number(out, interval[0]);
      out += ',';
      write_number(out, interval[1]);
      out += ']';
      separator = ",";
    }
    out += ']';
    features.push_back(diagram_features(diagrams[dim]));
  }
  out += "},\"betti\":[";
  for (std::size_t dim = 0; dim < features.size(); ++dim) {
    fmt::format_to(std::back_inserter(out), "{}{}", dim == 0 ? "" : ",", features[dim].betti);
  }
  out += ']';
  const auto per_dimension = [&](std::string_view name, value_t DiagramFeatures::*member) {
    fmt::format_to(std::back_inserter(out), ",\"{}\":{{", name);
    for (std::size_t dim = 0; dim < features.size(); ++dim) {
      fmt::format_to(std::back_inserter(out), "{}\"{}\":", dim == 0 ? "" : ",", dim);
      write_number(out, features[dim].*member);
    }
    out += '}';
  };
  per_dimension("total_persistence", &DiagramFeatures::total_persistence);
  per_dimension("persistent_entropy", &DiagramFeatures::entropy);
  out += ",\"anomaly_score\":";
  write_number(out, score);
  return out;
}

}  // namespace

void bind_features(nb::module_& m) {
  m.def(
      "diagram_features",
      [](const std::vector<Pairs>& diagrams) {
        std::vector<std::size_t> betti;
        std::vector<double> total;
        std::vector<double> entropy;
        for (const Pairs& pairs : diagrams) {
          const DiagramFeatures f = diagram_features(to_intervals(pairs));
          betti.push_back(f.betti);
          total.push_back(f.total_persistence);
          entropy.push_back(f.entropy);
        }
        return std::make_tuple(betti, total, entropy);
      },
      "diagrams"_a, "Per dimension: essential classes, total persistence, persistent entropy.");
  m.def(
      "sliced_wasserstein",
      [](const Pairs& a, const Pairs& b) {
        return sliced_wasserstein(to_intervals(a), to_intervals(b));
      },
      "a"_a, "b"_a, "Sliced Wasserstein distance between the finite parts of two diagrams.");
  m.def(
      "anomaly_score",
      [](const std::vector<Pairs>& previous, const std::vector<Pairs>& current) {
        return anomaly_score(to_diagrams(previous), to_diagrams(current));
      },
      "previous"_a, "current"_a,
      "Sliced Wasserstein distance plus change of essential classes, summed over dimensions.");
  m.def(
      "window_features",
      [](const Matrix& points, int maxdim, std::optional<nb::bytes> previous) {
        const PointCloud cloud{
            {points.data(), points.shape(0) * points.shape(1)}, points.shape(0), points.shape(1)};
        const std::optional<std::string> previous_bytes =
            previous ? std::optional<std::string>(std::string(previous->c_str(), previous->size()))
                     : std::nullopt;
        std::string json;
        std::string state;
        {
          const nb::gil_scoped_release release;
          RipsOptions options;
          options.maxdim = maxdim;
          const PersistenceResult result =
              vietoris_rips(dense_distances(cloud, Metric::euclidean), options);
          Diagrams diagrams;
          diagrams.reserve(result.diagrams.size());
          for (const auto& pairs : result.diagrams) {
            auto& out = diagrams.emplace_back();
            out.reserve(pairs.size());
            for (const PersistencePair& pair : pairs) {
              out.push_back({pair.birth, pair.death});
            }
          }
          const value_t score =
              previous_bytes ? anomaly_score(from_bytes(*previous_bytes), diagrams) : 0.0;
          json = window_json(diagrams, score);
          state = to_bytes(diagrams);
        }
        return std::make_tuple(nb::bytes(json.data(), json.size()),
                               nb::bytes(state.data(), state.size()));
      },
      "points"_a, "maxdim"_a, "previous"_a.none(),
      "One stream window: Euclidean Vietoris-Rips diagrams up to maxdim and their features as "
      "JSON object members (diagrams, betti, total_persistence, persistent_entropy, "
      "anomaly_score against the previous window's diagrams), and these diagrams as bytes for "
      "the next window's previous.");
}

}  // namespace tda::python
