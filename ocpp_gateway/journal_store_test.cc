// JournalStore against librdkafka's in-process mock cluster.
#include "ocpp_gateway/journal_store.h"

#include "absl/synchronization/notification.h"
#include "common/kafka/topics.h"
#include "gtest/gtest.h"
#include "testing/mock_kafka.h"
#include "testing/process.h"

namespace evnet::ocpp {
namespace {

class JournalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KafkaProducerOptions options;
    options.bootstrap_servers = cluster_.bootstrap();
    producer_ = *KafkaProducer::Create(options);
  }
  std::unique_ptr<JournalStore> NewStore() {
    auto store = JournalStore::Start(cluster_.bootstrap(), *producer_,
                                     absl::Seconds(10));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  static v1::OcppChargerJournal Journal(int64_t revision, const std::string& id = "OCPP-1") {
    v1::OcppChargerJournal journal;
    journal.set_charge_box_id(id);
    journal.set_revision(revision);
    return journal;
  }
  // Waits (with a deadline) until `store` holds `revision` of `id`.
  static bool Holds(JournalStore& store, int64_t revision, const std::string& id = "OCPP-1") {
    return test::WaitFor([&] { return store.LatestRevision(id) == revision; }, absl::Seconds(10));
  }
  void SaveAndWait(JournalStore& store, int64_t revision, const std::string& id = "OCPP-1") {
    absl::Notification done;
    absl::Status shared;
    store.Save(Journal(revision, id), [&](absl::Status s) {
      shared = s;
      done.Notify();
    });
    done.WaitForNotification();
    EXPECT_TRUE(shared.ok()) << shared;
  }

  test::MockKafkaCluster cluster_{{{kOcppChargersTopic, 1}}};
  std::unique_ptr<KafkaProducer> producer_;  // destroyed before the cluster
};

TEST_F(JournalStoreTest, AnotherGatewaySeesEachSaveAndTheNewestWins) {
  std::unique_ptr<JournalStore> a = NewStore();
  std::unique_ptr<JournalStore> b = NewStore();
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(b->Latest("OCPP-1").has_value());
  SaveAndWait(*a, 1);
  EXPECT_TRUE(Holds(*a, 1));
  EXPECT_TRUE(Holds(*b, 1)) << "b never followed a's save";
  SaveAndWait(*b, 2);
  EXPECT_TRUE(Holds(*a, 2));
  // A late, older record does not replace the newer one: once `a` has
  // read a record written after it (one partition keeps their order), it
  // has read the older one too.
  SaveAndWait(*b, 1);
  SaveAndWait(*b, 1, "OCPP-2");
  ASSERT_TRUE(Holds(*a, 1, "OCPP-2"));
  EXPECT_EQ(a->Latest("OCPP-1")->revision(), 2);
  // A gateway started now reads everything there is.
  std::unique_ptr<JournalStore> c = NewStore();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->Latest("OCPP-1")->revision(), 2);
}

}  // namespace
}  // namespace evnet::ocpp
