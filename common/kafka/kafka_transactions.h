// Groups of Kafka messages written atomically: every message of a Commit
// becomes visible to read_committed readers (librdkafka's default, and
// evnet's) together with the others, or none of them does. Central writes
// each decision so: its ledger record, the driver's update and the change to
// its open sessions, so that a crash between two of them cannot leave a
// driver without its answer or a session billed but still open.
//
// One librdkafka transactional producer, driven by a thread it owns: the
// commits queued while a transaction is in flight go together into the
// next one (a group commit), so that a transaction's round trips are paid
// once per batch, not once per decision. Its transactional id fences any
// older holder of the same id: a central that was replaced and comes back
// to life can no longer write.
#ifndef EVNET_COMMON_KAFKA_TRANSACTIONS_H_
#define EVNET_COMMON_KAFKA_TRANSACTIONS_H_

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/kafka/kafka_conf.h"
#include "librdkafka/rdkafkacpp.h"

namespace evnet {

// One message of a transaction; no value is a tombstone (compacted topics).
struct KafkaRecord {
  std::string topic;
  std::string key;
  std::optional<std::string> value;
};

struct KafkaTransactionsOptions {
  std::string bootstrap_servers;
  std::string client_id = "evnet";
  // Who writes: a later producer with the same id fences this one.
  std::string transactional_id;
  // A transaction not committed within this long is aborted by the broker.
  absl::Duration transaction_timeout = absl::Seconds(30);
  // How long one commit (or the producer's start) may take before the
  // batch is reported as failed; the caller's input comes again.
  absl::Duration commit_timeout = absl::Seconds(10);
  // At most this many messages in one transaction.
  size_t max_batch = 1000;
  KafkaProperties properties;
};

class KafkaTransactions {
 public:
  using Done = std::function<void(absl::Status)>;

  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaTransactions>> Create(
      const KafkaTransactionsOptions& options);
  // Commits what is queued (within commit_timeout), fails what is left,
  // and stops.
  ~KafkaTransactions();

  KafkaTransactions(const KafkaTransactions&) = delete;
  KafkaTransactions& operator=(const KafkaTransactions&) = delete;

  // Queues `records` for the next transaction. `done` runs exactly once, on
  // the producer's thread (or at once when this producer failed for good):
  // OK once the transaction holding them is committed; otherwise none of
  // them is visible to read_committed readers.
  void Commit(std::vector<KafkaRecord> records, Done done);

  // OK once the broker gave this producer its transactional id (and, with
  // it, ended whatever an older holder of the id left unfinished);
  // UNAVAILABLE until then, saying why; the fatal error if it failed.
  absl::Status Started() const;

  // OK, or why this producer can write no more (fenced by a newer holder of
  // its transactional id, or failed for good): its owner must start again.
  absl::Status Fatal() const;

  // Transactions committed so far, for metrics and tests.
  uint64_t committed() const;

 private:
  struct Pending {
    std::vector<KafkaRecord> records;
    Done done;
  };

  KafkaTransactions(std::unique_ptr<KafkaEventLogger> event_logger,
                    std::unique_ptr<RdKafka::Conf> conf,
                    std::unique_ptr<RdKafka::Producer> producer,
                    const KafkaTransactionsOptions& options);
  void Run();
  // Begins, produces and commits one batch; the status every one of its
  // `done` gets.
  absl::Status CommitBatch(const std::vector<Pending>& batch);
  // Turns a librdkafka transactional error into a status; records it
  // as this producer's end when it is fatal.
  absl::Status Failed(RdKafka::Error* error, absl::string_view what);

  std::unique_ptr<KafkaEventLogger> event_logger_;
  const std::unique_ptr<RdKafka::Conf> conf_;
  const std::unique_ptr<RdKafka::Producer> producer_;
  KafkaTopicLookups lookups_;
  const KafkaTransactionsOptions options_;

  mutable absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status fatal_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::string starting_error_ ABSL_GUARDED_BY(mu_);
  uint64_t committed_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace evnet

#endif  // EVNET_COMMON_KAFKA_TRANSACTIONS_H_
