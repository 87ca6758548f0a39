// What every parser fuzz target does: feed the bytes to tda::read_input in one format and check
// that the parser either rejects the input with std::invalid_argument or returns data the rest
// of the engine can trust (finite, non-negative distances of the announced size).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>

#include "tda/io.hpp"

namespace tda::fuzz {

// Aborts (a crash libFuzzer records) when an invariant of parsed data does not hold.
inline void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

inline void check_parsed(const InputData& data) {
  if (data.dense) {
    require(data.n == data.dense->size());
    const auto& lower = data.dense->lower_triangle();
    require(lower.size() == data.n * (data.n - 1) / 2);
    for (const double d : lower) {
      require(std::isfinite(d) && d >= 0);
    }
  } else if (data.sparse) {
    require(data.n == data.sparse->size());
    for (std::size_t v = 0; v < data.n; ++v) {
      for (const auto& neighbor : data.sparse->neighbors(v)) {
        require(neighbor.vertex < data.n);
        require(std::isfinite(neighbor.distance) && neighbor.distance >= 0);
      }
    }
  } else {
    require(data.n > 0 && data.dim > 0);
    require(data.coordinates.size() == data.n * data.dim);
    for (const double x : data.coordinates) {
      require(std::isfinite(x));
    }
  }
}

inline int parse_one(const std::uint8_t* bytes, std::size_t size, InputFormat format) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(bytes), size),
                        std::ios::in | std::ios::binary);
  try {
    check_parsed(read_input(in, format));
  } catch (const std::invalid_argument&) {
    // A rejected input is the expected outcome for most mutations.
  }
  return 0;
}

}  // namespace tda::fuzz
