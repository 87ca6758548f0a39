// Arithmetic in the prime field Z/pZ, shared by every reduction of the engine.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace tda {

using coefficient_t = std::uint32_t;

// True when p is prime; trial division is enough for the moduli a user types.
[[nodiscard]] constexpr bool is_prime(std::uint64_t p) noexcept {
  if (p < 2) {
    return false;
  }
  for (std::uint64_t q = 2; q * q <= p; ++q) {
    if (p % q == 0) {
      return false;
    }
  }
  return true;
}

// Z/pZ for a prime p below 2^31, so that a product of two residues fits in 64 bits.
class PrimeField {
 public:
  explicit PrimeField(std::uint64_t modulus) : p_(static_cast<coefficient_t>(modulus)) {
    if (modulus >= (std::uint64_t{1} << 31U) || !is_prime(modulus)) {
      throw std::invalid_argument("modulus must be a prime below 2^31, got " +
                                  std::to_string(modulus));
    }
    // A table of inverses is cheap for small p and makes division a lookup in the hot loop.
    if (p_ <= kInverseTableLimit) {
      inverses_.resize(p_);
      for (coefficient_t a = 1; a < p_; ++a) {
        inverses_[a] = power(a, p_ - 2);
      }
    }
  }

  [[nodiscard]] coefficient_t modulus() const noexcept { return p_; }
  [[nodiscard]] coefficient_t add(coefficient_t a, coefficient_t b) const noexcept {
    const coefficient_t s = a + b;
    return s >= p_ ? s - p_ : s;
  }
  [[nodiscard]] coefficient_t negate(coefficient_t a) const noexcept { return a == 0 ? 0 : p_ - a; }
  [[nodiscard]] coefficient_t multiply(coefficient_t a, coefficient_t b) const noexcept {
    return static_cast<coefficient_t>(std::uint64_t{a} * b % p_);
  }
  [[nodiscard]] coefficient_t inverse(coefficient_t a) const noexcept {
    return a < inverses_.size() ? inverses_[a] : power(a, p_ - 2);
  }

 private:
  static constexpr coefficient_t kInverseTableLimit = 1U << 16U;

  [[nodiscard]] coefficient_t power(coefficient_t base, coefficient_t exponent) const noexcept {
    std::uint64_t result = 1;
    std::uint64_t b = base % p_;
    while (exponent != 0) {
      if ((exponent & 1U) != 0) {
        result = result * b % p_;
      }
      b = b * b % p_;
      exponent >>= 1U;
    }
    return static_cast<coefficient_t>(result);
  }

  coefficient_t p_;
  std::vector<coefficient_t> inverses_;
};

}  // namespace tda
