#include "books/books.h"

#include <utility>

namespace evnet::books {

absl::StatusOr<std::unique_ptr<Books>> Books::Start(LedgerSinkOptions sink,
                                                    DeadLetters* dead_letters) {
  std::string path = sink.database;
  absl::StatusOr<std::unique_ptr<LedgerSink>> started =
      LedgerSink::Start(std::move(sink), dead_letters);
  if (!started.ok()) return started.status();
  return std::unique_ptr<Books>(new Books(std::move(path), *std::move(started)));
}

absl::StatusOr<std::unique_ptr<TicketStore>> Books::Borrow() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      std::unique_ptr<TicketStore> reader = std::move(idle_.back());
      idle_.pop_back();
      return reader;
    }
  }
  return TicketStore::Open(path_);
}

void Books::Release(std::unique_ptr<TicketStore> reader) {
  absl::MutexLock lock(&mu_);
  if (idle_.size() < kIdleReaders) idle_.push_back(std::move(reader));
}

absl::StatusOr<TicketPage> Books::Tickets(const TicketFilter& filter, int page_size,
                                          const std::string& page_token) {
  absl::StatusOr<std::unique_ptr<TicketStore>> reader = Borrow();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<TicketPage> page = (*reader)->Tickets(filter, page_size, page_token);
  Release(*std::move(reader));
  return page;
}

absl::StatusOr<std::vector<Total>> Books::Totals(By by, Per per, absl::Time from, absl::Time to,
                                                 size_t limit) {
  absl::StatusOr<std::unique_ptr<TicketStore>> reader = Borrow();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::vector<Total>> totals = (*reader)->Totals(by, per, from, to, limit);
  Release(*std::move(reader));
  return totals;
}

}  // namespace evnet::books
