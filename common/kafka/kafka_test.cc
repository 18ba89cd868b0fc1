// The Kafka wrapper against librdkafka's in-process mock cluster: a real
// Kafka protocol peer, good for the wrapper's contract. Durability and
// recovery are tested on the real broker under testing/.
#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/kafka/kafka_admin.h"
#include "common/kafka/kafka_consumer.h"
#include "common/kafka/kafka_dispatcher.h"
#include "common/kafka/kafka_follower.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/kafka_reader.h"
#include "common/kafka/kafka_transactions.h"
#include "common/kafka/kafka_wake_list.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/kafka_transactions_util.h"
#include "testing/mock_kafka.h"
#include "testing/process.h"

namespace evnet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kTopic[] = "evnet.test";
constexpr char kKeyedTopic[] = "evnet.test.keyed";  // six partitions


class KafkaTest : public ::testing::Test {
 protected:
  std::unique_ptr<KafkaProducer> NewProducer(absl::Duration delivery_timeout = absl::Seconds(10),
                                             bool replace_when_fatal = true) {
    KafkaProducerOptions options;
    options.bootstrap_servers = cluster_.bootstrap();
    options.delivery_timeout = delivery_timeout;
    options.replace_when_fatal = replace_when_fatal;
    auto producer = KafkaProducer::Create(options);
    EXPECT_TRUE(producer.ok()) << producer.status();
    return producer.ok() ? *std::move(producer) : nullptr;
  }

  std::unique_ptr<KafkaConsumer> NewConsumer(const std::string& group) {
    KafkaConsumerOptions options;
    options.bootstrap_servers = cluster_.bootstrap();
    options.group_id = group;
    options.partitions = {{kTopic, 0}};
    auto consumer = KafkaConsumer::Create(options);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    return consumer.ok() ? *std::move(consumer) : nullptr;
  }

  void ProduceValues(KafkaProducer& producer, const std::vector<std::string>& values) {
    for (const std::string& value : values) {
      ASSERT_TRUE(producer.ProduceAndWait(kTopic, "key-" + value, value, absl::Seconds(10)).ok());
    }
  }

  // Polls until the consumer reaches the end of the partition (or a deadline),
  // returning the values it handled.
  std::vector<std::string> ConsumeToEnd(KafkaConsumer& consumer) {
    std::vector<std::string> values;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      auto polled = consumer.Poll(absl::Milliseconds(200), [&](const KafkaMessage& m) {
        EXPECT_EQ(m.key, "key-" + m.value);
        values.push_back(m.value);
        return absl::OkStatus();
      });
      EXPECT_TRUE(polled.ok()) << polled.status();
      if (polled.ok() && *polled == PollResult::kEndOfPartition) return values;
    }
    ADD_FAILURE() << "never reached the end of the partition; got " << values.size();
    return values;
  }

  test::MockKafkaCluster cluster_{{{kTopic, 1},
                                   {kKeyedTopic, 6},
                                   {"evnet.test.first.0", 1},
                                   {"evnet.test.first.1", 1},
                                   {"evnet.test.first.2", 1},
                                   {"evnet.test.first.3", 1},
                                   {"evnet.test.first.4", 1},
                                   {"evnet.test.first.5", 1},
                                   {"evnet.test.first.6", 1},
                                   {"evnet.test.first.7", 1},
                                   {"evnet.test.first.8", 1},
                                   {"evnet.test.first.9", 1}}};
};

// librdkafka looks a topic that is only named in a produce call up at its
// topic scan, once a second: five first messages in turn took 4 to 5 s.
constexpr absl::Duration kFiveFirstMessages = absl::Seconds(2);

TEST_F(KafkaTest, ProducedMessagesAreConsumedInOrder) {
  auto producer = NewProducer();
  ProduceValues(*producer, {"one", "two", "three"});
  auto consumer = NewConsumer("g-order");
  EXPECT_THAT(ConsumeToEnd(*consumer), ElementsAre("one", "two", "three"));
}

TEST_F(KafkaTest, AKeyLandsOnThePartitionPartitionForKeyNames) {
  auto producer = NewProducer();
  std::vector<std::string> keys;
  for (int i = 0; i < 30; ++i) keys.push_back(absl::StrCat("driver-", i));
  for (const std::string& key : keys) {
    ASSERT_TRUE(producer->ProduceAndWait(kKeyedTopic, key, key, absl::Seconds(10)).ok());
  }
  KafkaReaderOptions options;
  options.bootstrap_servers = cluster_.bootstrap();
  for (int p = 0; p < 6; ++p) options.partitions.push_back({kKeyedTopic, p});
  auto consumer = KafkaReader::Create(options);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  std::set<int32_t> used;
  size_t seen = 0;
  ASSERT_TRUE((*consumer)->ReadToEnd(absl::Seconds(20), [&](const KafkaMessage& m) {
    EXPECT_EQ(m.partition, PartitionForKey(m.key, 6)) << m.key;
    used.insert(m.partition);
    ++seen;
    return absl::OkStatus();
  }).ok());
  EXPECT_EQ(seen, keys.size());
  EXPECT_GT(used.size(), 1u);  // the keys spread: not all on one partition
}

TEST_F(KafkaTest, RestartedConsumerResumesFromCommittedOffset) {
  auto producer = NewProducer();
  ProduceValues(*producer, {"a", "b"});
  {
    auto consumer = NewConsumer("g-resume");
    EXPECT_THAT(ConsumeToEnd(*consumer), ElementsAre("a", "b"));
    ASSERT_TRUE(consumer->Close().ok());
  }
  ProduceValues(*producer, {"c"});
  auto restarted = NewConsumer("g-resume");
  EXPECT_THAT(ConsumeToEnd(*restarted), ElementsAre("c"));

  // Another group has its own offsets and reads everything.
  auto other = NewConsumer("g-other");
  EXPECT_THAT(ConsumeToEnd(*other), ElementsAre("a", "b", "c"));
}

TEST_F(KafkaTest, AConsumerThatResumesFromItsCommittedOffsetHasNoLagForWhatItReadBefore) {
  auto producer = NewProducer();
  std::vector<std::string> history;
  for (int i = 0; i < 40; ++i) history.push_back(absl::StrCat("old-", i));
  ProduceValues(*producer, history);
  {
    auto consumer = NewConsumer("g-lag");
    EXPECT_EQ(ConsumeToEnd(*consumer).size(), 40u);
    ASSERT_TRUE(consumer->Close().ok());
  }
  // Restarted, with nothing new: nothing read from the partition yet, and
  // no backlog either (the history before its committed offset is not one).
  auto restarted = NewConsumer("g-lag");
  absl::StatusOr<int64_t> lag;
  ASSERT_TRUE(test::WaitFor([&] {
    lag = restarted->Lag();  // known once the first fetch brought the watermarks
    return lag.ok();
  }, absl::Seconds(10))) << lag.status();
  EXPECT_EQ(*lag, 0);
  // A group that never committed, starting from the beginning: all of it.
  auto fresh = NewConsumer("g-lag-fresh");
  ASSERT_TRUE(test::WaitFor([&] {
    lag = fresh->Lag();  // known once the first fetch brought the watermarks
    return lag.ok();
  }, absl::Seconds(10))) << lag.status();
  EXPECT_EQ(*lag, 40);
}

TEST_F(KafkaTest, FailedHandlerGetsTheMessageAgainAndItIsNotCommitted) {
  auto producer = NewProducer();
  ProduceValues(*producer, {"x", "y"});
  {
    auto consumer = NewConsumer("g-retry");
    std::vector<std::string> seen;
    bool failed_once = false;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (seen.size() < 3 && absl::Now() < deadline) {
      auto polled = consumer->Poll(absl::Milliseconds(200), [&](const KafkaMessage& m) {
        seen.push_back(m.value);
        if (m.value == "y" && !failed_once) {
          failed_once = true;
          return absl::UnavailableError("downstream is away");
        }
        return absl::OkStatus();
      });
      if (!polled.ok()) {
        EXPECT_THAT(std::string(polled.status().message()), HasSubstr("downstream"));
      }
    }
    EXPECT_THAT(seen, ElementsAre("x", "y", "y"));
    ASSERT_TRUE(consumer->Close().ok());
  }
  // Everything was handled in the end, so nothing comes again.
  ProduceValues(*producer, {"z"});
  auto restarted = NewConsumer("g-retry");
  EXPECT_THAT(ConsumeToEnd(*restarted), ElementsAre("z"));
}

TEST_F(KafkaTest, UnhandledMessageIsRedeliveredAfterRestart) {
  auto producer = NewProducer();
  ProduceValues(*producer, {"p", "q"});
  {
    auto consumer = NewConsumer("g-crash");
    std::vector<std::string> seen;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (seen.size() < 2 && absl::Now() < deadline) {
      auto polled = consumer->Poll(absl::Milliseconds(200), [&](const KafkaMessage& m) {
        seen.push_back(m.value);
        // "q" is never done: as if the program died while handling it.
        return m.value == "q" ? absl::InternalError("died") : absl::OkStatus();
      });
      (void)polled;
    }
    ASSERT_THAT(seen, ElementsAre("p", "q"));
    ASSERT_TRUE(consumer->Close().ok());
  }
  auto restarted = NewConsumer("g-crash");
  EXPECT_THAT(ConsumeToEnd(*restarted), ElementsAre("q"));
}

TEST_F(KafkaTest, AReaderReadsTheWholeHistoryEveryTime) {
  auto producer = NewProducer();
  ProduceValues(*producer, {"h1", "h2", "h3"});
  for (int round = 0; round < 2; ++round) {
    KafkaReaderOptions options;
    options.bootstrap_servers = cluster_.bootstrap();
    options.partitions = {{kTopic, 0}};
    auto consumer = KafkaReader::Create(options);
    ASSERT_TRUE(consumer.ok()) << consumer.status();
    std::vector<std::string> values;
    absl::Status read = (*consumer)->ReadToEnd(absl::Seconds(20), [&](const KafkaMessage& m) {
      values.push_back(m.value);
      return absl::OkStatus();
    });
    ASSERT_TRUE(read.ok()) << read;
    EXPECT_THAT(values, ElementsAre("h1", "h2", "h3")) << "round " << round;
  }
}

// A reader without a group keeps its place itself: started at the position
// an earlier one reached, it reads only what came after; started at the
// end, only what is produced from then on.
TEST_F(KafkaTest, AReaderStartedAtItsPositionOrAtTheEndReadsOnlyWhatCameAfter) {
  auto producer = NewProducer();
  ProduceValues(*producer, {"p1", "p2"});
  auto read_from = [&](KafkaTopicPartition where, const std::vector<std::string>& then_produce,
                       int64_t* position) {
    KafkaReaderOptions options;
    options.bootstrap_servers = cluster_.bootstrap();
    options.partitions = {where};
    auto reader = KafkaReader::Create(options);
    EXPECT_TRUE(reader.ok()) << reader.status();
    std::vector<std::string> values;
    if (!reader.ok()) return values;
    auto collect = [&](const KafkaMessage& m) {
      values.push_back(m.value);
      return absl::OkStatus();
    };
    EXPECT_EQ((*reader)->Position(kTopic, 0), -1);
    EXPECT_TRUE((*reader)->ReadToEnd(absl::Seconds(20), collect).ok());
    const size_t wanted = values.size() + then_produce.size();
    ProduceValues(*producer, then_produce);
    for (size_t polls = 0; values.size() < wanted && polls < 100; ++polls) {
      EXPECT_TRUE((*reader)->Poll(absl::Milliseconds(200), collect).ok());
    }
    *position = (*reader)->Position(kTopic, 0);
    return values;
  };
  int64_t position = -1;
  KafkaTopicPartition at_end{kTopic, 0};
  at_end.since = absl::InfiniteFuture();
  EXPECT_THAT(read_from(at_end, {"p3"}, &position), ElementsAre("p3"));
  EXPECT_EQ(position, 3);
  KafkaTopicPartition resumed{kTopic, 0};
  resumed.offset = 1;  // p2 on
  EXPECT_THAT(read_from(resumed, {"p4"}, &position), ElementsAre("p2", "p3", "p4"));
  EXPECT_EQ(position, 4);
}

TEST_F(KafkaTest, FailedDeliveryIsReportedAsAnError) {
  auto producer = NewProducer(/*delivery_timeout=*/absl::Milliseconds(1500));
  cluster_.SetBrokerDown();
  absl::Status status = producer->ProduceAndWait(kTopic, "k", "lost", absl::Seconds(20));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(kTopic));
}

TEST_F(KafkaTest, AsyncDeliveryCallbackRunsOnceWithOk) {
  auto producer = NewProducer();
  int calls = 0;
  absl::Status reported = absl::UnknownError("not called");
  ASSERT_TRUE(producer
                  ->Produce(kTopic, "key-async", "async",
                            [&](absl::Status s) {
                              ++calls;
                              reported = s;
                            })
                  .ok());
  ASSERT_TRUE(producer->Flush(absl::Seconds(10)).ok());
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(reported.ok()) << reported;
  EXPECT_EQ(producer->OutstandingMessages(), 0);
}

TEST_F(KafkaTest, TheFirstMessageToATopicIsNotHeldForLibrdkafkasTopicScan) {
  auto producer = NewProducer();
  ProduceValues(*producer, {"connected"});
  const absl::Time start = absl::Now();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(producer
                    ->ProduceAndWait(absl::StrCat("evnet.test.first.", i), "key", "first",
                                     absl::Seconds(10))
                    .ok());
  }
  EXPECT_LT(absl::Now() - start, kFiveFirstMessages);
}

TEST_F(KafkaTest, TheAdminNamesEveryPartitionOfEachTopicAndAMissingTopic) {
  absl::StatusOr<std::unique_ptr<KafkaAdmin>> admin = KafkaAdmin::Create(cluster_.bootstrap());
  ASSERT_TRUE(admin.ok()) << admin.status();
  absl::StatusOr<std::vector<KafkaTopicPartition>> partitions =
      (*admin)->Partitions({kKeyedTopic, kTopic}, absl::Seconds(10));
  ASSERT_TRUE(partitions.ok()) << partitions.status();
  std::vector<std::string> named;
  for (const KafkaTopicPartition& tp : *partitions) {
    named.push_back(absl::StrCat(tp.topic, "/", tp.partition));
  }
  EXPECT_THAT(named, ElementsAre("evnet.test.keyed/0", "evnet.test.keyed/1", "evnet.test.keyed/2",
                                 "evnet.test.keyed/3", "evnet.test.keyed/4", "evnet.test.keyed/5",
                                 "evnet.test/0"));
  absl::StatusOr<std::vector<KafkaTopicPartition>> missing =
      (*admin)->Partitions({kTopic, "evnet.test.missing"}, absl::Seconds(10));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("evnet.test.missing does not exist"));
  EXPECT_THAT(missing.status().message(), HasSubstr("DESCRIBE"));
}

TEST_F(KafkaTest, AFollowerTakesTheHistoryBeforeItStartsThenWhatComesAfter) {
  auto producer = NewProducer();
  ProduceValues(*producer, {"one", "two"});
  absl::Mutex mu;
  std::vector<std::string> taken;
  KafkaReaderOptions options;
  options.bootstrap_servers = cluster_.bootstrap();
  options.partitions = {{kTopic, 0}};
  absl::StatusOr<std::unique_ptr<KafkaFollower>> follower =
      KafkaFollower::Start(options, absl::Seconds(10), [&](const KafkaMessage& m) {
        absl::MutexLock lock(&mu);
        taken.push_back(m.value);
      });
  ASSERT_TRUE(follower.ok()) << follower.status();
  {
    absl::MutexLock lock(&mu);
    EXPECT_THAT(taken, ElementsAre("one", "two"));
  }
  ProduceValues(*producer, {"three"});
  absl::MutexLock lock(&mu);
  auto three = [&] { return taken.size() == 3; };
  EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&three), absl::Seconds(10)));
  EXPECT_THAT(taken, ElementsAre("one", "two", "three"));
}

// A thread told to stop wakes its consumer or reader rather than waiting
// out its poll's timeout (central, the driver and the books each stop one
// or more of them; before, each stop waited up to 200 ms for every poll).
TEST_F(KafkaTest, AConsumerOrAReaderWaitingForMessagesIsWokenAtOnce) {
  constexpr absl::Duration kLongPoll = absl::Seconds(30);
  auto consumer = NewConsumer("woken");
  ASSERT_NE(consumer, nullptr);
  ASSERT_THAT(ConsumeToEnd(*consumer), IsEmpty());
  KafkaReaderOptions options;
  options.bootstrap_servers = cluster_.bootstrap();
  options.partitions = {{kTopic, 0}};
  absl::StatusOr<std::unique_ptr<KafkaReader>> reader = KafkaReader::Create(options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE((*reader)->ReadToEnd(absl::Seconds(20), [](const KafkaMessage&) {
                         return absl::OkStatus();
                       }).ok());
  auto no_message = [](const KafkaMessage& m) {
    ADD_FAILURE() << "no message was produced, but " << m.value << " came";
    return absl::OkStatus();
  };
  absl::Notification consumer_back, reader_back;
  std::thread consuming([&] {
    absl::StatusOr<PollResult> polled = consumer->Poll(kLongPoll, no_message);
    EXPECT_TRUE(polled.ok() && *polled == PollResult::kIdle) << polled.status();
    consumer_back.Notify();
  });
  std::thread reading([&] {
    absl::StatusOr<PollResult> polled = (*reader)->Poll(kLongPoll, no_message);
    EXPECT_TRUE(polled.ok() && *polled == PollResult::kIdle) << polled.status();
    reader_back.Notify();
  });
  // Woken whether the poll is already waiting or only about to.
  consumer->Wake();
  (*reader)->Wake();
  EXPECT_TRUE(consumer_back.WaitForNotificationWithTimeout(absl::Seconds(5)))
      << "the consumer's poll waited out its timeout";
  EXPECT_TRUE(reader_back.WaitForNotificationWithTimeout(absl::Seconds(5)))
      << "the reader's poll waited out its timeout";
  consuming.join();
  reading.join();
}

struct CountedWakes {
  void Wake() { ++wakes; }
  int wakes = 0;
};

// What a stopping component relies on: every poll named when it stops is
// woken, and one named just after (its thread had not seen the stop yet) is
// woken as it is named; a client no longer named is left alone (it may be gone).
TEST(KafkaWakeListTest, WakesWhatIsNamedAndWhatIsNamedAfterButNotWhatWasLetGo) {
  KafkaWakeList list;
  CountedWakes polled, let_go, named_after;
  const KafkaWakeList::Entry polling = list.Add(polled);
  { const KafkaWakeList::Entry gone = list.Add(let_go); }
  list.WakeAll();
  EXPECT_EQ(polled.wakes, 1);
  EXPECT_EQ(let_go.wakes, 0);
  const KafkaWakeList::Entry late = list.Add(named_after);
  EXPECT_EQ(named_after.wakes, 1);
}

TEST(KafkaOptionsTest, BadOptionsAreRefusedClearly) {
  KafkaProducerOptions producer;
  EXPECT_EQ(KafkaProducer::Create(producer).status().code(),
            absl::StatusCode::kInvalidArgument);
  producer.bootstrap_servers = "127.0.0.1:1";
  producer.properties = {{"no.such.property", "1"}};
  auto created = KafkaProducer::Create(producer);
  ASSERT_FALSE(created.ok());
  EXPECT_THAT(std::string(created.status().message()), HasSubstr("no.such.property"));

  KafkaConsumerOptions consumer;
  consumer.bootstrap_servers = "127.0.0.1:1";
  consumer.group_id = "g";
  EXPECT_EQ(KafkaConsumer::Create(consumer).status().code(),
            absl::StatusCode::kInvalidArgument);  // neither topics nor partitions
}

// A message that can never be handled is set aside with its reason, and the
// topic moves on: the messages behind it are handled and every offset is
// committed, so none of them comes again.
TEST_F(KafkaTest, APoisonMessageIsSetAsideAndTheTopicMovesOn) {
  auto producer = NewProducer();
  ProduceValues(*producer, {"fails", "refused", "waits", "fine", "fine-too"});
  absl::Mutex mu;
  std::vector<std::string> handled, set_aside;
  int attempts_of_fails = 0, attempts_of_waits = 0;
  {
    auto consumer = NewConsumer("g-poison");
    KafkaDispatcherOptions options;
    options.retry_backoff = absl::Milliseconds(10);
    options.max_attempts = 3;
    options.set_aside = [&](const KafkaMessage& m, const absl::Status& reason, KafkaDone done) {
      absl::MutexLock lock(&mu);
      set_aside.push_back(absl::StrCat(m.value, ": ", reason.message()));
      done(absl::OkStatus());
    };
    KafkaDispatcher dispatcher(
        *consumer,
        [&](const KafkaMessage& m, KafkaDone done) {
          absl::Status outcome;
          {
            absl::MutexLock lock(&mu);
            if (m.value == "fails") {
              ++attempts_of_fails;
              outcome = absl::InternalError("a bug in the handler");
            } else if (m.value == "waits" && ++attempts_of_waits <= 8) {
              outcome = absl::UnavailableError("Kafka is down");  // passes: never set aside
            } else if (m.value == "refused") {
              outcome = absl::InvalidArgumentError("energy_kwh is NaN");
            } else {
              handled.push_back(m.value);
            }
          }
          done(outcome);
        },
        options);
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      ASSERT_TRUE(dispatcher.Poll(absl::Milliseconds(50)).ok());
      absl::MutexLock lock(&mu);
      if (set_aside.size() == 2 && handled.size() == 3) break;
    }
    ASSERT_TRUE(consumer->Close().ok());
  }
  EXPECT_THAT(handled, ElementsAre("fine", "fine-too", "waits"));
  EXPECT_EQ(attempts_of_fails, 3);
  EXPECT_EQ(attempts_of_waits, 9);  // beyond max_attempts, until it passed
  ASSERT_EQ(set_aside.size(), 2u);
  EXPECT_THAT(set_aside, ::testing::UnorderedElementsAre(
                             "refused: energy_kwh is NaN",
                             "fails: failed 3 times, last: a bug in the handler"));
  auto again = NewConsumer("g-poison");
  EXPECT_THAT(ConsumeToEnd(*again), ::testing::IsEmpty());
}

TEST_F(KafkaTest, AMessageThatCannotBeSetAsideYetIsKeptUntilItCan) {
  auto producer = NewProducer();
  ProduceValues(*producer, {"refused"});
  int tries = 0;
  {
    auto consumer = NewConsumer("g-dead-letter-down");
    KafkaDispatcherOptions options;
    options.retry_backoff = absl::Milliseconds(10);
    options.set_aside = [&](const KafkaMessage&, const absl::Status&, KafkaDone done) {
      // The dead-letter topic is unreachable twice.
      done(++tries < 3 ? absl::UnavailableError("no broker") : absl::OkStatus());
    };
    KafkaDispatcher dispatcher(
        *consumer,
        [](const KafkaMessage&, KafkaDone done) { done(absl::InvalidArgumentError("bad")); },
        options);
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline && tries < 3) {
      ASSERT_TRUE(dispatcher.Poll(absl::Milliseconds(50)).ok());
    }
    ASSERT_TRUE(dispatcher.Poll(absl::Milliseconds(50)).ok());  // stores its offset
    ASSERT_TRUE(consumer->Close().ok());
  }
  EXPECT_EQ(tries, 3);
  auto again = NewConsumer("g-dead-letter-down");
  EXPECT_THAT(ConsumeToEnd(*again), ::testing::IsEmpty());
}

TEST_F(KafkaTest, AFullQueueIsWaitedOnInsteadOfFailing) {
  KafkaProducerOptions options;
  options.bootstrap_servers = cluster_.bootstrap();
  options.properties["queue.buffering.max.messages"] = "2";
  // Long enough for the first messages to go out however slow the machine
  // (a first connection under ThreadSanitizer took over a second).
  options.queue_full_wait = absl::Seconds(30);
  auto producer = KafkaProducer::Create(options);
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::atomic<int> delivered{0};
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE((*producer)
                    ->Produce(kTopic, "k", absl::StrCat("v", i),
                              [&](absl::Status s) {
                                if (s.ok()) ++delivered;
                              })
                    .ok())
        << "message " << i;
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());
  EXPECT_EQ(delivered, 50);
}

TEST_F(KafkaTest, AFullQueueThatNeverEmptiesIsReportedAsExhausted) {
  KafkaProducerOptions options;
  options.bootstrap_servers = cluster_.bootstrap();
  options.properties["queue.buffering.max.messages"] = "1";
  options.queue_full_wait = absl::Milliseconds(200);
  options.delivery_timeout = absl::Seconds(2);
  auto producer = KafkaProducer::Create(options);
  ASSERT_TRUE(producer.ok()) << producer.status();
  cluster_.SetBrokerDown();
  ASSERT_TRUE((*producer)->Produce(kTopic, "k", "first", [](absl::Status) {}).ok());
  const absl::Time start = absl::Now();
  absl::Status second = (*producer)->Produce(kTopic, "k", "second", [](absl::Status) {});
  EXPECT_EQ(second.code(), absl::StatusCode::kResourceExhausted) << second;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
}

TEST_F(KafkaTest, AFatalProducerErrorIsReportedAndEveryLaterProduceFails) {
  auto producer = NewProducer(absl::Seconds(10), /*replace_when_fatal=*/false);
  EXPECT_TRUE(producer->Fatal().ok());
  producer->InjectFatalErrorForTesting("sequence broken");
  EXPECT_EQ(producer->Fatal().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(producer->Fatal().message()), HasSubstr("failed for good"));
  absl::Status later = producer->ProduceAndWait(kTopic, "k", "after", absl::Seconds(5));
  EXPECT_FALSE(later.ok());
}

TEST_F(KafkaTest, AProducerRefusedItsIdempotenceIdIsReplacedAndDeliversOnceAllowed) {
  cluster_.RefuseNextProducerId();
  auto producer = NewProducer();
  absl::Status sent = producer->ProduceAndWait(kTopic, "key-refused", "refused", absl::Seconds(5));
  EXPECT_FALSE(sent.ok());  // failed with the producer, or purged from it
  // Replaced a second later: a message queued then goes out.
  ASSERT_TRUE(test::WaitFor(
      [&] {
        sent = producer->ProduceAndWait(kTopic, "key-allowed", "allowed", absl::Seconds(5));
        return sent.ok();
      },
      absl::Seconds(20)))
      << sent;
  EXPECT_TRUE(producer->Fatal().ok()) << producer->Fatal();
  auto consumer = NewConsumer("replaced");
  EXPECT_THAT(ConsumeToEnd(*consumer), ElementsAre("allowed"));
}

TEST_F(KafkaTest, AHandlerThatFinishesAfterItsDispatcherIsGoneChangesNothing) {
  auto producer = NewProducer();
  ProduceValues(*producer, {"slow"});
  KafkaDone late;
  absl::Notification handed;
  {
    auto consumer = NewConsumer("g-late");
    KafkaDispatcher dispatcher(*consumer, [&](const KafkaMessage&, KafkaDone done) {
      late = std::move(done);  // a CP that answers after central began to stop
      handed.Notify();
    });
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!handed.HasBeenNotified() && absl::Now() < deadline) {
      ASSERT_TRUE(dispatcher.Poll(absl::Milliseconds(50)).ok());
    }
    ASSERT_TRUE(handed.HasBeenNotified());
    ASSERT_TRUE(consumer->Close().ok());
  }  // the dispatcher waits for it a while, then goes
  late(absl::OkStatus());  // used to run on the destroyed dispatcher
  // Never stored as done: it comes again.
  auto again = NewConsumer("g-late");
  EXPECT_THAT(ConsumeToEnd(*again), ElementsAre("slow"));
}

using test::CommitAndWait;
using test::ReadCommitted;

std::unique_ptr<KafkaTransactions> NewTransactions(const std::string& bootstrap) {
  return test::NewTransactions(bootstrap, "evnet-test");
}

TEST_F(KafkaTest, ATransactionsRecordsAndTombstonesAreReadTogether) {
  auto transactions = NewTransactions(cluster_.bootstrap());
  ASSERT_NE(transactions, nullptr);
  ASSERT_TRUE(CommitAndWait(*transactions, {{kTopic, "a", "1"}, {kTopic, "b", "2"}}).ok());
  ASSERT_TRUE(CommitAndWait(*transactions, {{kTopic, "a", std::nullopt}}).ok());
  EXPECT_THAT(ReadCommitted(cluster_.bootstrap(), kTopic), ElementsAre("a=1", "b=2", "a="));
  EXPECT_GE(transactions->committed(), 2u);
}

TEST_F(KafkaTest, TheFirstCommitToATopicIsNotHeldForLibrdkafkasTopicScan) {
  auto transactions = NewTransactions(cluster_.bootstrap());
  ASSERT_NE(transactions, nullptr);
  ASSERT_TRUE(CommitAndWait(*transactions, {{kTopic, "a", "1"}}).ok());
  const absl::Time start = absl::Now();
  for (int i = 5; i < 10; ++i) {
    ASSERT_TRUE(
        CommitAndWait(*transactions, {{absl::StrCat("evnet.test.first.", i), "a", "1"}}).ok());
  }
  EXPECT_LT(absl::Now() - start, kFiveFirstMessages);
}

TEST_F(KafkaTest, CommitsQueuedTogetherAreEachAnsweredOnce) {
  auto transactions = NewTransactions(cluster_.bootstrap());
  ASSERT_NE(transactions, nullptr);
  constexpr int kCommits = 50;
  absl::Mutex mu;
  std::vector<int> answers(kCommits, 0);
  int ok = 0;
  for (int i = 0; i < kCommits; ++i) {
    transactions->Commit({{kTopic, absl::StrCat("k", i), absl::StrCat(i)}},
                         [&, i](absl::Status committed) {
                           absl::MutexLock lock(&mu);
                           ++answers[i];
                           if (committed.ok()) ++ok;
                         });
  }
  absl::MutexLock lock(&mu);
  auto all = [&] { return ok == kCommits; };
  EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all), absl::Seconds(30)));
  for (int i = 0; i < kCommits; ++i) EXPECT_EQ(answers[i], 1) << "commit " << i;
  // Group commit: fewer transactions than commits.
  EXPECT_LE(transactions->committed(), static_cast<uint64_t>(kCommits));
}

}  // namespace
}  // namespace evnet
