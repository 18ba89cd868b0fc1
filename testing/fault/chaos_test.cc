// Chaos, bounded: for EVNET_CHAOS_SECONDS (default 90) kill (SIGKILL) and
// restart, or freeze (SIGSTOP) and thaw, random programs, one at a time,
// while drivers charge continuously, with one long Kafka outage midway (60 s
// in runs of 10 minutes or more, 10 s in shorter ones). Some rounds restart
// central or an engine armed to die at one of its dangerous instants
// (EVNET_CRASH_AT). Central runs with short windows, and one CP's sessions
// outlast all of them. Then the promises of DESIGN.md's "What billing
// promises" are checked one by one: every request has exactly one outcome;
// every accepted session exactly one ticket, the same in the ledger; nothing
// refused, unasked or set aside is billed; billed energy is what the engine
// logged as supplied; no session is left open, in central or in
// evnet.central.sessions; the operator's books in SQL hold every ticket
// once. The random choices come from EVNET_CHAOS_SEED
// (printed, so that a failure can be replayed), else from the clock.
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <random>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/json_codec.h"
#include "common/kafka/topics.h"
#include "testing/fault/fault_test_base.h"

namespace evnet::test {
namespace {

// Central's windows, short so that CP-003's sessions outlast every one of
// them (request ids are remembered for request_ttl + 2 x clock_skew).
const std::vector<std::string> kShortWindows = {
    "--request_ttl=10s", "--clock_skew=5s", "--result_dedupe_window=20s",
    "--orphan_timeout=20s", "--unasked_grace=5s"};
constexpr absl::Duration kLongestWindow = absl::Seconds(20);
// request_ttl + clock_skew: a request older than that is expired.
constexpr absl::Duration kRequestExpiry = absl::Seconds(15);

// The instants where a death is most likely to lose or double a bill.
struct CrashPointAt {
  bool engine;  // else central
  const char* point;
};
constexpr CrashPointAt kCrashPoints[] = {{false, "central.accepting"},
                                         {false, "central.ticketing"},
                                         {false, "transaction.committing"},
                                         {false, "books.booking"},
                                         {true, "engine.started"}};
// An armed program that has not reached its point by then is disarmed:
// nothing asked it to pass there (its CP had no new session).
constexpr absl::Duration kCrashPointDeadline = absl::Seconds(25);

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

int Occurrences(absl::string_view text, absl::string_view what) {
  int count = 0;
  for (size_t at = text.find(what); at != absl::string_view::npos; at = text.find(what, at + 1)) {
    ++count;
  }
  return count;
}

// The lines of `log` that mention `id`, for failure messages.
std::string LinesAbout(const std::string& log, const std::string& id) {
  std::vector<absl::string_view> lines;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, id)) lines.push_back(line);
  }
  if (lines.size() > 30) lines.erase(lines.begin(), lines.end() - 30);
  return absl::StrJoin(lines, "\n");
}

// What an engine said it supplied when a session ended, as its log prints
// it ("Session <id> completed: 7.35 kWh, ..." or, after dying mid-session,
// "... was cut short by an engine failure: 7.35 kWh, ..."), every
// incarnation's.
struct Supplied {
  std::string kwh;  // to the 2 decimals the log shows
  std::string eur;
  std::string line;
};

std::map<std::string, std::vector<Supplied>> SuppliedByEngines(Network& n) {
  constexpr absl::string_view kSession = "| Session ";
  std::map<std::string, std::vector<Supplied>> supplied;
  for (int i = 1; i <= n.cp_count(); ++i) {
    const std::string log = n.FullLogOf(absl::StrCat("cp-e-", i));
    for (absl::string_view line : absl::StrSplit(log, '\n')) {
      const size_t at = line.find(kSession);
      if (at == absl::string_view::npos) continue;
      for (absl::string_view marker : {" completed: ", " was cut short by an engine failure: "}) {
        const size_t m = line.find(marker, at);
        if (m == absl::string_view::npos) continue;
        const absl::string_view id = line.substr(at + kSession.size(), m - at - kSession.size());
        const absl::string_view rest = line.substr(m + marker.size());
        const size_t kwh = rest.find(" kWh, ");
        const size_t eur = rest.find(" EUR");
        if (id.find(' ') != absl::string_view::npos || kwh == absl::string_view::npos ||
            eur == absl::string_view::npos || eur < kwh) {
          continue;
        }
        supplied[std::string(id)].push_back({std::string(rest.substr(0, kwh)),
                                             std::string(rest.substr(kwh + 6, eur - kwh - 6)),
                                             std::string(line)});
      }
    }
  }
  return supplied;
}

// Every CP reported by central and none BROKEN: the network is whole.
bool Whole(Network& n) {
  for (int i = 1; i <= n.cp_count(); ++i) {
    const v1::CpStatus s = n.Status(Network::CpId(i));
    if (s == v1::CP_STATUS_DISCONNECTED || s == v1::CP_STATUS_UNSPECIFIED ||
        s == v1::CP_STATUS_BROKEN) {
      return false;
    }
  }
  return true;
}

std::string TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%H:%M:%E3S", FromProto(t), absl::LocalTimeZone());
}

std::string Counts(const std::map<std::string, int>& counts) {
  if (counts.empty()) return "none";
  return absl::StrJoin(counts, ", ", absl::PairFormatter(" "));
}

class ChaosTest : public ::testing::Test {
 protected:
  ChaosTest()
      : seed_(ChaosSeed()),
        replay_(absl::StrCat(" (seed ", seed_, "; replay with EVNET_CHAOS_SEED=", seed_, ")")),
        random_(seed_) {}

  void StartNetwork();
  void RunChaos();
  // One round that arms a program to die at a crash point, waits for it to
  // die there, and starts it again unarmed.
  void CrashAtPoint();
  // The checks, once drivers stopped asking: each says which session or
  // request broke which promise, and the seed.
  void ExpectOneOutcomePerRequest();
  void ExpectOneTicketPerAcceptedSession();
  void ExpectBilledIsSupplied();
  void ExpectBooksAreTickets();
  void ExpectNothingAskedSetAside();
  void ExpectNothingOpen();
  void ExpectNoAcceptedSessionAuditedUnasked();
  void PrintSummary();

  static std::string Now() {
    return absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone());
  }
  // Lets a fault last `how_long` (a program down or frozen, Kafka away, the
  // network running between two faults). Not a wait for a condition: the
  // fault's length is the test's input, drawn from the seed. Every wait for
  // the network to be whole again is a WaitFor with a deadline.
  static void LetFaultLast(absl::Duration how_long) { absl::SleepFor(how_long); }
  absl::Duration RandomMillis(int from, int spread) {
    return absl::Milliseconds(from + random_() % spread);
  }
  std::string CentralAbout(const std::string& id) {
    return absl::StrCat("\ncentral:\n", LinesAbout(net_->FullLogOf("central"), id));
  }
  std::string EnginesAbout(const std::string& id) {
    std::string out;
    for (int i = 1; i <= net_->cp_count(); ++i) {
      const std::string engine = absl::StrCat("cp-e-", i);
      const std::string lines = LinesAbout(net_->FullLogOf(engine), id);
      if (!lines.empty()) absl::StrAppend(&out, "\n", engine, ":\n", lines);
    }
    return out;
  }

  const uint32_t seed_;
  const std::string replay_;  // the end of every failure message
  std::mt19937 random_;
  std::vector<CpSpec> specs_;
  std::unique_ptr<Network> net_;
  std::vector<std::string> drivers_ = {"driver-alice", "driver-bob", "driver-carol"};

  // What the run did.
  std::map<std::string, int> kills_;        // by victim
  std::map<std::string, int> crash_kills_;  // by "victim@point"
  int total_kills_ = 0, freezes_ = 0, crash_points_missed_ = 0;
  absl::Duration outage_;
  // What drivers asked and were told.
  std::map<std::string, v1::DriverRequest> requests_;  // by request id
  std::set<std::string> accepted_;  // session ids
  std::map<std::string, v1::SessionResult> tickets_;  // by session id
  // What reconciliation did.
  int zero_tickets_ = 0, unasked_results_ = 0;
  std::map<std::string, int> audited_;  // by action
};

void ChaosTest::StartNetwork() {
  std::cout << "CHAOS seed " << seed_ << " (replay with EVNET_CHAOS_SEED=" << seed_ << ")"
            << std::endl;
  // Sessions of a few seconds on two CPs; on CP-003 longer than any window
  // of central, so that they end long after what central could remember of
  // their start by time alone.
  specs_ = {{22, 0.30, absl::Seconds(2 + random_() % 6)},
            {11, 0.45, absl::Seconds(2 + random_() % 6)},
            {7.4, 0.25, kLongestWindow + absl::Seconds(5 + random_() % 11)}};
  auto started = Network::Start(specs_, kShortWindows);
  ASSERT_TRUE(started.ok()) << started.status();
  net_ = *std::move(started);
  std::cout << "CHAOS sessions last " << absl::FormatDuration(specs_[0].session_duration)
            << ", " << absl::FormatDuration(specs_[1].session_duration) << " and "
            << absl::FormatDuration(specs_[2].session_duration) << std::endl;
  for (const std::string& driver : drivers_) {
    std::vector<std::string> file;
    // Enough requests for the whole run (one every 5 s or so per driver),
    // at CPs in random order: drivers sometimes want the same one.
    const int requests = std::max<int>(200, absl::ToInt64Seconds(ChaosDuration()) / 4);
    for (int i = 0; i < requests; ++i) {
      file.push_back(Network::CpId(1 + random_() % specs_.size()));
    }
    ASSERT_TRUE(net_->StartDriver(driver, file, absl::Milliseconds(500)).ok());
  }
}

void ChaosTest::RunChaos() {
  Network& n = *net_;
  std::vector<std::string> victims = {"central", "kafka"};
  for (int i = 1; i <= n.cp_count(); ++i) {
    victims.push_back(absl::StrCat("cp-e-", i));
    victims.push_back(absl::StrCat("cp-m-", i));
  }
  victims.insert(victims.end(), drivers_.begin(), drivers_.end());
  const absl::Time start = absl::Now();
  const absl::Time end = start + ChaosDuration();
  outage_ = ChaosDuration() >= absl::Minutes(10) ? absl::Seconds(60) : absl::Seconds(10);
  bool outage_done = false;
  while (absl::Now() < end) {
    std::string victim = victims[random_() % victims.size()];
    const uint32_t kind = random_() % 12;
    if (!outage_done && absl::Now() >= start + ChaosDuration() / 2) {
      // Kafka gone for a long while mid-session: nothing may be lost.
      outage_done = true;
      std::cout << Now() << " kafka outage of " << absl::FormatDuration(outage_) << std::endl;
      ASSERT_TRUE(n.Kill("kafka").ok());
      LetFaultLast(outage_);
      ASSERT_TRUE(n.Restart("kafka").ok());
      victim = "kafka";
    } else if (kind < 3) {
      ASSERT_NO_FATAL_FAILURE(CrashAtPoint());
      victim = "a program at a crash point";
    } else if (victim != "kafka" && kind < 7 && n.process(victim)->Running()) {
      // Frozen: holds its connections and answers nothing.
      std::cout << Now() << " freeze " << victim << std::endl;
      ASSERT_TRUE(n.process(victim)->Signal(SIGSTOP).ok()) << victim;
      ++freezes_;
      LetFaultLast(RandomMillis(500, 3000));
      ASSERT_TRUE(n.process(victim)->Signal(SIGCONT).ok()) << victim;
    } else {
      std::cout << Now() << " kill " << victim << std::endl;
      ASSERT_TRUE(n.Kill(victim).ok()) << victim;
      ++kills_[victim];
      ++total_kills_;
      LetFaultLast(RandomMillis(500, 3000));
      ASSERT_TRUE(n.Restart(victim).ok()) << victim;
    }
    // Whole again before the next kill: every CP reported by central.
    ASSERT_TRUE(WaitFor([&] { return Whole(n); }, absl::Seconds(30)))
        << "not whole after " << victim << " came back" << replay_ << "\n"
        << n.LogOf("central");
    // Drivers keep asking whatever happened: one that gave up is said, and
    // started again where it was.
    for (const std::string& d : drivers_) {
      Process* driver = n.process(d);
      if (driver->Running()) continue;
      std::cout << Now() << " " << d << " had stopped (exit " << driver->exit_code()
                << "): started again\n"
                << driver->LogTail(1000) << std::endl;
      ASSERT_TRUE(n.Restart(d).ok()) << d;
    }
    LetFaultLast(RandomMillis(1000, 3000));  // the network runs until the next fault
  }
}

void ChaosTest::CrashAtPoint() {
  Network& n = *net_;
  // Dies on its own at a dangerous instant: between two steps that must
  // both happen, or neither, for a session to be billed once.
  const CrashPointAt& at = kCrashPoints[random_() % std::size(kCrashPoints)];
  const std::string victim =
      at.engine ? absl::StrCat("cp-e-", 1 + random_() % n.cp_count()) : "central";
  const int nth = 1 + random_() % 2;
  const std::string reached = absl::StrCat("CRASH POINT ", at.point, " reached");
  const int before = Occurrences(n.FullLogOf(victim), reached);
  std::cout << Now() << " arm " << victim << " to die at " << at.point << " (pass " << nth << ")"
            << std::endl;
  ASSERT_TRUE(n.Restart(victim, {{"EVNET_CRASH_AT", absl::StrCat(at.point, ":", nth)}}).ok())
      << victim;
  Process* armed = n.process(victim);
  if (WaitFor([&] { return !armed->Running(); }, kCrashPointDeadline)) {
    EXPECT_EQ(Occurrences(n.FullLogOf(victim), reached), before + 1)
        << victim << " armed at " << at.point << " died otherwise (exit " << armed->exit_code()
        << ")" << replay_ << ":\n"
        << armed->LogTail();
    std::cout << Now() << " " << victim << " died at " << at.point << std::endl;
    ++crash_kills_[absl::StrCat(victim, "@", at.point)];
    ++total_kills_;
  } else {
    std::cout << Now() << " " << victim << " did not reach " << at.point << " within "
              << absl::FormatDuration(kCrashPointDeadline) << "; disarmed" << std::endl;
    ++crash_points_missed_;
  }
  // How long it stays down: deliberate, as for the random kills. Central
  // now and then past request_ttl + clock_skew, so that the request it was
  // answering expires while its CP may run the session: one no driver is
  // billed for.
  const bool past_ttl = !at.engine && random_() % 2 == 0;
  const absl::Duration down =
      past_ttl ? kRequestExpiry + absl::Seconds(1) : RandomMillis(0, 2000);
  if (past_ttl) std::cout << Now() << " central stays down " << down << std::endl;
  LetFaultLast(down);
  ASSERT_TRUE(n.Restart(victim).ok()) << victim;
}

void ChaosTest::ExpectOneOutcomePerRequest() {
  Network& n = *net_;
  // Every request a driver sent, as central reads them.
  auto read_requests = [&] {
    absl::StatusOr<std::vector<KafkaMessage>> records =
        n.ReadRecords(kDriverRequestsTopic, kTopicPartitions);
    if (!records.ok()) return false;
    for (const KafkaMessage& m : *records) {
      // One that does not parse is set aside by central: the dead-letter
      // check names it.
      absl::StatusOr<v1::DriverRequest> request = FromJson<v1::DriverRequest>(m.value);
      if (!request.ok()) continue;
      if (request->request_id().empty()) {
        request->set_request_id(absl::StrCat("req-", m.partition, "-", m.offset));
      }
      requests_.emplace(request->request_id(), *std::move(request));
    }
    return true;
  };
  // The distinct answers (accepted, rejected) to each request, by update id.
  auto outcomes = [&] {
    std::map<std::string, std::set<std::string>> by_request;
    for (const auto& u : n.updates().All()) {
      if (u.kind() == v1::UPDATE_KIND_ACCEPTED || u.kind() == v1::UPDATE_KIND_REJECTED) {
        by_request[u.request_id()].insert(u.update_id());
      }
    }
    return by_request;
  };
  std::vector<std::string> unanswered;
  EXPECT_TRUE(WaitFor(
      [&] {
        if (!read_requests()) return false;
        const auto answers = outcomes();
        unanswered.clear();
        for (const auto& [id, request] : requests_) {
          if (answers.count(id) == 0) unanswered.push_back(id);
        }
        return unanswered.empty() && !requests_.empty();
      },
      absl::Seconds(90), absl::Seconds(1)))
      << requests_.size() << " requests, never answered: " << absl::StrJoin(unanswered, ", ")
      << replay_ << (unanswered.empty() ? "" : CentralAbout(unanswered[0]))
      << "\ncentral's last words:\n"
      << n.process("central")->LogTail(3000);
  // Exactly one outcome per request, and none for a request no driver sent.
  for (const auto& [id, answers] : outcomes()) {
    if (requests_.count(id) == 0) {
      ADD_FAILURE() << "answers to request " << id << ", which no driver sent: "
                    << absl::StrJoin(answers, ", ") << replay_;
    } else if (answers.size() != 1) {
      ADD_FAILURE() << "request " << id << " has " << answers.size()
                    << " outcomes: " << absl::StrJoin(answers, ", ") << replay_
                    << CentralAbout(id);
    }
  }
}

void ChaosTest::ExpectOneTicketPerAcceptedSession() {
  Network& n = *net_;
  std::vector<std::string> unticketed;
  auto all_ticketed = [&] {
    accepted_.clear();
    unticketed.clear();
    std::set<std::string> ticketed;
    for (const auto& u : n.updates().All()) {
      if (u.kind() == v1::UPDATE_KIND_ACCEPTED) accepted_.insert(u.session_id());
      if (u.kind() == v1::UPDATE_KIND_ENDED) ticketed.insert(u.session_id());
    }
    for (const std::string& s : accepted_) {
      if (ticketed.count(s) == 0) unticketed.push_back(s);
    }
    return unticketed.empty();
  };
  EXPECT_TRUE(WaitFor(all_ticketed, absl::Seconds(90)))
      << "accepted, never ticketed: " << absl::StrJoin(unticketed, ", ") << replay_
      << (unticketed.empty() ? "" : CentralAbout(unticketed[0]) + EnginesAbout(unticketed[0]))
      << "\ncentral's last words:\n"
      << n.process("central")->LogTail(3000);

  // Exactly one ticket per session, as a driver shows it (by update id), and
  // the same ticket however often Kafka delivered it.
  std::set<std::string> refused;  // sessions whose start the driver was told failed
  std::map<std::string, std::set<std::string>> ticket_ids;
  for (const auto& u : n.updates().All()) {
    if (u.kind() == v1::UPDATE_KIND_REJECTED && !u.session_id().empty()) {
      refused.insert(u.session_id());
    }
    if (u.kind() != v1::UPDATE_KIND_ENDED) continue;
    ticket_ids[u.session_id()].insert(u.update_id());
    auto [it, inserted] = tickets_.emplace(u.session_id(), u.ticket());
    if (!inserted) {
      EXPECT_EQ(it->second.SerializeAsString(), u.ticket().SerializeAsString())
          << "session " << u.session_id() << " ticketed twice, differently" << replay_;
    }
  }
  for (const auto& [session, ids] : ticket_ids) {
    EXPECT_EQ(ids.size(), 1u) << "session " << session << " has tickets "
                              << absl::StrJoin(ids, ", ") << replay_;
  }
  // Only what a driver asked for and central accepted is billed.
  for (const auto& [session, t] : tickets_) {
    EXPECT_TRUE(accepted_.count(session) > 0)
        << "session " << session << " ticketed, never accepted: " << t.ShortDebugString()
        << replay_ << CentralAbout(session);
    EXPECT_TRUE(refused.count(session) == 0)
        << "session " << session << " ticketed although its start was refused: "
        << t.ShortDebugString() << replay_ << CentralAbout(session);
  }
}

void ChaosTest::ExpectBilledIsSupplied() {
  Network& n = *net_;
  // Billed energy is the energy supplied: power over the supplied time, and
  // what the engine logged when the session ended. A zero ticket only for a
  // session no engine ended.
  const std::map<std::string, std::vector<Supplied>> supplied = SuppliedByEngines(n);
  for (const auto& [session, t] : tickets_) {
    const int cp = std::stoi(t.cp_id().substr(3));
    ASSERT_TRUE(cp >= 1 && cp <= n.cp_count()) << t.ShortDebugString();
    const CpSpec& spec = specs_[cp - 1];
    const std::string engine = absl::StrCat("cp-e-", cp);
    auto logged = supplied.find(session);
    if (t.end_reason() == v1::SESSION_END_REASON_CLOSED_UNCONFIRMED) {
      ++zero_tickets_;
      EXPECT_EQ(t.energy_kwh(), 0) << t.ShortDebugString() << replay_;
      EXPECT_EQ(t.amount_cents(), 0) << t.ShortDebugString() << replay_;
      if (logged != supplied.end()) {
        ADD_FAILURE() << "session " << session << " closed unconfirmed (zero ticket), but "
                      << engine << " ended it:\n"
                      << logged->second.front().line << replay_ << CentralAbout(session);
      }
      continue;
    }
    {
      SCOPED_TRACE(absl::StrCat("session ", session, replay_));
      ExpectTicketAgreesWithMeter(t, spec.power_kw, spec.price_eur_per_kwh);
    }
    const double hours = absl::ToDoubleHours(FromProto(t.ended_at()) - FromProto(t.started_at()));
    EXPECT_LE(hours, absl::ToDoubleHours(spec.session_duration) + 1e-9)
        << "session " << session << " billed longer than " << t.cp_id() << "'s sessions last"
        << replay_;
    // Central stops only sessions nobody is billed for (unasked, refused);
    // operators' stops say so.
    EXPECT_NE(t.end_reason(), v1::SESSION_END_REASON_STOPPED_BY_CENTRAL)
        << "session " << session << " accepted, then stopped by central as if unasked: "
        << t.ShortDebugString() << replay_ << CentralAbout(session);
    const std::string billed = absl::StrFormat("%.2f", t.energy_kwh());
    if (logged == supplied.end()) {
      ADD_FAILURE() << "session " << session << " billed " << billed << " kWh, but " << engine
                    << " never logged it ended" << replay_ << "\n"
                    << engine << ":\n"
                    << LinesAbout(n.FullLogOf(engine), session);
      continue;
    }
    const std::string amount = absl::StrFormat("%.2f", t.amount_eur());
    EXPECT_EQ(t.amount_cents(), std::llround(t.amount_eur() * 100))
        << "session " << session << ": " << t.ShortDebugString() << replay_;
    for (const Supplied& s : logged->second) {
      EXPECT_TRUE(s.kwh == billed && s.eur == amount)
          << "session " << session << " billed " << billed << " kWh, " << amount << " EUR; "
          << engine << " logged otherwise:\n"
          << s.line << replay_ << CentralAbout(session);
    }
  }
}

void ChaosTest::ExpectBooksAreTickets() {
  // The books are what drivers were told: the ledger's tickets are theirs.
  absl::StatusOr<std::vector<KafkaMessage>> ledger =
      net_->ReadRecords(kCentralLedgerTopic, kTopicPartitions);
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  std::map<std::string, v1::SessionResult> booked;
  for (const KafkaMessage& m : *ledger) {
    absl::StatusOr<v1::DriverUpdate> decision = FromJson<v1::DriverUpdate>(m.value);
    ASSERT_TRUE(decision.ok()) << "unreadable ledger record: " << m.value;
    if (decision->kind() != v1::UPDATE_KIND_ENDED) continue;
    auto [it, inserted] = booked.emplace(decision->session_id(), decision->ticket());
    if (!inserted) {
      EXPECT_EQ(it->second.SerializeAsString(), decision->ticket().SerializeAsString())
          << "session " << decision->session_id() << " booked twice, differently" << replay_;
    }
  }
  for (const auto& [session, t] : tickets_) {
    auto it = booked.find(session);
    if (it == booked.end()) {
      ADD_FAILURE() << "session " << session << " ticketed to its driver, not in "
                    << kCentralLedgerTopic << replay_;
    } else {
      EXPECT_EQ(it->second.SerializeAsString(), t.SerializeAsString())
          << "session " << session << " booked otherwise than ticketed" << replay_;
    }
  }
  for (const auto& [session, t] : booked) {
    EXPECT_TRUE(tickets_.count(session) > 0)
        << "session " << session << " booked in " << kCentralLedgerTopic
        << ", its driver never ticketed: " << t.ShortDebugString() << replay_;
  }

  // And the operator's books in SQL, which central followed the ledger into
  // through every kill: each ticket once, to the Wh and the cent.
  std::map<std::string, std::string> rows;  // session -> its CSV row
  std::string csv, why;
  const bool caught_up = WaitFor(
      [&] {
        absl::StatusOr<std::string> out = net_->Evctl({"tickets", "--csv"});
        if (!out.ok()) {
          why = std::string(out.status().message());
          return false;
        }
        csv = *std::move(out);
        rows.clear();
        for (absl::string_view line : absl::StrSplit(csv, '\n', absl::SkipEmpty())) {
          if (absl::StartsWith(line, "session_id,")) continue;
          const std::string session(line.substr(0, line.find(',')));
          if (!rows.emplace(session, std::string(line)).second) {
            ADD_FAILURE() << "session " << session << " in the books twice:\n" << csv << replay_;
          }
        }
        return rows.size() >= booked.size();
      },
      absl::Seconds(60));
  EXPECT_TRUE(caught_up) << rows.size() << " of " << booked.size()
                         << " tickets in the books after 60 s: " << why << "\n"
                         << csv << replay_ << "\ncentral:\n"
                         << LinesAbout(net_->FullLogOf("central"), "Books");
  for (const auto& [session, t] : booked) {
    auto row = rows.find(session);
    if (row == rows.end()) {
      if (caught_up) ADD_FAILURE() << "session " << session << " not in the books" << replay_;
      continue;
    }
    const int64_t wh = std::llround(t.energy_kwh() * 1000);
    const std::string figures =
        absl::StrFormat(",%d.%03d,%d.%04d,%d.%02d", wh / 1000, wh % 1000,
                        std::llround(t.price_eur_per_kwh() * 10000) / 10000,
                        std::llround(t.price_eur_per_kwh() * 10000) % 10000,
                        t.amount_cents() / 100, t.amount_cents() % 100);
    EXPECT_TRUE(absl::EndsWith(row->second, figures))
        << "session " << session << " in the books as " << row->second << ", its ticket "
        << t.ShortDebugString() << replay_;
  }
  EXPECT_EQ(rows.size(), booked.size()) << "the books hold tickets the ledger does not" << replay_;
}

void ChaosTest::ExpectNothingAskedSetAside() {
  // Nothing a driver asked for is set aside unanswered or unbilled.
  absl::StatusOr<std::vector<KafkaMessage>> dead =
      net_->ReadRecords(kDeadLetterTopic, kTopicPartitions);
  ASSERT_TRUE(dead.ok()) << dead.status();
  for (const KafkaMessage& m : *dead) {
    absl::StatusOr<v1::DeadLetter> letter = FromJson<v1::DeadLetter>(m.value);
    ASSERT_TRUE(letter.ok()) << "unreadable dead letter: " << m.value;
    if (absl::StartsWith(letter->reason(), "unasked:")) ++unasked_results_;
    EXPECT_NE(letter->topic(), kDriverRequestsTopic)
        << "a driver's request set aside: " << letter->ShortDebugString() << replay_;
    if (letter->topic() != kSessionResultsTopic) continue;
    absl::StatusOr<v1::SessionResult> result = FromJson<v1::SessionResult>(letter->value());
    if (result.ok() && accepted_.count(result->session_id()) > 0) {
      ADD_FAILURE() << "the result of accepted session " << result->session_id()
                    << " set aside: " << letter->ShortDebugString() << replay_
                    << CentralAbout(result->session_id());
    }
  }
}

void ChaosTest::ExpectNothingOpen() {
  Network& n = *net_;
  // No session open, as central lists them and as it would rebuild them.
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const v1::Session& s : n.Sessions()) {
          if (s.state() != v1::SESSION_STATE_ENDED) return false;
        }
        return true;
      },
      absl::Seconds(30)))
      << "central still lists open sessions" << replay_;
  std::map<std::string, std::string> open_records;  // session id -> its last record
  EXPECT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<std::vector<KafkaMessage>> records =
            n.ReadRecords(kCentralSessionsTopic, kTopicPartitions);
        if (!records.ok()) return false;
        std::map<std::string, std::string> last;
        for (const KafkaMessage& m : *records) last[m.key] = m.value;  // in order per key
        open_records.clear();
        for (const auto& [id, value] : last) {
          if (!value.empty()) open_records[id] = value;
        }
        return open_records.empty();
      },
      absl::Seconds(60), absl::Seconds(1)))
      << open_records.size() << " sessions still open in " << kCentralSessionsTopic << ": "
      << absl::StrJoin(open_records, "; ", absl::PairFormatter(" = ")) << replay_
      << (open_records.empty() ? ""
                               : CentralAbout(open_records.begin()->first) +
                                     EnginesAbout(open_records.begin()->first));
  // Every CP idle and On.
  for (int i = 1; i <= n.cp_count(); ++i) {
    EXPECT_TRUE(n.WaitForStatus(Network::CpId(i), v1::CP_STATUS_ACTIVE, absl::Seconds(10)))
        << Network::CpId(i) << replay_;
  }
}

void ChaosTest::ExpectNoAcceptedSessionAuditedUnasked() {
  Network& n = *net_;
  // What reconciliation did: sessions no driver asked for, stopped, and
  // sessions closed with a zero ticket. The audit trail says "never billed"
  // of the first: none of them may be one a driver was accepted for.
  absl::StatusOr<std::vector<KafkaMessage>> audit = n.ReadRecords(kAuditTopic, 1);
  ASSERT_TRUE(audit.ok()) << audit.status();
  std::vector<std::string> misaudited;
  std::string detail;  // of the first few
  for (const KafkaMessage& m : *audit) {
    absl::StatusOr<v1::AuditRecord> record = FromJson<v1::AuditRecord>(m.value);
    if (!record.ok() || !absl::StartsWith(record->action(), "session.")) continue;
    ++audited_[record->action()];
    if (record->action() != "session.unasked") continue;
    const std::string session(absl::StripPrefix(
        record->reason().substr(0, record->reason().find(" runs at ")), "session "));
    if (accepted_.count(session) == 0) continue;
    misaudited.push_back(session);
    if (misaudited.size() > 3) continue;
    auto ticket = tickets_.find(session);
    absl::StrAppend(
        &detail, "\n", session, " audited at ", TimeOf(record->at()), ": ", record->reason(),
        "; ticket: ",
        ticket == tickets_.end()
            ? std::string("none")
            : absl::StrCat(v1::SessionEndReason_Name(ticket->second.end_reason()), ", ",
                           absl::StrFormat("%.3f kWh", ticket->second.energy_kwh()),
                           ", ended at ", TimeOf(ticket->second.ended_at())),
        CentralAbout(session), "\n", record->target(), "'s engine:\n",
        LinesAbout(n.FullLogOf(absl::StrCat("cp-e-", std::stoi(record->target().substr(3)))),
                   session));
  }
  EXPECT_TRUE(misaudited.empty())
      << misaudited.size() << " accepted sessions audited as unasked (\"stopped, never "
      << "billed\"): " << absl::StrJoin(misaudited, ", ") << replay_ << detail;
}

void ChaosTest::PrintSummary() {
  std::cout << "CHAOS " << absl::FormatDuration(ChaosDuration()) << ", seed " << seed_ << ": "
            << total_kills_ << " kills (" << Counts(kills_) << "; at crash points "
            << Counts(crash_kills_) << ", " << crash_points_missed_ << " not reached), "
            << freezes_ << " freezes, a Kafka outage of " << absl::FormatDuration(outage_)
            << ", " << requests_.size() << " requests, " << accepted_.size()
            << " sessions accepted, " << tickets_.size() << " tickets, " << zero_tickets_
            << " zero tickets, audited " << Counts(audited_) << ", " << unasked_results_
            << " unasked results set aside" << std::endl;
}

TEST_F(ChaosTest, RandomKillsWhileDriversChargeLoseNothing) {
  ASSERT_NO_FATAL_FAILURE(StartNetwork());
  ASSERT_NO_FATAL_FAILURE(RunChaos());
  // Drivers stop asking; what they asked for must all end.
  for (const std::string& d : drivers_) ASSERT_TRUE(net_->Kill(d).ok());
  ExpectOneOutcomePerRequest();
  ExpectOneTicketPerAcceptedSession();
  ExpectBilledIsSupplied();
  ExpectBooksAreTickets();
  ExpectNothingAskedSetAside();
  ExpectNothingOpen();
  ExpectNoAcceptedSessionAuditedUnasked();
  PrintSummary();
  EXPECT_GT(total_kills_, 0);
  EXPECT_GT(tickets_.size(), 0u);
}

}  // namespace
}  // namespace evnet::test
