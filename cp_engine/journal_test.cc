#include "cp_engine/journal.h"

#include <stdlib.h>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

std::string TestDir(const std::string& name) {
  return std::string(getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(JournalTest, NoJournalMeansNothingRunning) {
  Journal journal(TestDir("empty/nested"));
  ASSERT_TRUE(journal.Open().ok());
  auto loaded = journal.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->has_request());
  EXPECT_EQ(loaded->pending_results_size(), 0);
}

TEST(JournalTest, WhatIsSavedIsLoadedBackByANewInstance) {
  v1::EngineJournal saved;
  saved.mutable_request()->set_session_id("s-1");
  saved.mutable_request()->set_driver_id("driver-alice");
  saved.mutable_supply()->set_energy_kwh(3.25);
  saved.mutable_supply()->set_amount_eur(0.98);
  v1::SessionResult* pending = saved.add_pending_results();
  pending->set_session_id("s-0");
  pending->set_cp_id("CP-001");
  pending->set_driver_id("driver-bob");
  pending->set_energy_kwh(1.5);
  pending->set_price_eur_per_kwh(0.3);
  pending->set_amount_eur(0.45);
  pending->set_end_reason(v1::SESSION_END_REASON_UNPLUGGED);
  {
    Journal journal(TestDir("roundtrip"));
    ASSERT_TRUE(journal.Open().ok());
    ASSERT_TRUE(journal.Save(saved).ok());
  }
  Journal reopened(TestDir("roundtrip"));
  auto loaded = reopened.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->request().session_id(), "s-1");
  EXPECT_DOUBLE_EQ(loaded->supply().energy_kwh(), 3.25);
  ASSERT_EQ(loaded->pending_results_size(), 1);
  EXPECT_EQ(loaded->pending_results(0).session_id(), "s-0");
  EXPECT_EQ(loaded->pending_results(0).end_reason(), v1::SESSION_END_REASON_UNPLUGGED);
}

TEST(JournalTest, ASaveReplacesThePreviousOne) {
  Journal journal(TestDir("replace"));
  ASSERT_TRUE(journal.Open().ok());
  v1::EngineJournal first;
  first.mutable_request()->set_session_id("s-1");
  ASSERT_TRUE(journal.Save(first).ok());
  ASSERT_TRUE(journal.Save(v1::EngineJournal()).ok());
  auto loaded = journal.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->has_request());
}

TEST(JournalTest, ADamagedJournalIsReportedNotIgnored) {
  Journal journal(TestDir("damaged"));
  ASSERT_TRUE(journal.Open().ok());
  std::ofstream(journal.path()) << "{\"request\": {\"sessionId\": ";
  auto loaded = journal.Load();
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(loaded.status().message()).find(journal.path()), std::string::npos);
}

// Found by //cp_engine:journal_fuzzer: a journal that parses but makes no
// sense was published as results central cannot bill.
TEST(JournalTest, AJournalThatMakesNoSenseIsRefusedWithWhatIsWrong) {
  Journal journal(TestDir("nonsense"));
  ASSERT_TRUE(journal.Open().ok());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"pendingResults":[{"sessionId":"s-0","cpId":"CP-001","driverId":"d-1",)"
       R"("energyKwh":"NaN"}]})",
       "pending result 0: energy_kwh"},
      {R"({"pendingResults":[{"cpId":"CP 001","driverId":"x","amountEur":-1}]})",
       "pending result 0: session_id"},
      {R"({"request":{"sessionId":"s-1"},"supply":{"powerKw":22}})", "request.driver_id"},
      {R"({"request":{"sessionId":"s-1","driverId":"d-1"},"supply":{"energyKwh":"Infinity"}})",
       "running supply: energy_kwh"},
  };
  for (const auto& [text, wrong] : cases) {
    std::ofstream(journal.path(), std::ios::trunc) << text;
    auto loaded = journal.Load();
    ASSERT_FALSE(loaded.ok()) << text;
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(std::string(loaded.status().message()).find(journal.path()), std::string::npos);
    EXPECT_NE(std::string(loaded.status().message()).find(wrong), std::string::npos)
        << loaded.status();
  }
}

TEST(JournalTest, AnUnwritableStateDirIsAnError) {
  Journal journal("/proc/evnet-cannot-be-here");
  EXPECT_FALSE(journal.Open().ok());
}

TEST(JournalWriterTest, PostReturnsWhileTheDiskIsSlowAndTheLatestJournalWins) {
  absl::Notification disk_free;
  absl::Mutex mu;
  std::vector<std::string> saved;
  JournalWriter writer([&](const v1::EngineJournal& journal) {
    disk_free.WaitForNotification();  // a disk that takes its time
    absl::MutexLock lock(&mu);
    saved.push_back(journal.supply().session_id());
    return absl::OkStatus();
  });
  const absl::Time start = absl::Now();
  for (const char* id : {"s-1", "s-2", "s-3"}) {
    v1::EngineJournal journal;
    journal.mutable_supply()->set_session_id(id);
    writer.Post(journal);
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));  // nobody waited for the disk
  disk_free.Notify();
  writer.Flush();
  absl::MutexLock lock(&mu);
  ASSERT_FALSE(saved.empty());
  EXPECT_EQ(saved.back(), "s-3");
  EXPECT_LE(saved.size(), 2u);  // s-2 (and perhaps s-1) replaced while waiting
}

TEST(JournalWriterTest, WaitSaysWhetherAJournalAsNewAsItsOwnIsOnDisk) {
  absl::Mutex mu;
  absl::Status disk = absl::OkStatus();
  JournalWriter writer([&](const v1::EngineJournal&) {
    absl::MutexLock lock(&mu);
    return disk;
  });
  v1::EngineJournal journal;
  EXPECT_TRUE(writer.Wait(writer.Post(journal)).ok());
  {
    absl::MutexLock lock(&mu);
    disk = absl::ResourceExhaustedError("no space left on device");
  }
  const uint64_t failed = writer.Post(journal);
  absl::Status waited = writer.Wait(failed);
  EXPECT_EQ(waited.code(), absl::StatusCode::kResourceExhausted) << waited;
  {
    absl::MutexLock lock(&mu);
    disk = absl::OkStatus();
  }
  // A newer journal holds all the failed one held.
  EXPECT_TRUE(writer.Wait(writer.Post(journal)).ok());
  EXPECT_TRUE(writer.Wait(failed).ok());
}

TEST(JournalWriterTest, WhatIsPostedIsOnDiskOnceTheWriterIsGone) {
  Journal journal(TestDir("writer"));
  ASSERT_TRUE(journal.Open().ok());
  {
    JournalWriter writer([&](const v1::EngineJournal& j) { return journal.Save(j); });
    v1::EngineJournal posted;
    posted.mutable_supply()->set_session_id("s-last");
    writer.Post(posted);
  }
  absl::StatusOr<v1::EngineJournal> loaded = journal.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->supply().session_id(), "s-last");
}

}  // namespace
}  // namespace evnet
