// Durability on the real broker: what the broker acknowledged (acks=all)
// survives a SIGKILL of the broker, and a consumer group that committed its
// offset before the crash gets each later message exactly once. And reading
// from a point in time, which needs the broker's time index (the mock cluster
// of the unit tests has none). And transactions as central relies on them: a
// producer replaced under its transactional id writes nothing more, and a
// commit asked for while the broker is down lands once, when it is back.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/kafka/kafka_consumer.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/kafka_reader.h"
#include "common/kafka/kafka_transactions.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/kafka_broker.h"
#include "testing/kafka_transactions_util.h"
#include "testing/process.h"

namespace evnet::test {
namespace {

using ::testing::ElementsAre;

constexpr char kTopic[] = "evnet.test.durability";

class KafkaDurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = KafkaBroker::Start();
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    std::cerr << "broker start: " << broker_->last_start_time() << "\n";
  }

  std::unique_ptr<KafkaProducer> NewProducer() {
    KafkaProducerOptions options;
    options.bootstrap_servers = broker_->bootstrap_servers();
    auto producer = KafkaProducer::Create(options);
    EXPECT_TRUE(producer.ok()) << producer.status();
    return producer.ok() ? *std::move(producer) : nullptr;
  }

  std::unique_ptr<KafkaConsumer> NewConsumer(const std::string& group) {
    KafkaConsumerOptions options;
    options.bootstrap_servers = broker_->bootstrap_servers();
    options.group_id = group;
    options.topics = {kTopic};
    auto consumer = KafkaConsumer::Create(options);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    return consumer.ok() ? *std::move(consumer) : nullptr;
  }

  // Handles messages until the end of the partition is reached.
  std::vector<std::string> ConsumeToEnd(KafkaConsumer& consumer) {
    std::vector<std::string> values;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      auto polled = consumer.Poll(absl::Milliseconds(500), [&](const KafkaMessage& m) {
        values.push_back(m.value);
        return absl::OkStatus();
      });
      EXPECT_TRUE(polled.ok()) << polled.status();
      if (polled.ok() && *polled == PollResult::kEndOfPartition) return values;
    }
    ADD_FAILURE() << "never reached the end of " << kTopic << "; got " << values.size();
    return values;
  }

  std::unique_ptr<KafkaTransactions> NewTransactions() {
    return test::NewTransactions(broker_->bootstrap_servers(), "evnet-durability");
  }
  std::vector<std::string> ReadCommitted() {
    return test::ReadCommitted(broker_->bootstrap_servers(), kTopic);
  }

  std::unique_ptr<KafkaBroker> broker_;
};

// Two centrals must never both write decisions: the newer holder of the
// transactional id fences the older, whose next commit fails for good (its
// central then exits, central.cc) and leaves nothing visible.
TEST_F(KafkaDurabilityTest, AProducerReplacedUnderItsTransactionalIdWritesNothingMore) {
  auto old_central = NewTransactions();
  ASSERT_NE(old_central, nullptr);
  ASSERT_TRUE(CommitAndWait(*old_central, {{kTopic, "old", "before"}}).ok());

  auto new_central = NewTransactions();
  ASSERT_NE(new_central, nullptr);
  ASSERT_TRUE(WaitFor([&] { return new_central->Started().ok(); }, absl::Seconds(30)))
      << new_central->Started();

  absl::Status late = CommitAndWait(*old_central, {{kTopic, "old", "after"}});
  EXPECT_FALSE(late.ok());
  EXPECT_FALSE(old_central->Fatal().ok());
  EXPECT_TRUE(new_central->Fatal().ok()) << new_central->Fatal();
  ASSERT_TRUE(CommitAndWait(*new_central, {{kTopic, "new", "1"}}).ok());
  EXPECT_THAT(ReadCommitted(), ElementsAre("old=before", "new=1"));
}

TEST_F(KafkaDurabilityTest, ACommitAskedForWhileTheBrokerIsDownLandsOnceWhenItIsBack) {
  if (!broker_->owned()) GTEST_SKIP() << "KAFKA_BOOTSTRAP is set: cannot kill that broker";
  auto transactions = NewTransactions();
  ASSERT_NE(transactions, nullptr);
  ASSERT_TRUE(CommitAndWait(*transactions, {{kTopic, "a", "1"}}).ok());
  ASSERT_TRUE(broker_->Kill().ok());

  // Answered when it is known: a commit that timed out is retried, not
  // abandoned, so the answer may take the outage plus a commit.
  auto done = std::make_shared<absl::Notification>();
  auto status = std::make_shared<absl::Status>(absl::UnknownError("no answer"));
  transactions->Commit({{kTopic, "b", "2"}, {kTopic, "a", std::nullopt}},
                       [done, status](absl::Status committed) {
                         *status = committed;
                         done->Notify();
                       });
  ASSERT_TRUE(broker_->Restart().ok());
  ASSERT_TRUE(done->WaitForNotificationWithTimeout(absl::Seconds(90)));
  if (!status->ok()) {
    // Failed as a whole: nothing of it is visible, and it can be asked again.
    EXPECT_THAT(ReadCommitted(), ElementsAre("a=1"));
    ASSERT_TRUE(CommitAndWait(*transactions, {{kTopic, "b", "2"}, {kTopic, "a", std::nullopt}},
                              absl::Seconds(60))
                    .ok());
  }
  EXPECT_THAT(ReadCommitted(), ElementsAre("a=1", "b=2", "a="));
}

TEST_F(KafkaDurabilityTest, AcknowledgedMessageSurvivesBrokerKillAndIsConsumedOnce) {
  if (!broker_->owned()) GTEST_SKIP() << "KAFKA_BOOTSTRAP is set: cannot kill that broker";
  auto producer = NewProducer();
  ASSERT_TRUE(producer->ProduceAndWait(kTopic, "CP-001", "before", absl::Seconds(30)).ok());
  {
    auto consumer = NewConsumer("durability-group");
    EXPECT_THAT(ConsumeToEnd(*consumer), ElementsAre("before"));
    ASSERT_TRUE(consumer->Commit().ok());
    ASSERT_TRUE(consumer->Close().ok());
  }
  absl::Status acked = producer->ProduceAndWait(kTopic, "CP-001", "after", absl::Seconds(30));
  ASSERT_TRUE(acked.ok()) << acked;
  producer.reset();

  ASSERT_TRUE(broker_->Kill().ok());
  absl::Status restarted = broker_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  std::cerr << "broker restart after SIGKILL: " << broker_->last_start_time() << "\n";

  auto consumer = NewConsumer("durability-group");
  EXPECT_THAT(ConsumeToEnd(*consumer), ElementsAre("after"));
  ASSERT_TRUE(consumer->Close().ok());

  // And a group that never committed sees both, each once.
  auto fresh = NewConsumer("durability-fresh-group");
  EXPECT_THAT(ConsumeToEnd(*fresh), ElementsAre("before", "after"));
}

TEST_F(KafkaDurabilityTest, ProducerHoldsMessagesThroughAnOutageAndDeliversThemOnce) {
  if (!broker_->owned()) GTEST_SKIP() << "KAFKA_BOOTSTRAP is set: cannot kill that broker";
  auto producer = NewProducer();
  ASSERT_TRUE(producer->ProduceAndWait(kTopic, "CP-002", "first", absl::Seconds(30)).ok());
  ASSERT_TRUE(broker_->Kill().ok());

  absl::Notification delivered;
  absl::Status delivery = absl::UnknownError("no report");
  ASSERT_TRUE(producer
                  ->Produce(kTopic, "CP-002", "during-outage",
                            [&](absl::Status s) {
                              delivery = s;
                              delivered.Notify();
                            })
                  .ok());
  EXPECT_FALSE(delivered.HasBeenNotified());

  ASSERT_TRUE(broker_->Restart().ok());
  ASSERT_TRUE(delivered.WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_TRUE(delivery.ok()) << delivery;

  auto consumer = NewConsumer("outage-group");
  EXPECT_THAT(ConsumeToEnd(*consumer), ElementsAre("first", "during-outage"));
}

TEST_F(KafkaDurabilityTest, AReaderStartsAtTheFirstMessageSinceItsTime) {
  auto producer = NewProducer();
  const absl::Time now = absl::Now();
  for (const auto& [value, at] : std::vector<std::pair<std::string, absl::Time>>{
           {"old", now - absl::Hours(2)}, {"older-stamp-later", now - absl::Hours(3)},
           {"recent", now - absl::Minutes(1)}, {"newest", now}}) {
    absl::Notification delivered;
    absl::Status sent;
    ASSERT_TRUE(producer
                    ->Produce(
                        kTopic, "k", value,
                        [&](absl::Status s) {
                          sent = s;
                          delivered.Notify();
                        },
                        at)
                    .ok());
    ASSERT_TRUE(delivered.WaitForNotificationWithTimeout(absl::Seconds(10)));
    ASSERT_TRUE(sent.ok()) << sent;
  }
  KafkaReaderOptions options;
  options.bootstrap_servers = broker_->bootstrap_servers();
  options.partitions = {{kTopic, 0, now - absl::Hours(1)}};
  auto reader = KafkaReader::Create(options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<std::string> values;
  ASSERT_TRUE((*reader)->ReadToEnd(absl::Seconds(20), [&](const KafkaMessage& m) {
    values.push_back(m.value);
    return absl::OkStatus();
  }).ok());
  EXPECT_THAT(values, ElementsAre("recent", "newest"));
}

}  // namespace
}  // namespace evnet::test
