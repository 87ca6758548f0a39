#include <sstream>

#include <gtest/gtest.h>

#include "tda/io.hpp"

namespace {

tda::InputData read(const std::string& text, tda::InputFormat format) {
  std::istringstream in(text);
  return tda::read_input(in, format);
}

TEST(Io, FormatsAgree) {
  const auto lower = read("1\n2,3\n", tda::InputFormat::lower_distance);
  const auto upper = read("1 2\n3\n", tda::InputFormat::upper_distance);
  const auto full = read("0 1 2\n1 0 3\n2 3 0\n", tda::InputFormat::distance);
  const auto sparse = read("0 1 1\n0 2 2\n1 2 3\n", tda::InputFormat::sparse);
  ASSERT_EQ(lower.n, 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      EXPECT_EQ((*lower.dense)(i, j), (*upper.dense)(i, j));
      EXPECT_EQ((*lower.dense)(i, j), (*full.dense)(i, j));
      EXPECT_EQ((*lower.dense)(i, j), (*sparse.sparse)(i, j));
    }
  }
}

TEST(Io, MalformedInputIsRejectedWithItsLine) {
  EXPECT_THROW(read("1 2\n3 x\n", tda::InputFormat::point_cloud), std::invalid_argument);
  EXPECT_THROW(read("1 2\n3\n", tda::InputFormat::point_cloud), std::invalid_argument);
  EXPECT_THROW(read("", tda::InputFormat::lower_distance), std::invalid_argument);
  EXPECT_THROW(read("1\n2\n", tda::InputFormat::lower_distance), std::invalid_argument);
  EXPECT_THROW(read("0 1\n2 0\n", tda::InputFormat::distance), std::invalid_argument);
  EXPECT_THROW(read("0 1 2\n1 0 3\n", tda::InputFormat::distance), std::invalid_argument);
  EXPECT_THROW(read("-1\n", tda::InputFormat::lower_distance), std::invalid_argument);
  EXPECT_THROW(read("nan\n", tda::InputFormat::lower_distance), std::invalid_argument);
  EXPECT_THROW(read("0 1\n", tda::InputFormat::sparse), std::invalid_argument);
  try {
    (void)read("1 2\n3 oops\n", tda::InputFormat::point_cloud);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos);
  }
}

TEST(Io, TextLayoutIsRipsers) {
  tda::PersistenceResult r;
  r.diagrams = {{{0, 0.5, {}, {}}, {0, tda::kInfinity, {}, {}}}, {{1, 2, {}, {}}}};
  std::ostringstream out;
  tda::write_intervals_text(out, r);
  EXPECT_EQ(out.str(),
            "persistence intervals in dim 0:\n [0,0.5)\n [0, )\n"
            "persistence intervals in dim 1:\n [1,2)\n");
  std::ostringstream json;
  tda::write_json(json, r);
  EXPECT_EQ(json.str(), "{\"diagrams\": {\"0\": [[0, 0.5], [0, null]], \"1\": [[1, 2]]}}\n");
}

}  // namespace
