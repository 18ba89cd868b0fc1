// The check every system test makes of a ticket: the billed energy is the
// power over the supplied time, and the amount is that energy at the CP's
// price, in cents, by the billing rule written out here on its own: energy to
// the nearest Wh, price to the nearest 1/10,000 EUR/kWh, their product
// rounded half up to the cent once.
#ifndef EVNET_TESTING_TICKET_CHECKS_H_
#define EVNET_TESTING_TICKET_CHECKS_H_

#include <cmath>

#include "common/proto_time.h"
#include "evnet/v1/events.pb.h"
#include "gtest/gtest.h"

namespace evnet::test {

inline void ExpectTicketAgreesWithMeter(const v1::SessionResult& ticket, double power_kw,
                                        double price_eur_per_kwh) {
  const double hours =
      absl::ToDoubleHours(FromProto(ticket.ended_at()) - FromProto(ticket.started_at()));
  EXPECT_NEAR(ticket.energy_kwh(), power_kw * hours, 1e-6) << ticket.DebugString();
  EXPECT_DOUBLE_EQ(ticket.price_eur_per_kwh(), price_eur_per_kwh) << ticket.DebugString();
  const long long wh = std::llround(ticket.energy_kwh() * 1000);
  const long long price = std::llround(price_eur_per_kwh * 10000);
  const long long cents = (wh * price + 50000) / 100000;
  EXPECT_EQ(ticket.amount_cents(), cents) << ticket.DebugString();
  EXPECT_DOUBLE_EQ(ticket.amount_eur(), cents / 100.0) << ticket.DebugString();
}

}  // namespace evnet::test

#endif  // EVNET_TESTING_TICKET_CHECKS_H_
