// A driver: sends charge requests to central over Kafka, one at a time, and
// shows every update about its own requests exactly once, including those
// that arrived while it was down. Its progress through a request file is
// kept in --state_dir, so a restarted driver neither repeats a request nor
// skips one.
#ifndef EVNET_DRIVER_DRIVER_H_
#define EVNET_DRIVER_DRIVER_H_

#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/kafka/kafka_reader.h"
#include "common/kafka/kafka_producer.h"
#include "common/trust/sealing.h"
#include "evnet/v1/events.pb.h"

namespace evnet {

struct DriverOptions {
  // Now() stamps requests and places the reader; Steady() times the waits.
  // Never null.
  const Clock* clock = &SystemClock::Get();
  std::string driver_id;
  std::string kafka_bootstrap;
  std::string state_dir;  // progress through the request file
  absl::Duration pause_between_requests = absl::Seconds(4);
  // How long to wait for the outcome of one request before moving on.
  absl::Duration outcome_timeout = absl::Minutes(10);
  // The driver's certificate and key, where Kafka authenticates: each
  // request is signed with the key and carries the certificate. Read for
  // each request, so a renewed pair is used at once.
  std::string cert_file;
  std::string key_file;
};

class Driver {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Driver>> Start(DriverOptions options,
                                                                     std::ostream& out);
  ~Driver();

  // Requests a charge at each CP in turn, waiting for each outcome and then
  // the pause. Resumes where a previous run of the same driver stopped.
  [[nodiscard]] absl::Status RunFile(const std::vector<std::string>& cp_ids);
  // Requests one charge and waits for its outcome.
  [[nodiscard]] absl::Status Charge(const std::string& cp_id);

  // Stops waiting at once (a signal arrived).
  void Cancel() {
    if (!cancelled_.HasBeenNotified()) cancelled_.Notify();
  }

 private:
  Driver(DriverOptions options, std::ostream& out, std::unique_ptr<KafkaProducer> producer,
         std::unique_ptr<KafkaReader> consumer, int32_t partition);
  // Remembers (durably, in --state_dir) that the updates before `offset`
  // were shown. On the consumer thread only.
  void SavePosition(int64_t offset);
  void ConsumeUpdates();
  absl::Status Show(const KafkaMessage& message);
  // Signs the request and hands it to Kafka, waiting for Kafka to take it.
  absl::Status Send(const std::string& request_id, const std::string& cp_id);
  // Send, again with the same id while Kafka cannot take it (down, full,
  // not yet granting the driver's ACLs), saying so once; central serves an
  // id once, so a copy that did get through is harmless. Ends on cancel or
  // on an error no retry mends (a request Kafka refuses as invalid, a key
  // that cannot be read).
  absl::Status SendUntilTaken(const std::string& request_id, const std::string& cp_id);
  // Waits until the request's outcome has been shown; false on timeout or cancel.
  bool WaitForOutcome(const std::string& request_id);
  void Print(const std::string& line);
  absl::Status SaveProgress(size_t next, const std::string& pending_request_id);

  const DriverOptions options_;
  std::ostream& out_;
  std::unique_ptr<KafkaProducer> producer_;
  std::unique_ptr<KafkaReader> consumer_;  // its own updates' partition, no group
  const int32_t partition_;
  absl::Notification cancelled_;
  absl::Notification stop_;
  absl::Notification caught_up_;  // updates missed while down were shown
  Opener opener_;                 // of sealed updates

  absl::Mutex mu_;
  std::set<std::string> shown_ ABSL_GUARDED_BY(mu_);     // update ids
  std::set<std::string> outcomes_ ABSL_GUARDED_BY(mu_);  // request ids with an outcome
  absl::Mutex out_mu_;
  std::thread consumer_thread_;
};

}  // namespace evnet

#endif  // EVNET_DRIVER_DRIVER_H_
