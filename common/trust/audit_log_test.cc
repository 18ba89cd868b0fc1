#include "common/trust/audit_log.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

TEST(AuditLogTest, ARetriedRefusalIsWrittenOnceAWindowEverythingElseEachTime) {
  MemoryAuditLog audit;
  const std::string cp = "cp CP-002";
  for (int i = 0; i < 5; ++i) {  // a revoked monitor reconnecting, each time from a new port
    audit.RecordRetriedRefusal({cp, "ipv4:127.0.0.1:" + std::to_string(40000 + i)},
                               "monitor.register", "CP-002", "CP-002 was revoked");
  }
  // Another reason, another target, another actor: each a record of its own.
  audit.RecordRetriedRefusal({cp, "x"}, "monitor.register", "CP-002", "CP-002 is not enrolled");
  audit.RecordRetriedRefusal({cp, "x"}, "monitor.register", "CP-001", "CP-002 was revoked");
  audit.RecordRetriedRefusal({"cp CP-003", "x"}, "monitor.register", "CP-002",
                             "CP-002 was revoked");
  // Each refused message is evidence of its own; what was done is never folded.
  for (int i = 0; i < 2; ++i) {
    audit.Record({"producer of evnet.session.results", "p@" + std::to_string(i)}, "message",
                 "CP-001", "refused", "forged");
  }
  audit.Record({"operator alice", "y"}, "cp.stop", "CP-001", "done");
  audit.Record({"operator alice", "y"}, "cp.stop", "CP-001", "done");
  std::vector<v1::AuditRecord> records = audit.records();
  ASSERT_EQ(records.size(), 8u);
  EXPECT_EQ(records[0].reason(), "CP-002 was revoked");
  EXPECT_EQ(records[0].source(), "ipv4:127.0.0.1:40000");
  EXPECT_EQ(records[0].result(), "refused");
  EXPECT_EQ(records[0].repeats_since_last(), 0u);
  EXPECT_EQ(records[1].reason(), "CP-002 is not enrolled");
  EXPECT_EQ(records[2].target(), "CP-001");
  EXPECT_EQ(records[3].actor(), "cp CP-003");
  EXPECT_EQ(records[4].source(), "p@0");
  EXPECT_EQ(records[5].source(), "p@1");
  EXPECT_EQ(records[6].action(), "cp.stop");
  EXPECT_EQ(records[7].action(), "cp.stop");
}

TEST(AuditLogTest, AFloodOfRefusedMessagesWritesABoundedNumberOfRecordsAndCountsTheRest) {
  FakeClock clock;
  MemoryAuditLog audit(clock);
  auto refuse = [&](const std::string& topic, int i) {
    audit.RecordBoundedRefusal(topic, {"producer of " + topic, absl::StrCat(topic, "@", i)},
                               "message", absl::StrCat("driver-", i), "forged");
  };
  // 1,000 forged requests, each under its own key, in one window.
  for (int i = 0; i < 1000; ++i) refuse("evnet.driver.requests", i);
  // Another topic has its own budget.
  refuse("evnet.session.results", 0);
  std::vector<v1::AuditRecord> records = audit.records();
  ASSERT_EQ(records.size(), static_cast<size_t>(AuditLog::kBudgetPerWindow) + 1);
  EXPECT_EQ(records[0].target(), "driver-0");
  EXPECT_EQ(records[AuditLog::kBudgetPerWindow - 1].target(),
            absl::StrCat("driver-", AuditLog::kBudgetPerWindow - 1));
  EXPECT_EQ(records.back().source(), "evnet.session.results@0");
  EXPECT_EQ(records.back().reason(), "forged");
  for (const v1::AuditRecord& r : records) EXPECT_EQ(r.result(), "refused");

  // Within the window nothing more is written; the next window's first record
  // says how many were left out.
  clock.Advance(AuditLog::kRepeatWindow - absl::Seconds(1));
  refuse("evnet.driver.requests", 1000);
  EXPECT_EQ(audit.records().size(), records.size());
  clock.Advance(absl::Seconds(1));
  refuse("evnet.driver.requests", 1001);
  records = audit.records();
  ASSERT_EQ(records.size(), static_cast<size_t>(AuditLog::kBudgetPerWindow) + 2);
  EXPECT_EQ(records.back().target(), "driver-1001");
  EXPECT_EQ(records.back().reason(),
            absl::StrCat("forged [and ", 1000 - AuditLog::kBudgetPerWindow + 1,
                         " more refusals of evnet.driver.requests before this one, not recorded "
                         "one by one]"));
  // Counted once: the record after it is plain again.
  refuse("evnet.driver.requests", 1002);
  EXPECT_EQ(audit.records().back().reason(), "forged");
}

TEST(AuditLogTest, WhatOutsidersWroteNeverBreaksARecordsLine) {
  MemoryAuditLog audit;
  audit.Record({"operator (dashboard)", "10.0.0.9"}, "operator.login",
               "eve\n2026-12-05 AUDIT operator.login admin done", "refused", "wrong\r\tpassword");
  std::vector<v1::AuditRecord> records = audit.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].target(), "eve\\x0a2026-12-05 AUDIT operator.login admin done");
  EXPECT_EQ(records[0].reason(), "wrong\\x0d\\x09password");
}

}  // namespace
}  // namespace evnet
