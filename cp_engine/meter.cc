#include "cp_engine/meter.h"

#include "common/money.h"

namespace evnet {

MeterReading ReadMeter(double power_kw, double price_eur_per_kwh, absl::Duration elapsed) {
  MeterReading reading;
  reading.energy_kwh = power_kw * absl::ToDoubleHours(elapsed);
  reading.amount_eur = EurOfCents(AmountCents(reading.energy_kwh, price_eur_per_kwh));
  return reading;
}

absl::Duration TimeToSupply(double power_kw, double energy_kwh) {
  if (power_kw <= 0) return absl::InfiniteDuration();
  return absl::Hours(energy_kwh / power_kw);
}

}  // namespace evnet
