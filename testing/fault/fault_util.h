// What every fault test shares: timing a condition, and reporting a measured
// figure next to its target from DESIGN.md's fault table.
#ifndef EVNET_TESTING_FAULT_FAULT_UTIL_H_
#define EVNET_TESTING_FAULT_FAULT_UTIL_H_

#include <functional>
#include <iostream>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "testing/process.h"

namespace evnet::test {

// How long until `condition` holds (checked every 50 ms), or
// InfiniteDuration if it did not within `timeout`.
inline absl::Duration TimeUntil(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time start = absl::Now();
  if (!WaitFor(condition, timeout)) return absl::InfiniteDuration();
  return absl::Now() - start;
}

// How long from calling `restart` (which may itself wait, as a broker's
// start does) until `condition` holds; InfiniteDuration if it did not.
inline absl::Duration TimeToRecover(const std::function<bool()>& restart,
                                    const std::function<bool()>& condition,
                                    absl::Duration timeout) {
  const absl::Time start = absl::Now();
  if (!restart()) return absl::InfiniteDuration();
  if (!WaitFor(condition, timeout)) return absl::InfiniteDuration();
  return absl::Now() - start;
}

// Prints "FIGURE <what>: <measured> (target <target>)" for the note, records
// it in the test's XML, and fails the test when the target is missed.
inline void ExpectWithin(const std::string& what, absl::Duration measured,
                         absl::Duration target) {
  const std::string figure = absl::FormatDuration(absl::Trunc(measured, absl::Milliseconds(10)));
  std::cout << "FIGURE " << what << ": " << figure << " (target "
            << absl::FormatDuration(target) << ")" << std::endl;
  ::testing::Test::RecordProperty(what, figure);
  EXPECT_LE(measured, target) << what;
}

}  // namespace evnet::test

#endif  // EVNET_TESTING_FAULT_FAULT_UTIL_H_
