#include "central/registry.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

v1::ChargingPointInfo Info(const std::string& id, double price = 0.3) {
  v1::ChargingPointInfo info;
  info.set_cp_id(id);
  info.set_price_eur_per_kwh(price);
  info.set_power_kw(22);
  return info;
}

v1::HealthReport Healthy() {
  v1::HealthReport report;
  report.set_engine_ok(true);
  report.set_engine_state(v1::ENGINE_STATE_IDLE);
  return report;
}

TEST(RegistryTest, KnownFromKafkaIsDisconnectedUntilItsMonitorReports) {
  FakeClock clock;
  Registry registry(clock, absl::Seconds(3));
  v1::CpRegistryRecord record;
  *record.mutable_info() = Info("CP-001");
  registry.Restore(record);
  EXPECT_TRUE(registry.FinishRestore().empty());
  EXPECT_EQ(registry.Status("CP-001"), v1::CP_STATUS_DISCONNECTED);

  EXPECT_FALSE(registry.Register(Info("CP-001")).has_value());  // nothing new to persist
  registry.Report("CP-001", Healthy());
  EXPECT_EQ(registry.Status("CP-001"), v1::CP_STATUS_ACTIVE);
  clock.Advance(absl::Seconds(4));
  EXPECT_EQ(registry.Status("CP-001"), v1::CP_STATUS_DISCONNECTED);
}

TEST(RegistryTest, CpsKnownFromKafkaAreNotAnnouncedAsGoneAndTheirReturnIs) {
  FakeClock clock;
  Registry registry(clock, absl::Seconds(3));
  for (const char* id : {"CP-001", "CP-002"}) {
    v1::CpRegistryRecord record;
    *record.mutable_info() = Info(id);
    registry.Restore(record);
  }
  registry.FinishRestore();
  clock.Advance(absl::Seconds(4));
  EXPECT_TRUE(registry.Sweep().empty());  // a restart is not CPs going away
  (void)registry.Register(Info("CP-002"));
  registry.Report("CP-002", Healthy());
  auto changes = registry.Sweep();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].cp_id, "CP-002");
  EXPECT_EQ(changes[0].from, v1::CP_STATUS_DISCONNECTED);
  EXPECT_EQ(changes[0].to, v1::CP_STATUS_ACTIVE);
}

TEST(RegistryTest, AnOperatorStopReadFromKafkaAfterTheMonitorRegisteredStillHolds) {
  FakeClock clock;
  Registry registry(clock, absl::Seconds(3));
  // The monitor is quicker than the rebuild: its registration is not
  // persisted yet, so it cannot hide the stop that follows in the log.
  EXPECT_FALSE(registry.Register(Info("CP-001")).has_value());
  registry.Report("CP-001", Healthy());
  v1::CpRegistryRecord stopped;
  *stopped.mutable_info() = Info("CP-001");
  stopped.set_stopped_by_operator(true);
  registry.Restore(stopped);
  EXPECT_TRUE(registry.FinishRestore().empty());
  EXPECT_EQ(registry.Status("CP-001"), v1::CP_STATUS_STOPPED);
}

TEST(RegistryTest, WhetherACpMacsItsTelemetryIsWhatItsEngineLastSaid) {
  FakeClock clock;
  Registry registry(clock, absl::Seconds(3));
  registry.FinishRestore();
  v1::ChargingPointInfo engine;
  engine.set_cp_id("CP-001");
  engine.set_power_kw(22);
  engine.set_telemetry_mac(true);
  registry.Register(engine);
  EXPECT_TRUE(registry.Get("CP-001")->info().telemetry_mac());
  // Its monitor registering again before it has heard from the engine.
  v1::ChargingPointInfo monitor_only;
  monitor_only.set_cp_id("CP-001");
  registry.Register(monitor_only);
  EXPECT_TRUE(registry.Get("CP-001")->info().telemetry_mac());
  // An engine of an earlier version took its place.
  engine.set_telemetry_mac(false);
  registry.Register(engine);
  EXPECT_FALSE(registry.Get("CP-001")->info().telemetry_mac());
}

// Whether a CP takes charger operations is what its latest link said: an
// OCPP charger's gateway says so; a monitor put in its place does not.
TEST(RegistryTest, WhetherACpTakesChargerOperationsIsWhatItsLinkLastSaid) {
  FakeClock clock;
  Registry registry(clock, absl::Seconds(3));
  registry.FinishRestore();
  v1::ChargingPointInfo charger;
  charger.set_cp_id("OCPP-1");
  charger.set_charger_operations(true);
  registry.Register(charger);
  EXPECT_TRUE(registry.Get("OCPP-1")->info().charger_operations());
  v1::ChargingPointInfo monitor;
  monitor.set_cp_id("OCPP-1");
  registry.Register(monitor);
  EXPECT_FALSE(registry.Get("OCPP-1")->info().charger_operations());
}

TEST(RegistryTest, NewCpsAndChangedInfoArePersistedOnceRestored) {
  FakeClock clock;
  Registry registry(clock, absl::Seconds(3));
  EXPECT_FALSE(registry.Register(Info("CP-009")).has_value());
  auto records = registry.FinishRestore();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].info().cp_id(), "CP-009");
  EXPECT_FALSE(records[0].stopped_by_operator());

  EXPECT_FALSE(registry.Register(Info("CP-009")).has_value());
  auto changed = registry.Register(Info("CP-009", 0.5));
  ASSERT_TRUE(changed.has_value());
  EXPECT_DOUBLE_EQ(changed->info().price_eur_per_kwh(), 0.5);
}

TEST(RegistryTest, SweepReportsEachChangeOnce) {
  FakeClock clock;
  Registry registry(clock, absl::Seconds(3));
  registry.FinishRestore();
  (void)registry.Register(Info("CP-001"));
  registry.Report("CP-001", Healthy());
  auto changes = registry.Sweep();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].to, v1::CP_STATUS_ACTIVE);
  EXPECT_TRUE(registry.Sweep().empty());
  registry.LinkClosed("CP-001");
  changes = registry.Sweep();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].from, v1::CP_STATUS_ACTIVE);
  EXPECT_EQ(changes[0].to, v1::CP_STATUS_DISCONNECTED);
  EXPECT_EQ(registry.SetStopped("CP-404", true).status().code(), absl::StatusCode::kNotFound);
}

TEST(RegistryTest, ANewCpIsAnnouncedByItsFirstReportNotAsGoneWhenItRegisters) {
  FakeClock clock;
  Registry registry(clock, absl::Seconds(3));
  registry.FinishRestore();
  (void)registry.Register(Info("CP-001"));
  EXPECT_EQ(registry.Status("CP-001"), v1::CP_STATUS_DISCONNECTED);  // nothing heard yet
  EXPECT_TRUE(registry.Sweep().empty());
  registry.Report("CP-001", Healthy());
  auto changes = registry.Sweep();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].from, v1::CP_STATUS_DISCONNECTED);
  EXPECT_EQ(changes[0].to, v1::CP_STATUS_ACTIVE);
  // Gone after that is announced, as ever.
  clock.Advance(absl::Seconds(4));
  changes = registry.Sweep();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].to, v1::CP_STATUS_DISCONNECTED);
}

TEST(RegistryTest, SweepFindsEachSilentMonitorOnceAndNeverOneThatReports) {
  FakeClock clock;
  Registry registry(clock, absl::Seconds(3));
  registry.FinishRestore();
  // Many CPs known and long gone, as a registry holds after a while.
  for (int i = 0; i < 1000; ++i) {
    v1::CpRegistryRecord record;
    *record.mutable_info() = Info(absl::StrCat("OLD-", i));
    registry.Restore(record);
  }
  for (const char* id : {"CP-QUIET", "CP-TALKS"}) {
    (void)registry.Register(Info(id));
    registry.Report(id, Healthy());
  }
  EXPECT_EQ(registry.Sweep().size(), 2u);  // both ACTIVE
  int changes = 0;
  std::vector<StatusChange> gone;
  for (int tick = 0; tick < 50; ++tick) {  // 10 s in sweeps of 200 ms
    clock.Advance(absl::Milliseconds(200));
    if (tick % 5 == 0) registry.Report("CP-TALKS", Healthy());
    for (const StatusChange& change : registry.Sweep()) {
      if (change.to == v1::CP_STATUS_DISCONNECTED) gone.push_back(change);
      ++changes;
    }
    // Silent for more than 3 s from tick 15 (3.2 s) on, and seen at once.
    EXPECT_EQ(gone.size(), tick < 15 ? 0u : 1u) << "at tick " << tick;
  }
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].cp_id, "CP-QUIET");
  EXPECT_EQ(gone[0].from, v1::CP_STATUS_ACTIVE);
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(registry.Status("CP-TALKS"), v1::CP_STATUS_ACTIVE);

  // Back, and silent again: announced again, once.
  registry.Report("CP-QUIET", Healthy());
  auto back = registry.Sweep();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].to, v1::CP_STATUS_ACTIVE);
  clock.Advance(absl::Seconds(4));
  auto again = registry.Sweep();
  ASSERT_EQ(again.size(), 2u);  // CP-TALKS stopped reporting too
  EXPECT_TRUE(registry.Sweep().empty());
}

// Found by ThreadSanitizer: the service cleared the listener while a
// monitor's link, closing on a gRPC thread, was calling it.
TEST(RegistryTest, ClearingTheListenerWaitsForACallInProgress) {
  FakeClock clock;
  Registry registry(clock, absl::Seconds(3));
  registry.FinishRestore();
  absl::Notification entered, release, cleared;
  registry.SetChangeListener([&] {
    entered.Notify();
    release.WaitForNotification();
  });
  std::thread changer([&] { (void)registry.Register(Info("CP-001")); });
  entered.WaitForNotification();
  std::thread clearer([&] {
    registry.SetChangeListener(nullptr);
    cleared.Notify();
  });
  EXPECT_FALSE(cleared.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  release.Notify();
  EXPECT_TRUE(cleared.WaitForNotificationWithTimeout(absl::Seconds(10)));
  changer.join();
  clearer.join();
}

TEST(RegistryTest, ALateCloseOfAReplacedLinkLeavesTheNewOneConnected) {
  FakeClock clock;
  Registry registry(clock, absl::Seconds(3));
  registry.FinishRestore();
  (void)registry.Register(Info("CP-001"), /*link_id=*/1);
  registry.Report("CP-001", Healthy());
  registry.Sweep();
  // A new monitor registers before the old link's end is processed.
  (void)registry.Register(Info("CP-001"), /*link_id=*/2);
  registry.LinkClosed("CP-001", 1);
  EXPECT_TRUE(registry.Sweep().empty());
  EXPECT_EQ(registry.Status("CP-001"), v1::CP_STATUS_ACTIVE);
  registry.LinkClosed("CP-001", 2);
  EXPECT_EQ(registry.Status("CP-001"), v1::CP_STATUS_DISCONNECTED);
}

}  // namespace
}  // namespace evnet
