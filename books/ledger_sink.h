// Follows central's ledger (evnet.central.ledger, read committed: only what
// central's Kafka transactions committed) into the books (ticket_store.h),
// exactly once. It reads each partition on from the offset the books hold
// and books every batch with the offsets after it, in one SQL transaction:
// killed at any instant, it neither loses nor repeats a record.
//
// Records the ledger no longer holds (its retention, 7 days, ran out while
// the books could not take them) cannot be booked: at start the sink asks
// where each partition now begins, and says how many it missed (an error
// in the log and `expired` in Status()).
//
// A malformed record is set aside (evnet.deadletter) and booked as nothing,
// its offset moved past. A database that is down, locked or full is waited
// for: the batch in hand is booked again every `retry` until it takes (it
// grows to at most `batch` records meanwhile), and Status() says why; so is
// one that cannot be reached at start.
//
// Threading: Start opens the store (or leaves that to the thread, while the
// database cannot be reached) and makes one thread, which owns the store
// from then on and makes and owns the reader (again every `retry` while
// Kafka does not answer, said in Status().reading); Status may be called
// from any thread.
#ifndef EVNET_BOOKS_LEDGER_SINK_H_
#define EVNET_BOOKS_LEDGER_SINK_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "books/ticket_store.h"
#include "common/kafka/dead_letters.h"
#include "common/kafka/kafka_conf.h"
#include "common/kafka/kafka_reader.h"
#include "common/kafka/kafka_wake_list.h"
#include "common/kafka/topics.h"

namespace evnet::books {

struct LedgerSinkOptions {
  std::string bootstrap_servers;
  KafkaProperties kafka;       // the client's further properties (TLS)
  // The database: a SQLite file (made if absent) or a PostgreSQL URI
  // (SqlConnection::Open).
  std::string database;
  int partitions = kTopicPartitions;  // the ledger's
  size_t batch = 500;          // records booked in one transaction, at most
  absl::Duration linger = absl::Milliseconds(200);  // a batch waits no longer
  absl::Duration retry = absl::Seconds(1);          // a failed batch is booked again after
};

struct LedgerSinkStatus {
  int64_t booked = 0;     // records booked since start (set-aside ones included)
  int64_t set_aside = 0;  // malformed records
  int64_t expired = 0;    // records gone from the ledger before they were booked
  // OK, or why the last batch did not take (the database); it is retried.
  absl::Status database;
  // OK, or why the last read of the ledger failed (Kafka); it is retried.
  absl::Status reading;
};

class LedgerSink {
 public:
  // Opens the books and starts reading; `dead_letters` (not owned, may be
  // null) takes malformed records. A batch below 1 or a linger not above 0
  // is refused.
  static absl::StatusOr<std::unique_ptr<LedgerSink>> Start(LedgerSinkOptions options,
                                                           DeadLetters* dead_letters);
  // Stops reading; a batch not booked yet is read again at the next start.
  ~LedgerSink();
  LedgerSink(const LedgerSink&) = delete;
  LedgerSink& operator=(const LedgerSink&) = delete;

  LedgerSinkStatus Status() const;

 private:
  LedgerSink(LedgerSinkOptions options, DeadLetters* dead_letters)
      : options_(std::move(options)), dead_letters_(dead_letters) {}
  void Run();
  // Opens the store if Start could not, again every `retry`, and reads
  // where the books go on from; false if stopped meanwhile.
  bool OpenStore();
  // Whether the ledger still begins at or before where the books go on.
  void CheckNothingExpired();
  // The next records, up to a batch or the linger.
  absl::Status Fill(std::vector<LedgerRecord>& batch);

  const LedgerSinkOptions options_;
  DeadLetters* const dead_letters_;
  // The thread's, from Start on.
  std::unique_ptr<TicketStore> store_;
  KafkaReaderOptions reader_options_;
  std::unique_ptr<KafkaReader> reader_;  // made there
  std::map<int32_t, int64_t> stored_;    // the offsets the books held at start
  absl::Notification stop_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  LedgerSinkStatus status_ ABSL_GUARDED_BY(mu_);
  KafkaWakeList wake_;  // reader_'s polls, woken by the destructor
};

}  // namespace evnet::books

#endif  // EVNET_BOOKS_LEDGER_SINK_H_
