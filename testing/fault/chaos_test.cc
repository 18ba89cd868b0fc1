// Chaos, bounded: for EVNET_CHAOS_SECONDS (default 90) kill (SIGKILL) and
// restart, or freeze (SIGSTOP) and thaw, random programs, one at a time,
// while drivers charge continuously, with one long Kafka outage midway (60 s
// in runs of 10 minutes or more, 10 s in shorter ones); then check the
// invariants. The random choices come from EVNET_CHAOS_SEED (printed, so
// that a failure can be replayed), else from the clock. Every accepted request ends in exactly one ticket to
// its driver; billed energy equals supplied energy per session; no session
// is open at the end; every CP's status matches reality.
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "absl/strings/numbers.h"
#include "testing/fault/fault_test_base.h"

namespace evnet::test {
namespace {

uint32_t ChaosSeed() {
  const char* env = getenv("EVNET_CHAOS_SEED");
  uint32_t seed = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &seed)) return seed;
  return static_cast<uint32_t>(absl::ToUnixNanos(absl::Now()));
}

absl::Duration ChaosDuration() {
  const char* env = getenv("EVNET_CHAOS_SECONDS");
  int seconds = 90;
  if (env != nullptr && !absl::SimpleAtoi(env, &seconds)) seconds = 90;
  return absl::Seconds(seconds);
}

TEST(ChaosTest, RandomKillsWhileDriversChargeLoseNothing) {
  const std::vector<CpSpec> specs = {{22, 0.30, absl::Seconds(4)},
                                     {11, 0.45, absl::Seconds(4)},
                                     {7.4, 0.25, absl::Seconds(4)}};
  auto started = Network::Start(specs);
  ASSERT_TRUE(started.ok()) << started.status();
  Network& n = **started;
  std::vector<std::string> drivers = {"driver-alice", "driver-bob"};
  for (size_t d = 0; d < drivers.size(); ++d) {
    std::vector<std::string> file;
    // Enough requests for the whole run (one every 5 s or so per driver).
    const int requests = std::max<int>(200, absl::ToInt64Seconds(ChaosDuration()) / 4);
    for (int i = 0; i < requests; ++i) file.push_back(Network::CpId(1 + (i + d) % specs.size()));
    ASSERT_TRUE(n.StartDriver(drivers[d], file, absl::Milliseconds(500)).ok());
  }
  std::vector<std::string> victims = {"central", "kafka"};
  for (int i = 1; i <= n.cp_count(); ++i) {
    victims.push_back(absl::StrCat("cp-e-", i));
    victims.push_back(absl::StrCat("cp-m-", i));
  }
  victims.insert(victims.end(), drivers.begin(), drivers.end());

  const uint32_t seed = ChaosSeed();
  std::cout << "CHAOS seed " << seed << " (replay with EVNET_CHAOS_SEED=" << seed << ")"
            << std::endl;
  std::mt19937 random(seed);
  std::map<std::string, int> kills;
  int total_kills = 0, freezes = 0;
  const absl::Time start = absl::Now();
  const absl::Time end = start + ChaosDuration();
  const absl::Duration outage =
      ChaosDuration() >= absl::Minutes(10) ? absl::Seconds(60) : absl::Seconds(10);
  bool outage_done = false;
  auto now = [] { return absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()); };
  while (absl::Now() < end) {
    std::string victim = victims[random() % victims.size()];
    if (!outage_done && absl::Now() >= start + ChaosDuration() / 2) {
      // Kafka gone for a long while mid-session: nothing may be lost.
      outage_done = true;
      std::cout << now() << " kafka outage of " << absl::FormatDuration(outage) << std::endl;
      ASSERT_TRUE(n.Kill("kafka").ok());
      absl::SleepFor(outage);  // how long the outage lasts
      ASSERT_TRUE(n.Restart("kafka").ok());
      victim = "kafka";
    } else if (victim != "kafka" && random() % 3 == 0 && n.process(victim)->Running()) {
      // Frozen: holds its connections and answers nothing.
      std::cout << now() << " freeze " << victim << std::endl;
      ASSERT_TRUE(n.process(victim)->Signal(SIGSTOP).ok()) << victim;
      ++freezes;
      absl::SleepFor(absl::Milliseconds(500 + random() % 3000));  // how long it stays frozen
      ASSERT_TRUE(n.process(victim)->Signal(SIGCONT).ok()) << victim;
    } else {
      std::cout << now() << " kill " << victim << std::endl;
      ASSERT_TRUE(n.Kill(victim).ok()) << victim;
      ++kills[victim];
      ++total_kills;
      // Deliberate pauses, not synchronization: how long the victim stays
      // down, and how long the network runs before the next kill.
      absl::SleepFor(absl::Milliseconds(500 + random() % 3000));
      ASSERT_TRUE(n.Restart(victim).ok()) << victim;
    }
    // Whole again before the next kill: every CP reported by central.
    ASSERT_TRUE(WaitFor([&] {
      for (int i = 1; i <= n.cp_count(); ++i) {
        v1::CpStatus s = n.Status(Network::CpId(i));
        if (s == v1::CP_STATUS_DISCONNECTED || s == v1::CP_STATUS_UNSPECIFIED ||
            s == v1::CP_STATUS_BROKEN) {
          return false;
        }
      }
      return true;
    }, absl::Seconds(30)))
        << "not whole after " << victim << " came back (seed " << seed << ")\n"
        << n.LogOf("central");
    absl::SleepFor(absl::Milliseconds(1000 + random() % 3000));
  }
  // Drivers stop asking; what they asked for must all end.
  for (const std::string& d : drivers) ASSERT_TRUE(n.Kill(d).ok());

  std::set<std::string> accepted;
  auto all_ticketed = [&] {
    accepted.clear();
    std::set<std::string> ticketed;
    for (const auto& u : n.updates().All()) {
      if (u.kind() == v1::UPDATE_KIND_ACCEPTED) accepted.insert(u.session_id());
      if (u.kind() == v1::UPDATE_KIND_ENDED) ticketed.insert(u.session_id());
    }
    for (const std::string& s : accepted) {
      if (ticketed.count(s) == 0) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(all_ticketed, absl::Seconds(60))) << n.LogOf("central");

  // Exactly one ticket per session, as a driver shows it (by update id), and
  // the same ticket however often Kafka delivered it.
  std::map<std::string, std::set<std::string>> ticket_ids;
  std::map<std::string, v1::SessionResult> tickets;
  for (const auto& u : n.updates().All()) {
    if (u.kind() != v1::UPDATE_KIND_ENDED) continue;
    ticket_ids[u.session_id()].insert(u.update_id());
    auto [it, inserted] = tickets.emplace(u.session_id(), u.ticket());
    if (!inserted) {
      EXPECT_EQ(it->second.SerializeAsString(), u.ticket().SerializeAsString()) << u.session_id();
    }
  }
  for (const auto& [session, ids] : ticket_ids) EXPECT_EQ(ids.size(), 1u) << session;
  // Billed energy is the energy supplied: power over the supplied time.
  for (const auto& [session, t] : tickets) {
    const int cp = std::stoi(t.cp_id().substr(3));
    const CpSpec& spec = specs[cp - 1];
    ExpectTicketAgreesWithMeter(t, spec.power_kw, spec.price_eur_per_kwh);
    const double hours = absl::ToDoubleHours(FromProto(t.ended_at()) - FromProto(t.started_at()));
    EXPECT_LE(hours, absl::ToDoubleHours(spec.session_duration) + 1e-9) << session;
  }
  // No session open, and every CP idle and On.
  ASSERT_TRUE(WaitFor([&] {
    for (const v1::Session& s : n.Sessions()) {
      if (s.state() != v1::SESSION_STATE_ENDED) return false;
    }
    return true;
  }, absl::Seconds(30)));
  for (int i = 1; i <= n.cp_count(); ++i) {
    EXPECT_TRUE(n.WaitForStatus(Network::CpId(i), v1::CP_STATUS_ACTIVE, absl::Seconds(10)))
        << Network::CpId(i);
  }

  std::cout << "CHAOS " << absl::FormatDuration(ChaosDuration()) << ", seed " << seed << ": "
            << total_kills << " kills, " << freezes << " freezes, a Kafka outage of "
            << absl::FormatDuration(outage) << " (";
  for (const auto& [victim, count] : kills) std::cout << victim << " " << count << ", ";
  std::cout << "), " << accepted.size() << " sessions accepted, " << tickets.size()
            << " tickets" << std::endl;
  EXPECT_GT(total_kills, 0);
  EXPECT_GT(tickets.size(), 0u);
}

}  // namespace
}  // namespace evnet::test
