#include "cp_engine/journal.h"

#include <stdlib.h>

#include <fstream>

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
  pending->set_energy_kwh(1.5);
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

TEST(JournalTest, AnUnwritableStateDirIsAnError) {
  Journal journal("/proc/evnet-cannot-be-here");
  EXPECT_FALSE(journal.Open().ok());
}

}  // namespace
}  // namespace evnet
