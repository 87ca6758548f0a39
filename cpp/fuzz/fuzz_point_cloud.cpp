// libFuzzer target: the point-cloud input format of tda-ph.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return tda::fuzz::parse_one(data, size, tda::InputFormat::point_cloud);
}
