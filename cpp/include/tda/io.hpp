// Reading the input formats of Ripser and writing diagrams as Ripser-style text or JSON.
#pragma once

#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "tda/diagram.hpp"
#include "tda/distance.hpp"

namespace tda {

enum class InputFormat {
  point_cloud,
  lower_distance,
  upper_distance,
  distance,
  sparse,
  dipha,
  binary
};

// Parses a format name as the CLI spells it ("point-cloud", "lower-distance", ...).
[[nodiscard]] InputFormat parse_input_format(std::string_view name);

// What a file holds: exactly one of the members is set according to the format.
struct InputData {
  std::vector<double> coordinates;  // point cloud, row-major
  std::size_t n = 0;                // points or vertices
  std::size_t dim = 0;              // point cloud only
  std::optional<DenseDistances> dense;
  std::optional<SparseDistances> sparse;

  [[nodiscard]] bool is_point_cloud() const noexcept { return !dense && !sparse; }
  [[nodiscard]] PointCloud points() const { return {coordinates, n, dim}; }
};

// Reads a whole stream in the given format. Throws std::invalid_argument with the line number
// and the offending text for malformed input (non-numeric tokens, ragged rows, non-square or
// asymmetric matrices, negative or non-finite values, empty input, a sparse vertex index of
// 2^24 or more). Memory grows with the bytes actually read, never with sizes a header claims.
[[nodiscard]] InputData read_input(std::istream& in, InputFormat format);

// Ripser's text layout: "persistence intervals in dim k:" then " [b,d)" or " [b, )" per pair.
// Pairs with death <= ratio * birth are left out (ratio 1 keeps all of positive persistence).
void write_intervals_text(std::ostream& out, const PersistenceResult& result, double ratio = 1);

// {"diagrams": {"0": [[b, d], ...], ...}} with null for an infinite death, followed by the
// members of `extra` (already-serialised JSON values keyed by name) and, when the result
// carries them, "representatives": {"0": [{"birth": [...], "death": [...]}, ...]}.
void write_json(std::ostream& out, const PersistenceResult& result,
                const std::vector<std::pair<std::string, std::string>>& extra = {},
                double ratio = 1);

// Shortest decimal form that reads back to the same double ("1", "0.5", "1e-05").
[[nodiscard]] std::string format_value(double value);

}  // namespace tda
