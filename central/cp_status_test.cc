#include "central/cp_status.h"

#include "gtest/gtest.h"

namespace evnet {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(3);
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

CpObservation Reporting(bool engine_ok, v1::EngineState state, bool stopped = false) {
  CpObservation cp;
  cp.link_up = true;
  cp.last_report = kNow - absl::Seconds(1);
  cp.engine_ok = engine_ok;
  cp.engine_state = state;
  cp.stopped_by_operator = stopped;
  return cp;
}

// One case per row of DESIGN.md's table.
TEST(CpStatusTest, ReportingOkIdleIsActive) {
  EXPECT_EQ(DeriveStatus(Reporting(true, v1::ENGINE_STATE_IDLE), kNow, kTimeout),
            v1::CP_STATUS_ACTIVE);
}

TEST(CpStatusTest, ReportingOkSupplyingIsSupplying) {
  EXPECT_EQ(DeriveStatus(Reporting(true, v1::ENGINE_STATE_SUPPLYING), kNow, kTimeout),
            v1::CP_STATUS_SUPPLYING);
}

TEST(CpStatusTest, StoppedByOperatorIsStoppedWhateverTheEngine) {
  for (bool ok : {true, false}) {
    for (auto state : {v1::ENGINE_STATE_IDLE, v1::ENGINE_STATE_SUPPLYING, v1::ENGINE_STATE_FAULT}) {
      EXPECT_EQ(DeriveStatus(Reporting(ok, state, /*stopped=*/true), kNow, kTimeout),
                v1::CP_STATUS_STOPPED);
    }
  }
}

TEST(CpStatusTest, EngineKoIsBroken) {
  EXPECT_EQ(DeriveStatus(Reporting(false, v1::ENGINE_STATE_FAULT), kNow, kTimeout),
            v1::CP_STATUS_BROKEN);
  EXPECT_EQ(DeriveStatus(Reporting(false, v1::ENGINE_STATE_SUPPLYING), kNow, kTimeout),
            v1::CP_STATUS_BROKEN);
}

TEST(CpStatusTest, SilentMonitorIsDisconnectedWhateverElse) {
  CpObservation silent = Reporting(true, v1::ENGINE_STATE_IDLE, /*stopped=*/true);
  silent.last_report = kNow - kTimeout - absl::Milliseconds(1);
  EXPECT_EQ(DeriveStatus(silent, kNow, kTimeout), v1::CP_STATUS_DISCONNECTED);
  // Exactly at the timeout it still counts as reporting.
  silent.last_report = kNow - kTimeout;
  EXPECT_EQ(DeriveStatus(silent, kNow, kTimeout), v1::CP_STATUS_STOPPED);
}

TEST(CpStatusTest, NeverReportedSinceStartIsDisconnected) {
  CpObservation known_from_kafka;
  known_from_kafka.stopped_by_operator = true;
  EXPECT_EQ(DeriveStatus(known_from_kafka, kNow, kTimeout), v1::CP_STATUS_DISCONNECTED);
}

TEST(CpStatusTest, ClosedLinkIsDisconnectedAtOnce) {
  CpObservation closed = Reporting(true, v1::ENGINE_STATE_IDLE);
  closed.link_up = false;
  EXPECT_EQ(DeriveStatus(closed, kNow, kTimeout), v1::CP_STATUS_DISCONNECTED);
}

TEST(CpStatusTest, NamesArePlain) {
  EXPECT_EQ(StatusName(v1::CP_STATUS_BROKEN), "BROKEN");
  EXPECT_EQ(StatusName(v1::CP_STATUS_DISCONNECTED), "DISCONNECTED");
}

}  // namespace
}  // namespace evnet
