// When a link to central is tried again after it ended: one policy for every
// program that holds such links (cp_monitor, the OCPP gateway, evload's
// simulated monitors). The wait is a floor plus "full jitter", uniform in
// [0, cap), so that links which ended together do not come back together;
// what the cap is depends on how the last attempt failed:
//
//  - At once (refused, nobody listening: central is away): the cap doubles
//    from 250 ms to 1 s, so a restarted central is found again within the
//    fault table's seconds.
//  - After kSlowAttempt or more without registering (its TLS handshake or
//    registration timed out: central is there, but overloaded): the cap
//    doubles on, from 2 s up to 60 s. After central's restart 10,000
//    monitors come back at once, and under mutual TLS their handshakes are
//    more work than central can finish within the connect timeout; every
//    attempt given up is work done for nothing. Those that time out come
//    back further and further apart, until central keeps up.
//  - A link that registered and stayed up kSettled starts afresh; one that
//    registered and ended sooner counts as central away.
//
// What it cannot tell apart: a central whose packets are lost (a network
// partition) or that is frozen for more than kSlowAttempt also makes each
// attempt last the whole connect timeout, and is taken for an overloaded
// one. Once it answers again, a monitor is back within its cap (at most a
// minute) and the attempt already running, instead of within a second.
// A central killed and restarted on its host refuses at once meanwhile,
// and is found within the second.
//
// Not thread-safe: one per link, used by the thread that keeps it.
#ifndef EVNET_COMMON_GRPC_RECONNECT_BACKOFF_H_
#define EVNET_COMMON_GRPC_RECONNECT_BACKOFF_H_

#include <functional>

#include "absl/random/random.h"
#include "absl/time/time.h"

namespace evnet {

class ReconnectBackoff {
 public:
  static constexpr absl::Duration kFloor = absl::Milliseconds(20);
  static constexpr absl::Duration kFirstCap = absl::Milliseconds(250);
  static constexpr absl::Duration kAwayCap = absl::Seconds(1);
  static constexpr absl::Duration kSlowAttempt = absl::Seconds(5);
  static constexpr absl::Duration kSettled = absl::Seconds(5);
  static constexpr absl::Duration kOverloadedFirstCap = absl::Seconds(2);
  static constexpr absl::Duration kOverloadedCap = absl::Seconds(60);

  // `uniform` draws from [0, 1); tests give their own (default: random).
  explicit ReconnectBackoff(std::function<double()> uniform = nullptr);

  // The wait before the next attempt, after a link that ended having
  // `lasted` from its attempt's start, and `registered` or not.
  absl::Duration Next(bool registered, absl::Duration lasted);
  // The cap the last Next drew under.
  absl::Duration cap() const { return cap_; }

 private:
  std::function<double()> uniform_;  // null: gen_
  absl::BitGen gen_;
  absl::Duration cap_ = absl::ZeroDuration();  // none drawn yet
};

}  // namespace evnet

#endif  // EVNET_COMMON_GRPC_RECONNECT_BACKOFF_H_
