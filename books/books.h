// The operator's books, running: the ledger followed into the database
// (LedgerSink) and the queries people ask of it, answered from connections
// of their own so that no query waits on the sink or on another query.
//
// Threading: thread-safe. The sink has its thread; each query borrows a
// connection (the lock is held only to take it and give it back, never
// across the database's work).
#ifndef EVNET_BOOKS_BOOKS_H_
#define EVNET_BOOKS_BOOKS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "books/ledger_sink.h"
#include "books/ticket_store.h"
#include "common/kafka/dead_letters.h"

namespace evnet::books {

class Books {
 public:
  // Follows the ledger into `sink.database` (a SQLite file or a PostgreSQL
  // URI); `dead_letters` as LedgerSink::Start's.
  static absl::StatusOr<std::unique_ptr<Books>> Start(LedgerSinkOptions sink,
                                                      DeadLetters* dead_letters);
  Books(const Books&) = delete;
  Books& operator=(const Books&) = delete;

  // As TicketStore's.
  absl::StatusOr<TicketPage> Tickets(const TicketFilter& filter, int page_size,
                                     const std::string& page_token);
  absl::StatusOr<std::vector<Total>> Totals(By by, Per per, absl::Time from, absl::Time to,
                                            size_t limit);

  LedgerSinkStatus Status() const { return sink_->Status(); }
  const std::string& database_path() const { return path_; }

 private:
  // Connections kept for queries when idle; more are opened while busy.
  static constexpr size_t kIdleReaders = 4;

  Books(std::string path, std::unique_ptr<LedgerSink> sink)
      : path_(std::move(path)), sink_(std::move(sink)) {}
  // A connection of the caller's own, given back with Release.
  absl::StatusOr<std::unique_ptr<TicketStore>> Borrow();
  void Release(std::unique_ptr<TicketStore> reader);

  const std::string path_;
  std::unique_ptr<LedgerSink> sink_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<TicketStore>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet::books

#endif  // EVNET_BOOKS_BOOKS_H_
