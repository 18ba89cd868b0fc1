// The revoked certificates as a program other than central knows them: the
// list's answers, and a follower of the topic over librdkafka's mock
// cluster (a revocation written after it started is in force without a
// restart; a record that is not one is skipped).
#include "common/trust/revocation_list.h"

#include <memory>
#include <string>

#include "common/json_codec.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/topics.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/mock_kafka.h"
#include "testing/process.h"

namespace evnet {
namespace {

using ::testing::HasSubstr;

v1::RevokedCertificate Revoked(const std::string& sha256, const std::string& holder) {
  v1::RevokedCertificate record;
  record.set_certificate_sha256(sha256);
  record.set_holder(holder);
  record.set_revoked_by("operator alice");
  *record.mutable_revoked_at() = ToProto(absl::FromUnixSeconds(1'800'000'000));
  record.set_reason("laptop stolen");
  return record;
}

TEST(RevocationListTest, NothingPassesUntilReadThenOnlyWhatWasNotRevoked) {
  RevocationList list("CP_E:CP-001");
  list.Add(Revoked("aa", "operator bob"));
  const absl::Status early = list.Check("bb");
  EXPECT_TRUE(absl::IsUnavailable(early)) << early;
  EXPECT_THAT(early.message(), HasSubstr("CP_E:CP-001 is still reading"));
  list.FinishRestore();
  EXPECT_TRUE(list.Check("bb").ok());
  const absl::Status revoked = list.Check("aa");
  EXPECT_TRUE(absl::IsPermissionDenied(revoked)) << revoked;
  EXPECT_THAT(std::string(revoked.message()),
              ::testing::MatchesRegex("the certificate of operator bob was revoked by operator "
                                      "alice at 2027-01-15T08:00:00.*: laptop stolen"));
}

TEST(RevocationFollowerTest, FollowsTheTopicFromItsStartAndOnwards) {
  test::MockKafkaCluster kafka({{kRevokedCertificatesTopic, 1}});
  KafkaProducerOptions options;
  options.bootstrap_servers = kafka.bootstrap();
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(options);
  ASSERT_TRUE(producer.ok()) << producer.status();
  auto produce = [&](const std::string& key, const std::string& value) {
    ASSERT_TRUE((*producer)->Produce(kRevokedCertificatesTopic, key, value, [](absl::Status) {}).ok());
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());
  };
  produce("aa", ToJson(Revoked("aa", "operator bob")));
  produce("junk", "not a revocation");

  RevocationList list("test");
  std::unique_ptr<RevocationFollower> follower =
      RevocationFollower::Start(kafka.bootstrap(), "test", list);
  ASSERT_TRUE(test::WaitFor([&] { return list.restored(); }, absl::Seconds(20)));
  EXPECT_TRUE(absl::IsPermissionDenied(list.Check("aa")));
  EXPECT_TRUE(list.Check("cc").ok());

  produce("cc", ToJson(Revoked("cc", "driver driver-eve")));
  EXPECT_TRUE(test::WaitFor([&] { return absl::IsPermissionDenied(list.Check("cc")); },
                            absl::Seconds(20)));
}

}  // namespace
}  // namespace evnet
