#include "tda/io.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <stdexcept>

#include <fmt/core.h>

namespace tda {

InputFormat parse_input_format(std::string_view name) {
  static constexpr std::pair<std::string_view, InputFormat> kNames[] = {
      {"point-cloud", InputFormat::point_cloud},
      {"lower-distance", InputFormat::lower_distance},
      {"upper-distance", InputFormat::upper_distance},
      {"distance", InputFormat::distance},
      {"sparse", InputFormat::sparse},
      {"dipha", InputFormat::dipha},
      {"binary", InputFormat::binary}};
  for (const auto& [key, format] : kNames) {
    if (key == name) {
      return format;
    }
  }
  throw std::invalid_argument(fmt::format(
      "unknown format '{}': expected point-cloud, lower-distance, upper-distance, distance, "
      "sparse, dipha or binary",
      name));
}

namespace {

// Numbers of one line, separated by white space or commas.
std::vector<double> parse_line(std::string_view line, std::size_t line_number) {
  std::vector<double> values;
  std::size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    if (c == ' ' || c == '\t' || c == ',' || c == '\r' || c == ';') {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t' && line[end] != ',' &&
           line[end] != '\r' && line[end] != ';') {
      ++end;
    }
    const std::string_view token = line.substr(i, end - i);
    double value = 0;
    const char* first = token.data();
    if (!token.empty() && token.front() == '+') {
      ++first;
    }
    const auto [ptr, ec] = std::from_chars(first, token.data() + token.size(), value);
    if (ec != std::errc() || ptr != token.data() + token.size()) {
      throw std::invalid_argument(
          fmt::format("line {}: '{}' is not a number", line_number, token.substr(0, 40)));
    }
    if (!std::isfinite(value)) {
      throw std::invalid_argument(
          fmt::format("line {}: '{}' is not a finite number", line_number, token.substr(0, 40)));
    }
    values.push_back(value);
    i = end;
  }
  return values;
}

std::vector<std::vector<double>> read_rows(std::istream& in) {
  std::vector<std::vector<double>> rows;
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    auto values = parse_line(line, line_number);
    rows.push_back(std::move(values));
  }
  return rows;
}

std::vector<double> flatten(const std::vector<std::vector<double>>& rows) {
  std::vector<double> all;
  for (const auto& row : rows) {
    all.insert(all.end(), row.begin(), row.end());
  }
  return all;
}

void require_nonempty(std::size_t count) {
  if (count == 0) {
    throw std::invalid_argument("the input is empty: no numbers were found");
  }
}

InputData from_lower(std::vector<double> lower) {
  InputData data;
  data.dense.emplace(std::move(lower));
  data.n = data.dense->size();
  return data;
}

InputData read_point_cloud(std::istream& in) {
  const auto rows = read_rows(in);
  InputData data;
  std::size_t line_number = 0;
  for (const auto& row : rows) {
    ++line_number;
    if (row.empty()) {
      continue;
    }
    if (data.dim == 0) {
      data.dim = row.size();
    } else if (row.size() != data.dim) {
      throw std::invalid_argument(
          fmt::format("line {}: a point with {} coordinates where earlier points have {}",
                      line_number, row.size(), data.dim));
    }
    data.coordinates.insert(data.coordinates.end(), row.begin(), row.end());
    ++data.n;
  }
  require_nonempty(data.n);
  return data;
}

InputData read_lower(std::istream& in) {
  auto values = flatten(read_rows(in));
  require_nonempty(values.size());
  return from_lower(std::move(values));
}

InputData read_upper(std::istream& in) {
  const auto values = flatten(read_rows(in));
  require_nonempty(values.size());
  const DenseDistances shape(std::vector<double>(values.size(), 0.0));  // validates the length
  const std::size_t n = shape.size();
  std::vector<double> lower(values.size());
  // Upper row i holds d(i, i+1) .. d(i, n-1).
  std::size_t k = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      lower[j * (j - 1) / 2 + i] = values[k++];
    }
  }
  return from_lower(std::move(lower));
}

InputData read_full(std::istream& in) {
  std::vector<std::vector<double>> rows;
  for (auto& row : read_rows(in)) {
    if (!row.empty()) {
      rows.push_back(std::move(row));
    }
  }
  require_nonempty(rows.size());
  const std::size_t n = rows.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (rows[i].size() != n) {
      throw std::invalid_argument(
          fmt::format("the distance matrix is not square: row {} has {} entries, expected {}", i,
                      rows[i].size(), n));
    }
    if (rows[i][i] != 0) {
      throw std::invalid_argument(
          fmt::format("diagonal entry ({}, {}) is {}, expected 0", i, i, rows[i][i]));
    }
  }
  std::vector<double> lower;
  lower.reserve(n * (n - 1) / 2);
  for (std::size_t i = 1; i < n; ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (rows[i][j] != rows[j][i]) {
        throw std::invalid_argument(fmt::format(
            "the distance matrix is not symmetric: entry ({}, {}) is {} but ({}, {}) is {}", i, j,
            rows[i][j], j, i, rows[j][i]));
      }
      lower.push_back(rows[i][j]);
    }
  }
  return from_lower(std::move(lower));
}

constexpr std::size_t kMaxSparseVertices = std::size_t{1} << 24;

InputData read_sparse(std::istream& in) {
  const auto rows = read_rows(in);
  std::vector<SparseDistances::Edge> edges;
  std::size_t n = 0;
  std::size_t line_number = 0;
  for (const auto& row : rows) {
    ++line_number;
    if (row.empty()) {
      continue;
    }
    if (row.size() != 3) {
      throw std::invalid_argument(
          fmt::format("line {}: a sparse entry needs 3 numbers (i j distance), found {}",
                      line_number, row.size()));
    }
    for (int k = 0; k < 2; ++k) {
      const double v = row[static_cast<std::size_t>(k)];
      if (v < 0 || v != std::floor(v)) {
        throw std::invalid_argument(
            fmt::format("line {}: vertex '{}' is not a valid index", line_number, v));
      }
      // Every vertex up to the largest index exists (isolated ones too) and costs memory, so
      // one line naming vertex 4e9 would otherwise ask for tens of gigabytes.
      if (v >= static_cast<double>(kMaxSparseVertices)) {
        throw std::invalid_argument(
            fmt::format("line {}: vertex {} is beyond the largest index {} of a sparse matrix",
                        line_number, v, kMaxSparseVertices - 1));
      }
    }
    const auto i = static_cast<std::size_t>(row[0]);
    const auto j = static_cast<std::size_t>(row[1]);
    edges.push_back({i, j, row[2]});
    n = std::max({n, i + 1, j + 1});
  }
  require_nonempty(edges.size());
  InputData data;
  data.sparse.emplace(n, edges);
  data.n = n;
  return data;
}

template <class T>
bool read_raw(std::istream& in, T& value) {
  std::array<char, sizeof(T)> bytes{};
  if (!in.read(bytes.data(), bytes.size())) {
    return false;
  }
  std::memcpy(&value, bytes.data(), sizeof(T));
  return true;
}

InputData read_dipha(std::istream& in) {
  std::int64_t magic = 0;
  std::int64_t type = 0;
  std::int64_t n = 0;
  if (!read_raw(in, magic) || magic != 8067171840) {
    throw std::invalid_argument("not a DIPHA file: the magic number 8067171840 is missing");
  }
  if (!read_raw(in, type) || type != 7) {
    throw std::invalid_argument("the DIPHA file does not hold a distance matrix (type 7)");
  }
  if (!read_raw(in, n) || n <= 0 || n > (std::int64_t{1} << 20)) {
    throw std::invalid_argument("the DIPHA file has an invalid number of points");
  }
  const auto size = static_cast<std::size_t>(n);
  // Grown as values arrive, not allocated from the header: a short file that claims a
  // million points must fail at its end, not by asking for terabytes first.
  std::vector<double> full;
  for (std::size_t k = 0; k < size * size; ++k) {
    double v = 0;
    if (!read_raw(in, v)) {
      throw std::invalid_argument(
          fmt::format("the DIPHA file ends before its {}x{} matrix does", n, n));
    }
    full.push_back(v);
  }
  std::vector<double> lower;
  lower.reserve(size * (size - 1) / 2);
  for (std::size_t i = 1; i < size; ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (full[i * size + j] != full[j * size + i]) {
        throw std::invalid_argument(
            fmt::format("the distance matrix is not symmetric at ({}, {})", i, j));
      }
      lower.push_back(full[i * size + j]);
    }
  }
  return from_lower(std::move(lower));
}

InputData read_binary(std::istream& in) {
  std::vector<double> lower;
  float v = 0;
  while (read_raw(in, v)) {
    lower.push_back(static_cast<double>(v));
  }
  if (in.gcount() != 0) {
    throw std::invalid_argument("binary input ends in the middle of a 4-byte float");
  }
  require_nonempty(lower.size());
  return from_lower(std::move(lower));
}

}  // namespace

InputData read_input(std::istream& in, InputFormat format) {
  switch (format) {
    case InputFormat::point_cloud:
      return read_point_cloud(in);
    case InputFormat::lower_distance:
      return read_lower(in);
    case InputFormat::upper_distance:
      return read_upper(in);
    case InputFormat::distance:
      return read_full(in);
    case InputFormat::sparse:
      return read_sparse(in);
    case InputFormat::dipha:
      return read_dipha(in);
    case InputFormat::binary:
      return read_binary(in);
  }
  throw std::invalid_argument("unknown input format");
}

std::string format_value(double value) {
  if (std::isinf(value)) {
    return value > 0 ? "inf" : "-inf";
  }
  std::array<char, 64> buffer{};
  const auto [ptr, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return {buffer.data(), ptr};
}

namespace {

bool shown(const PersistencePair& pair, double ratio) {
  return pair.essential() || pair.death > pair.birth * ratio;
}

}  // namespace

void write_intervals_text(std::ostream& out, const PersistenceResult& result, double ratio) {
  for (std::size_t dim = 0; dim < result.diagrams.size(); ++dim) {
    out << "persistence intervals in dim " << dim << ":\n";
    for (const auto& pair : result.diagrams[dim]) {
      if (!shown(pair, ratio)) {
        continue;
      }
      if (pair.essential()) {
        out << fmt::format(" [{:g}, )\n", pair.birth);
      } else {
        out << fmt::format(" [{:g},{:g})\n", pair.birth, pair.death);
      }
    }
  }
}

namespace {

void write_vertices(std::ostream& out, const std::vector<vertex_t>& vertices) {
  out << '[';
  for (std::size_t i = 0; i < vertices.size(); ++i) {
    out << (i == 0 ? "" : ", ") << vertices[i];
  }
  out << ']';
}

}  // namespace

void write_json(std::ostream& out, const PersistenceResult& result,
                const std::vector<std::pair<std::string, std::string>>& extra, double ratio) {
  out << "{\"diagrams\": {";
  bool representatives = false;
  for (std::size_t dim = 0; dim < result.diagrams.size(); ++dim) {
    out << (dim == 0 ? "" : ", ") << '"' << dim << "\": [";
    bool first = true;
    for (const auto& pair : result.diagrams[dim]) {
      if (!shown(pair, ratio)) {
        continue;
      }
      representatives = representatives || !pair.birth_simplex.empty();
      out << (first ? "" : ", ") << '[' << format_value(pair.birth) << ", "
          << (pair.essential() ? "null" : format_value(pair.death)) << ']';
      first = false;
    }
    out << ']';
  }
  out << '}';
  for (const auto& [key, value] : extra) {
    out << ", \"" << key << "\": " << value;
  }
  if (representatives) {
    out << ", \"representatives\": {";
    for (std::size_t dim = 0; dim < result.diagrams.size(); ++dim) {
      out << (dim == 0 ? "" : ", ") << '"' << dim << "\": [";
      bool first = true;
      for (const auto& pair : result.diagrams[dim]) {
        if (!shown(pair, ratio)) {
          continue;
        }
        out << (first ? "" : ", ") << "{\"birth\": ";
        write_vertices(out, pair.birth_simplex);
        out << ", \"death\": ";
        if (pair.essential()) {
          out << "null";
        } else {
          write_vertices(out, pair.death_simplex);
        }
        out << '}';
        first = false;
      }
      out << ']';
    }
    out << '}';
  }
  out << "}\n";
}

}  // namespace tda
