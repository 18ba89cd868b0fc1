#include "driver/driver.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/crash_point.h"
#include "common/ids.h"
#include "common/json_codec.h"
#include "common/kafka/kafka_admin.h"
#include "common/proto_time.h"
#include "common/trust/signing.h"
#include "common/kafka/topics.h"
#include "driver/update_view.h"
#include "glog/logging.h"

namespace evnet {
namespace {

constexpr absl::Duration kKafkaTimeout = absl::Seconds(10);
// Between two tries of a request Kafka did not take.
constexpr absl::Duration kSendRetryPause = absl::Seconds(2);

struct Progress {
  size_t next = 0;                 // index of the next request to send
  std::string pending_request_id;  // sent, outcome not yet seen
};

std::string ProgressPath(const DriverOptions& options) {
  return absl::StrCat(options.state_dir, "/", options.driver_id, ".progress");
}

// Where the driver's updates are read from, kept by the driver itself: no
// consumer group, so no other driver's certificate can move it.
std::string UpdatesPath(const DriverOptions& options) {
  return absl::StrCat(options.state_dir, "/", options.driver_id, ".updates");
}

// Where to start reading `partition` of the updates: where the last run
// stopped; a new driver at the end (it has no history worth showing); one
// that ran before it kept its own place (an older version, whose place was
// its consumer group's) from an hour back, so that no ticket is missed.
KafkaTopicPartition WhereToRead(const DriverOptions& options, int32_t partition) {
  KafkaTopicPartition where{kDriverUpdatesTopic, partition};
  std::ifstream in(UpdatesPath(options));
  int32_t saved_partition = -1;
  int64_t offset = -1;
  if (in >> saved_partition >> offset && saved_partition == partition && offset >= 0) {
    where.offset = offset;
  } else if (access(ProgressPath(options).c_str(), F_OK) == 0) {
    where.since = options.clock->Now() - absl::Hours(1);
  } else {
    where.since = absl::InfiniteFuture();
  }
  return where;
}

Progress LoadProgress(const DriverOptions& options) {
  Progress progress;
  std::ifstream in(ProgressPath(options));
  std::string next, pending;
  if (in >> next) {
    uint64_t n = 0;
    if (absl::SimpleAtoi(next, &n)) progress.next = n;
    in >> pending;
    progress.pending_request_id = pending;
  }
  return progress;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Driver>> Driver::Start(DriverOptions options, std::ostream& out) {
  if (options.driver_id.empty()) return absl::InvalidArgumentError("the driver id is empty");
  if (absl::Status made = MakePrivateDir(options.state_dir); !made.ok()) return made;
  absl::StatusOr<std::unique_ptr<KafkaAdmin>> admin = KafkaAdmin::Create(options.kafka_bootstrap);
  if (!admin.ok()) return admin.status();
  absl::Status topics = (*admin)->EnsureTopics(
      {{kDriverRequestsTopic, kTopicPartitions, false}, {kDriverUpdatesTopic, kTopicPartitions, false}},
      kKafkaTimeout);
  if (!topics.ok()) return topics;
  absl::StatusOr<std::vector<KafkaTopicPartition>> partitions =
      (*admin)->Partitions({kDriverUpdatesTopic}, kKafkaTimeout);
  if (!partitions.ok()) return partitions.status();

  KafkaProducerOptions producer_options;
  producer_options.bootstrap_servers = options.kafka_bootstrap;
  producer_options.client_id = options.driver_id;
  // A request Kafka has not taken within a try is given up and sent anew,
  // stamped again: no stale copy lingers in the queue to arrive expired
  // after an outage, ahead of the fresh one.
  producer_options.delivery_timeout = kKafkaTimeout;
  absl::StatusOr<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(producer_options);
  if (!producer.ok()) return producer.status();

  KafkaReaderOptions reader_options;
  reader_options.bootstrap_servers = options.kafka_bootstrap;
  reader_options.client_id = options.driver_id;
  // Only the partition its own updates go to (they are keyed by driver id).
  const int32_t partition =
      PartitionForKey(options.driver_id, static_cast<int32_t>(partitions->size()));
  reader_options.partitions = {WhereToRead(options, partition)};
  absl::StatusOr<std::unique_ptr<KafkaReader>> consumer = KafkaReader::Create(reader_options);
  if (!consumer.ok()) return consumer.status();
  std::unique_ptr<Driver> driver(new Driver(std::move(options), out, *std::move(producer),
                                            *std::move(consumer), partition));
  // Requests go out only once the driver reads its updates from the right
  // place: after what it missed, or at the end for a new driver.
  driver->caught_up_.WaitForNotificationWithTimeout(absl::Seconds(30));
  return driver;
}

Driver::Driver(DriverOptions options, std::ostream& out, std::unique_ptr<KafkaProducer> producer,
               std::unique_ptr<KafkaReader> consumer, int32_t partition)
    : options_(std::move(options)),
      out_(out),
      producer_(std::move(producer)),
      consumer_(std::move(consumer)),
      partition_(partition),
      consumer_thread_([this] { ConsumeUpdates(); }) {}

Driver::~Driver() {
  stop_.Notify();
  consumer_->Wake();
  consumer_thread_.join();
}

void Driver::SavePosition(int64_t offset) {
  if (offset < 0) return;
  absl::Status saved = WriteFileDurably(UpdatesPath(options_), absl::StrCat(partition_, " ", offset, "\n"));
  if (!saved.ok()) LOG(WARNING) << options_.driver_id << " | " << saved;
}

void Driver::Print(const std::string& line) {
  absl::MutexLock lock(&out_mu_);
  out_ << options_.driver_id << " | " << line << std::endl;
}

void Driver::ConsumeUpdates() {
  absl::Status caught_up = consumer_->ReadToEnd(
      absl::Seconds(20), [this](const KafkaMessage& m) { return Show(m); });
  if (!caught_up.ok()) LOG(WARNING) << options_.driver_id << " | " << caught_up;
  // Shown: remember that now, so a restart does not show it again.
  SavePosition(consumer_->Position(kDriverUpdatesTopic, partition_));
  caught_up_.Notify();
  while (!stop_.HasBeenNotified()) {
    absl::StatusOr<PollResult> polled = consumer_->Poll(
        absl::Milliseconds(200), [this](const KafkaMessage& m) { return Show(m); });
    if (!polled.ok()) {
      LOG(WARNING) << options_.driver_id << " | " << polled.status();
      stop_.WaitForNotificationWithTimeout(absl::Seconds(1));
    }
  }
}

absl::Status Driver::Show(const KafkaMessage& message) {
  if (message.key != options_.driver_id) return absl::OkStatus();
  absl::StatusOr<v1::DriverUpdate> update = FromJson<v1::DriverUpdate>(message.value);
  if (update.ok() && !update->sealed().empty()) {
    // Sealed to this driver's key, read again for each (a renewal takes at once).
    absl::StatusOr<std::string> key = ReadFile(options_.key_file);
    update = key.ok() ? OpenUpdate(*update, *key, opener_) : key.status();
  }
  if (!update.ok()) {
    LOG(WARNING) << options_.driver_id << " | skipped an update at offset " << message.offset
                 << " that cannot be read: " << update.status().message();
    return absl::OkStatus();
  }
  const bool progress = update->kind() == v1::UPDATE_KIND_PROGRESS;
  {
    absl::MutexLock lock(&mu_);
    // Progress comes on central's plain producer and the ticket in its
    // transaction: a sample taken before the ticket can still arrive after
    // it, and is not shown then.
    if (progress && outcomes_.count(update->request_id()) > 0) return absl::OkStatus();
    if (!shown_.insert(update->update_id()).second) return absl::OkStatus();
  }
  // Progress is remembered before it is shown: a crash in between skips one
  // line of progress, never shows it twice. Outcomes and tickets are shown
  // first and remembered after: never skipped.
  if (progress) SavePosition(message.offset + 1);
  Print(DescribeUpdate(*update));
  if (!progress) SavePosition(message.offset + 1);
  if (IsOutcome(*update)) {
    absl::MutexLock lock(&mu_);
    outcomes_.insert(update->request_id());
  }
  return absl::OkStatus();
}

absl::Status Driver::Send(const std::string& request_id, const std::string& cp_id) {
  v1::DriverRequest request;
  request.set_request_id(request_id);
  request.set_driver_id(options_.driver_id);
  request.set_cp_id(cp_id);
  *request.mutable_requested_at() = ToProto(options_.clock->Now());
  if (!options_.key_file.empty()) {
    absl::StatusOr<std::string> certificate = ReadFile(options_.cert_file);
    absl::StatusOr<std::string> key = ReadFile(options_.key_file);
    if (!certificate.ok()) return certificate.status();
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> signature = Sign(*key, SignedBytes(request));
    if (!signature.ok()) return signature.status();
    request.set_certificate_pem(*std::move(certificate));
    request.set_signature(*std::move(signature));
  }
  return producer_->ProduceAndWait(kDriverRequestsTopic, options_.driver_id, ToJson(request),
                                   kKafkaTimeout);
}

absl::Status Driver::SendUntilTaken(const std::string& request_id, const std::string& cp_id) {
  for (int attempt = 1;; ++attempt) {
    absl::Status sent = Send(request_id, cp_id);
    // Kafka's refusals of the message itself, and the driver's own files,
    // do not mend by waiting.
    if (sent.ok() || absl::IsInvalidArgument(sent) || absl::IsNotFound(sent) ||
        absl::IsFailedPrecondition(sent)) {
      if (attempt > 1 && sent.ok()) Print(absl::StrCat("Kafka took the request for ", cp_id));
      return sent;
    }
    if (attempt == 1) {
      Print(absl::StrCat("Kafka has not taken the request for ", cp_id, " (", sent.message(),
                         "); sending it again until it does"));
    }
    LOG(WARNING) << options_.driver_id << " | request " << request_id << " not taken by Kafka (try "
                 << attempt << "): " << sent;
    if (cancelled_.WaitForNotificationWithTimeout(kSendRetryPause)) {
      return absl::CancelledError("stopped");
    }
  }
}

bool Driver::WaitForOutcome(const std::string& request_id) {
  const Clock& clock = *options_.clock;
  const absl::Time deadline = clock.Steady() + options_.outcome_timeout;
  absl::Time next_note = clock.Steady() + absl::Seconds(30);
  absl::MutexLock lock(&mu_);
  while (outcomes_.count(request_id) == 0) {
    if (cancelled_.HasBeenNotified() || clock.Steady() >= deadline) return false;
    if (clock.Steady() >= next_note) {
      Print("Still waiting for central to answer (the request is kept in Kafka)");
      next_note = clock.Steady() + absl::Seconds(30);
    }
    auto has_outcome = [this, &request_id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return outcomes_.count(request_id) > 0;
    };
    mu_.AwaitWithTimeout(absl::Condition(&has_outcome), absl::Milliseconds(250));
  }
  return true;
}

absl::Status Driver::Charge(const std::string& cp_id) {
  const std::string request_id = NewId(options_.driver_id);
  absl::Status sent = Send(request_id, cp_id);
  if (!sent.ok()) return sent;
  Print(absl::StrCat("Asked for a charge at ", cp_id));
  if (!WaitForOutcome(request_id)) {
    return absl::DeadlineExceededError(absl::StrCat("no answer about ", cp_id));
  }
  return absl::OkStatus();
}

absl::Status Driver::SaveProgress(size_t next, const std::string& pending_request_id) {
  return WriteFileDurably(ProgressPath(options_), absl::StrCat(next, "\n", pending_request_id, "\n"));
}

absl::Status Driver::RunFile(const std::vector<std::string>& cp_ids) {
  Progress progress = LoadProgress(options_);
  if (progress.next > 0 && progress.next < cp_ids.size()) {
    Print(absl::StrCat("Resuming at request ", progress.next + 1, " of ", cp_ids.size()));
  }
  for (size_t i = progress.next; i < cp_ids.size(); ++i) {
    if (cancelled_.HasBeenNotified()) return absl::CancelledError("stopped");
    std::string request_id = progress.pending_request_id;
    const bool resumed = !request_id.empty();
    if (!resumed) {
      request_id = NewId(options_.driver_id);
      absl::Status saved = SaveProgress(i, request_id);
      if (!saved.ok()) return saved;
    }
    // Saved before sending: after a crash the same id is sent again, in case
    // the first copy never left; central serves an id once.
    CrashPoint("driver.sending");
    absl::Status sent = SendUntilTaken(request_id, cp_ids[i]);
    if (!sent.ok()) return sent;
    Print(resumed ? absl::StrCat("Asked again for a charge at ", cp_ids[i],
                                 " (the request of before a restart, same id)")
                  : absl::StrCat("Asked for a charge at ", cp_ids[i]));
    progress.pending_request_id.clear();
    if (!WaitForOutcome(request_id)) {
      if (cancelled_.HasBeenNotified()) return absl::CancelledError("stopped");
      Print(absl::StrCat("No answer about ", cp_ids[i], " within ",
                         absl::FormatDuration(options_.outcome_timeout), "; moving on"));
    }
    absl::Status saved = SaveProgress(i + 1, "");
    if (!saved.ok()) return saved;
    if (i + 1 < cp_ids.size() &&
        cancelled_.WaitForNotificationWithTimeout(options_.pause_between_requests)) {
      return absl::CancelledError("stopped");
    }
  }
  Print(absl::StrCat("Done: ", cp_ids.size(), " requests"));
  return absl::OkStatus();
}

}  // namespace evnet
