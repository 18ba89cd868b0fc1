#include "common/audit_log.h"

#include "gtest/gtest.h"

namespace evnet {
namespace {

TEST(AuditLogTest, ARefusalRepeatedByTheSameActorIsWrittenOnceAWindow) {
  MemoryAuditLog audit;
  const Actor cp{"cp CP-002", "ipv4:127.0.0.1:40000"};
  for (int i = 0; i < 5; ++i) {
    audit.Record({cp.name, "ipv4:127.0.0.1:" + std::to_string(40000 + i)}, "monitor.register",
                 "CP-002", "refused", "CP-002 was revoked");
  }
  // Another reason, another target, another actor: each a record of its own.
  audit.Record(cp, "monitor.register", "CP-002", "refused", "CP-002 is not enrolled");
  audit.Record(cp, "monitor.register", "CP-001", "refused", "CP-002 was revoked");
  audit.Record({"cp CP-003", "x"}, "monitor.register", "CP-002", "refused", "CP-002 was revoked");
  // What was done is never folded.
  audit.Record({"operator alice", "y"}, "cp.stop", "CP-001", "done");
  audit.Record({"operator alice", "y"}, "cp.stop", "CP-001", "done");
  std::vector<v1::AuditRecord> records = audit.records();
  ASSERT_EQ(records.size(), 6u);
  EXPECT_EQ(records[0].reason(), "CP-002 was revoked");
  EXPECT_EQ(records[0].source(), "ipv4:127.0.0.1:40000");
  EXPECT_EQ(records[0].repeats_since_last(), 0u);
  EXPECT_EQ(records[1].reason(), "CP-002 is not enrolled");
  EXPECT_EQ(records[2].target(), "CP-001");
  EXPECT_EQ(records[3].actor(), "cp CP-003");
  EXPECT_EQ(records[4].action(), "cp.stop");
  EXPECT_EQ(records[5].action(), "cp.stop");
}

}  // namespace
}  // namespace evnet
