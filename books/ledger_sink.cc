#include "books/ledger_sink.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "books/sql.h"
#include "common/clock.h"
#include "common/json_codec.h"
#include "common/kafka/topics.h"
#include "glog/logging.h"

namespace evnet::books {

absl::StatusOr<std::unique_ptr<LedgerSink>> LedgerSink::Start(LedgerSinkOptions options,
                                                              DeadLetters* dead_letters) {
  if (options.batch < 1 || options.linger <= absl::ZeroDuration() ||
      options.retry <= absl::ZeroDuration() || options.partitions < 1) {
    return absl::InvalidArgumentError(
        "the books' sink needs a batch of at least 1, a linger, a retry and a partition");
  }
  // A database that cannot be reached or written yet (a PostgreSQL server
  // still starting, a standby not yet promoted, a password being put
  // right) is waited for on the sink's thread; a refusal no wait mends (a
  // newer schema, a path that cannot be a database) is said now.
  absl::StatusOr<std::unique_ptr<TicketStore>> store = TicketStore::Open(options.database);
  if (absl::IsFailedPrecondition(store.status())) return store.status();
  std::unique_ptr<LedgerSink> sink(new LedgerSink(std::move(options), dead_letters));
  if (store.ok()) {
    sink->store_ = *std::move(store);
  } else {
    LOG(WARNING) << "Books | Cannot open the books yet: " << store.status().message()
                 << "; trying again every " << sink->options_.retry;
    absl::MutexLock lock(&sink->mu_);
    sink->status_.database = store.status();
  }
  sink->thread_ = std::thread([s = sink.get()] { s->Run(); });
  return sink;
}

bool LedgerSink::OpenStore() {
  while (store_ == nullptr) {
    absl::StatusOr<std::unique_ptr<TicketStore>> store = TicketStore::Open(options_.database);
    if (store.ok()) {
      store_ = *std::move(store);
      break;
    }
    {
      absl::MutexLock lock(&mu_);
      status_.database = store.status();
    }
    if (stop_.WaitForNotificationWithTimeout(options_.retry)) return false;
  }
  for (;;) {
    absl::StatusOr<std::map<int32_t, int64_t>> next = store_->NextOffsets(kCentralLedgerTopic);
    {
      absl::MutexLock lock(&mu_);
      status_.database = next.status();
    }
    if (next.ok()) {
      stored_ = *std::move(next);
      break;
    }
    if (stop_.WaitForNotificationWithTimeout(options_.retry)) return false;
  }
  reader_options_.bootstrap_servers = options_.bootstrap_servers;
  reader_options_.client_id = "evnet-books";
  reader_options_.properties = options_.kafka;
  for (int32_t p = 0; p < options_.partitions; ++p) {
    KafkaTopicPartition partition{kCentralLedgerTopic, p};
    if (auto it = stored_.find(p); it != stored_.end()) partition.offset = it->second;
    reader_options_.partitions.push_back(partition);
  }
  LOG(INFO) << "Books | Reading " << kCentralLedgerTopic << " into "
            << SqlConnection::Describe(options_.database) << " (schema version "
            << store_->schema_version() << ") from "
            << (stored_.empty() ? "its beginning" : "the offsets the books hold");
  return true;
}

LedgerSink::~LedgerSink() {
  stop_.Notify();
  wake_.WakeAll();
  if (thread_.joinable()) thread_.join();
}

LedgerSinkStatus LedgerSink::Status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

absl::Status LedgerSink::Fill(std::vector<LedgerRecord>& batch) {
  // On the steady clock: the reader's polls below wait in real time.
  const Clock& clock = SystemClock::Get();
  const absl::Time deadline = clock.Steady() + options_.linger;
  int64_t set_aside = 0;
  while (batch.size() < options_.batch && !stop_.HasBeenNotified()) {
    const absl::Duration left = deadline - clock.Steady();
    if (left <= absl::ZeroDuration()) break;
    absl::StatusOr<PollResult> polled =
        reader_->Poll(left, [&](const KafkaMessage& m) -> absl::Status {
          LedgerRecord& record = batch.emplace_back();
          record.partition = m.partition;
          record.offset = m.offset;
          absl::StatusOr<v1::DriverUpdate> update = FromJson<v1::DriverUpdate>(m.value);
          if (update.ok()) {
            record.update = *std::move(update);
          } else {
            // Booked as nothing, so that its offset moves on; kept for a
            // person in the dead letters.
            ++set_aside;
            if (dead_letters_ != nullptr) {
              dead_letters_->SetAside(m, update.status(), [](absl::Status) {});
            }
          }
          return absl::OkStatus();
        });
    if (!polled.ok()) {
      absl::MutexLock lock(&mu_);
      status_.set_aside += set_aside;
      return polled.status();
    }
    if (*polled == PollResult::kIdle) break;
  }
  absl::MutexLock lock(&mu_);
  status_.set_aside += set_aside;
  return absl::OkStatus();
}

void LedgerSink::CheckNothingExpired() {
  for (int32_t p = 0; p < options_.partitions; ++p) {
    absl::StatusOr<int64_t> first =
        reader_->FirstOffset(kCentralLedgerTopic, p, absl::Seconds(10));
    if (!first.ok()) {
      // New books need nothing of it yet (on a new network it is yet to be made).
      LOG_IF(WARNING, !stored_.empty())
          << "Books | Cannot tell whether the ledger still holds all the books need: "
          << first.status();
      return;
    }
    auto stored = stored_.find(p);
    if (stored == stored_.end()) {
      if (*first > 0) {
        LOG(WARNING) << "Books | New books begin at offset " << *first << " of "
                     << kCentralLedgerTopic << "/" << p
                     << ": what came before is no longer in the ledger";
      }
    } else if (*first > stored->second) {
      // Offsets count transaction markers too: at most this many records.
      const int64_t missed = *first - stored->second;
      LOG(ERROR) << "Books | Up to " << missed << " record(s) of " << kCentralLedgerTopic << "/"
                 << p << " (offsets " << stored->second << " to " << *first - 1
                 << ") left the ledger before they were booked; the books miss them";
      absl::MutexLock lock(&mu_);
      status_.expired += missed;
    }
  }
}

void LedgerSink::Run() {
  if (!OpenStore()) return;
  // The reader is made here, again until Kafka answers: central starts
  // (and its books wait) while the brokers are away.
  while (reader_ == nullptr) {
    absl::StatusOr<std::unique_ptr<KafkaReader>> made = KafkaReader::Create(reader_options_);
    if (made.ok()) {
      reader_ = *std::move(made);
      break;
    }
    {
      absl::MutexLock lock(&mu_);
      if (status_.reading.ok()) {
        LOG(WARNING) << "Books | Cannot read the ledger yet: " << made.status()
                     << "; trying again every " << options_.retry;
      }
      status_.reading = made.status();
    }
    if (stop_.WaitForNotificationWithTimeout(options_.retry)) return;
  }
  const KafkaWakeList::Entry polling = wake_.Add(*reader_);
  CheckNothingExpired();
  std::vector<LedgerRecord> batch;
  while (!stop_.HasBeenNotified()) {
    absl::Status filled = Fill(batch);
    {
      absl::MutexLock lock(&mu_);
      if (!filled.ok() && status_.reading.ok()) {
        LOG(WARNING) << "Books | Reading the ledger: " << filled << "; trying again every "
                     << options_.retry;
      }
      status_.reading = filled;
    }
    if (!filled.ok()) stop_.WaitForNotificationWithTimeout(options_.retry);
    if (batch.empty()) continue;
    absl::Status booked = store_->Apply(kCentralLedgerTopic, batch);
    {
      absl::MutexLock lock(&mu_);
      const bool was_ok = status_.database.ok();
      status_.database = booked;
      if (booked.ok()) {
        status_.booked += static_cast<int64_t>(batch.size());
        if (!was_ok) LOG(INFO) << "Books | The database takes the ledger again";
      } else if (was_ok) {
        LOG(WARNING) << "Books | " << batch.size() << " ledger record(s) not booked: "
                     << booked.message() << "; booking them again every "
                     << options_.retry;
      }
    }
    if (booked.ok()) {
      batch.clear();
    } else {
      stop_.WaitForNotificationWithTimeout(options_.retry);
    }
  }
}

}  // namespace evnet::books
