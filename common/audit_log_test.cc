#include "common/audit_log.h"

#include <string>

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
