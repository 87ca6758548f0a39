// Inputs the fuzz targets (cpp/fuzz) found crashing the parsers, kept as regression tests, and a
// replay of the fuzz corpora through the parsers of this (GCC, or sanitizer) build.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tda/io.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kFuzzDir = fs::path(__FILE__).parent_path().parent_path() / "fuzz";

std::string bytes_of(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

tda::InputData read(const std::string& bytes, tda::InputFormat format) {
  std::istringstream in(bytes, std::ios::in | std::ios::binary);
  return tda::read_input(in, format);
}

std::string dipha_header(std::int64_t n) {
  std::string bytes(24, '\0');
  const std::int64_t header[3] = {8067171840, 7, n};
  std::memcpy(bytes.data(), header, sizeof(header));
  return bytes;
}

// fuzz_dipha: a 51-byte file whose header claims 227840 points made the reader allocate the
// whole n x n matrix (about 400 GB) before reading a value. Now it fails where the data ends.
TEST(FuzzRegressions, DiphaHeaderClaimingHugeMatrixFailsAtTheEnd) {
  std::string bytes = dipha_header(std::int64_t{1} << 20);
  bytes.append(16, '\0');
  try {
    (void)read(bytes, tda::InputFormat::dipha);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("ends before"), std::string::npos) << e.what();
  }
}

// fuzz_sparse: " 360 66666666 2" made n = 66666667 vertices, about 2 GB of offsets and degrees
// for a 15-byte input. Indices of 2^24 and beyond are refused, naming the line.
TEST(FuzzRegressions, SparseVertexIndexBeyondTheCapIsRefused) {
  try {
    (void)read(" 360 66666666 2", tda::InputFormat::sparse);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("line 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("16777215"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)read("0 4294967294 1\n", tda::InputFormat::sparse), std::invalid_argument);
  const auto largest = read("0 16777215 1\n", tda::InputFormat::sparse);
  EXPECT_EQ(largest.n, std::size_t{1} << 24);
}

// Every crash file kept under cpp/fuzz/regressions/<target>/ is now rejected cleanly or read.
TEST(FuzzRegressions, KeptCrashInputsParse) {
  const std::map<std::string, tda::InputFormat> formats = {{"dipha", tda::InputFormat::dipha},
                                                           {"sparse", tda::InputFormat::sparse}};
  int replayed = 0;
  for (const auto& [target, format] : formats) {
    const fs::path dir = kFuzzDir / "regressions" / target;
    if (!fs::is_directory(dir)) {
      continue;
    }
    for (const auto& entry : fs::directory_iterator(dir)) {
      try {
        (void)read(bytes_of(entry.path()), format);
      } catch (const std::invalid_argument&) {
      }
      ++replayed;
    }
  }
  EXPECT_GE(replayed, 2);
}

// The corpora of the parser targets: each file parses or is rejected with invalid_argument.
TEST(FuzzRegressions, CorporaReplay) {
  const std::map<std::string, tda::InputFormat> formats = {
      {"point_cloud", tda::InputFormat::point_cloud},
      {"lower_distance", tda::InputFormat::lower_distance},
      {"upper_distance", tda::InputFormat::upper_distance},
      {"distance", tda::InputFormat::distance},
      {"sparse", tda::InputFormat::sparse},
      {"dipha", tda::InputFormat::dipha},
      {"binary", tda::InputFormat::binary}};
  for (const auto& [target, format] : formats) {
    const fs::path dir = kFuzzDir / "corpus" / target;
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    int files = 0;
    int accepted = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      ++files;
      try {
        const auto data = read(bytes_of(entry.path()), format);
        EXPECT_GT(data.n, 0U) << entry.path();
        ++accepted;
      } catch (const std::invalid_argument&) {
      }
    }
    EXPECT_GT(files, 0) << target;
    EXPECT_GT(accepted, 0) << target;
  }
}

}  // namespace
