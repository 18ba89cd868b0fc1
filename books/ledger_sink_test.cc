// The sink on librdkafka's in-process mock cluster (the logic of reading
// on from the books' offsets; what survives a kill is the system test's).
#include "books/ledger_sink.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/json_codec.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/topics.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/mock_kafka.h"
#include "testing/process.h"

namespace evnet::books {
namespace {

class LedgerSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KafkaProducerOptions options;
    options.bootstrap_servers = cluster_.bootstrap();
    absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(options);
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = *std::move(producer);
    dead_letters_ = std::make_unique<DeadLetters>(*producer_, "Books");
  }

  // A ticket of `session` on the ledger, as central writes it.
  void Ended(const std::string& session, int64_t cents) {
    v1::DriverUpdate update;
    update.set_kind(v1::UPDATE_KIND_ENDED);
    update.set_session_id(session);
    update.set_request_id(session.substr(2));
    update.set_driver_id("driver-a");
    update.set_cp_id("CP-1");
    v1::SessionResult* ticket = update.mutable_ticket();
    ticket->set_session_id(session);
    *ticket->mutable_ended_at() = ToProto(absl::FromUnixSeconds(1800000000));
    ticket->set_energy_kwh(1);
    ticket->set_price_eur_per_kwh(0.29);
    ticket->set_amount_cents(cents);
    Produce(update.request_id(), ToJson(update));
  }
  void Produce(const std::string& key, const std::string& value) {
    ASSERT_TRUE(producer_->Produce(kCentralLedgerTopic, key, value, [](absl::Status) {}).ok());
    ASSERT_TRUE(producer_->Flush(absl::Seconds(10)).ok());
  }
  LedgerSinkOptions Options() const {
    LedgerSinkOptions options;
    options.bootstrap_servers = cluster_.bootstrap();
    options.database = absl::StrCat(std::getenv("TEST_TMPDIR"), "/books.db");
    options.linger = absl::Milliseconds(50);
    return options;
  }
  int64_t Cents() {
    absl::StatusOr<std::unique_ptr<TicketStore>> books = TicketStore::Open(Options().database);
    if (!books.ok()) return -1;
    absl::StatusOr<TicketPage> page = (*books)->Tickets({}, 1000, "");
    if (!page.ok()) return -1;
    int64_t cents = 0;
    for (const BookedSession& t : page->tickets) cents += t.amount_cents;
    return cents;
  }

  test::MockKafkaCluster cluster_{{{kCentralLedgerTopic, 6}, {kDeadLetterTopic, 1}}};
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<DeadLetters> dead_letters_;
};

TEST_F(LedgerSinkTest, BooksEachTicketOnceAcrossRestartsAndSetsAsideWhatIsNotARecord) {
  for (int i = 0; i < 10; ++i) Ended(absl::StrCat("s-", i), 100 + i);
  Produce("bad", "{not json");
  {
    absl::StatusOr<std::unique_ptr<LedgerSink>> sink = LedgerSink::Start(Options(), dead_letters_.get());
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE(test::WaitFor([&] { return (*sink)->Status().booked == 11; }, absl::Seconds(20)))
        << (*sink)->Status().booked;
    EXPECT_EQ((*sink)->Status().set_aside, 1);
    EXPECT_TRUE((*sink)->Status().database.ok());
  }
  EXPECT_EQ(Cents(), 10 * 100 + 45);
  EXPECT_TRUE(test::WaitFor([&] { return dead_letters_->Counts()[kCentralLedgerTopic] == 1; },
                            absl::Seconds(10)))
      << "the malformed record is in the dead letters";

  // Started again: it reads on from the books' offsets, nothing twice.
  Ended("s-10", 1000);
  absl::StatusOr<std::unique_ptr<LedgerSink>> again = LedgerSink::Start(Options(), dead_letters_.get());
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(test::WaitFor([&] { return (*again)->Status().booked >= 1; }, absl::Seconds(20)));
  EXPECT_FALSE(test::WaitFor([&] { return (*again)->Status().booked > 1; }, absl::Seconds(1)))
      << "read again what the books held";
  EXPECT_EQ(Cents(), 10 * 100 + 45 + 1000);
}

TEST_F(LedgerSinkTest, StartsWithKafkaAwayAndSaysWhyItCannotReadTheLedger) {
  LedgerSinkOptions options = Options();
  options.bootstrap_servers = "127.0.0.1:1";  // nobody there
  options.retry = absl::Milliseconds(100);
  absl::Time started = absl::Now();
  absl::StatusOr<std::unique_ptr<LedgerSink>> sink = LedgerSink::Start(options, dead_letters_.get());
  ASSERT_TRUE(sink.ok()) << sink.status();
  EXPECT_LT(absl::Now() - started, absl::Seconds(2)) << "Start waited for Kafka";
  EXPECT_TRUE(test::WaitFor([&] { return !(*sink)->Status().reading.ok(); }, absl::Seconds(30)))
      << "the books never said they cannot read the ledger";
  EXPECT_TRUE((*sink)->Status().database.ok());
}

// A PostgreSQL server not there yet (central started before it): the sink
// starts, says why it books nothing, and keeps trying; a database that is
// no database at all is refused at once.
TEST_F(LedgerSinkTest, StartsWithTheDatabaseAwayAndSaysWhy) {
  LedgerSinkOptions options = Options();
  options.database = absl::StrCat("postgresql://evnet:secret@127.0.0.1:", test::PickFreePort(),
                                  "/books");
  options.retry = absl::Milliseconds(100);
  absl::StatusOr<std::unique_ptr<LedgerSink>> sink = LedgerSink::Start(options, dead_letters_.get());
  ASSERT_TRUE(sink.ok()) << sink.status();
  const absl::Status database = (*sink)->Status().database;
  EXPECT_EQ(database.code(), absl::StatusCode::kUnavailable) << database;
  EXPECT_THAT(std::string(database.message()), ::testing::HasSubstr("cannot reach the books"));
  EXPECT_THAT(std::string(database.message()), ::testing::Not(::testing::HasSubstr("secret")))
      << "a password in the URI is not repeated";

  options.database = "/proc/no-such-dir/books.db";
  EXPECT_FALSE(LedgerSink::Start(options, dead_letters_.get()).ok());
}

}  // namespace
}  // namespace evnet::books
