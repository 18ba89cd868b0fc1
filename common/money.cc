#include "common/money.h"

#include <algorithm>
#include <cmath>

namespace evnet {
namespace {

// Both bounds at 1e9 keep wh * price, 1e18 at most, inside int64_t.
constexpr double kMaxUnits = 1e9;

// `value` in `units_per_one`ths, to the nearest; 0 for what is no amount.
int64_t Units(double value, double units_per_one) {
  if (!std::isfinite(value) || value <= 0) return 0;
  return std::llround(std::min(value * units_per_one, kMaxUnits));
}

}  // namespace

int64_t AmountCents(double energy_kwh, double price_eur_per_kwh) {
  const int64_t wh = Units(energy_kwh, 1000);
  const int64_t price = Units(price_eur_per_kwh, 10000);  // 1/10,000 EUR per kWh
  // wh * price is in 1/10,000,000 EUR: 100,000 of them make a cent.
  return (wh * price + 50000) / 100000;
}

double EurOfCents(int64_t cents) { return static_cast<double>(cents) / 100; }

}  // namespace evnet
