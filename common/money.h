// Money in integer euro cents, with one rounding rule for every program that
// bills: energy in whole Wh times the price in 1/10,000 EUR per kWh, rounded
// half up once, on the session's total. Doubles only carry figures to people.
#ifndef EVNET_COMMON_MONEY_H_
#define EVNET_COMMON_MONEY_H_

#include <cstdint>

namespace evnet {

// What `energy_kwh` costs at `price_eur_per_kwh`, in cents. Energy is taken
// to the nearest Wh and the price to the nearest 1/10,000 EUR/kWh before
// they are multiplied, so that 0.5 kWh at 0.29 EUR/kWh is 15 cents whatever
// the doubles hold. Negative or non-finite inputs are not an amount: 0.
// Inputs past a billion Wh or 100,000 EUR/kWh (far beyond what validation
// lets through) are taken as those bounds, so the product cannot overflow.
int64_t AmountCents(double energy_kwh, double price_eur_per_kwh);

// `cents` in euro, for people and for the amount_eur fields.
double EurOfCents(int64_t cents);

}  // namespace evnet

#endif  // EVNET_COMMON_MONEY_H_
