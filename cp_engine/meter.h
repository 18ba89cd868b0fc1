// The simulated meter: energy at constant power over time, billed per kWh.
#ifndef EVNET_CP_ENGINE_METER_H_
#define EVNET_CP_ENGINE_METER_H_

#include "absl/time/time.h"

namespace evnet {

struct MeterReading {
  double energy_kwh = 0;
  double amount_eur = 0;  // in whole cents, as common/money.h rounds them
};

MeterReading ReadMeter(double power_kw, double price_eur_per_kwh, absl::Duration elapsed);

// How long a supply at `power_kw` takes to deliver `energy_kwh`.
absl::Duration TimeToSupply(double power_kw, double energy_kwh);

}  // namespace evnet

#endif  // EVNET_CP_ENGINE_METER_H_
