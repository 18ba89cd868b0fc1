// Every update central sent to drivers, read from evnet.driver.updates as a
// test runs, for tests to wait on.
#ifndef EVNET_TESTING_UPDATE_LOG_H_
#define EVNET_TESTING_UPDATE_LOG_H_

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/kafka/kafka_reader.h"
#include "common/kafka/kafka_wake_list.h"
#include "common/trust/sealing.h"
#include "evnet/v1/events.pb.h"

namespace evnet::test {

// Every update central sent to drivers, read from Kafka as the test runs;
// sealed ones opened with each driver's key from `pki_dir`.
class UpdateLog {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<UpdateLog>> Start(
      const std::string& bootstrap_servers, const std::string& pki_dir = "");
  ~UpdateLog();

  std::vector<v1::DriverUpdate> All() const;
  std::vector<v1::DriverUpdate> For(const std::string& driver_id) const;
  // Waits until `count` updates of `driver_id` match `kind`; returns them.
  std::vector<v1::DriverUpdate> WaitFor(const std::string& driver_id, v1::UpdateKind kind,
                                        size_t count, absl::Duration timeout) const;

 private:
  UpdateLog() = default;
  void Run(std::unique_ptr<KafkaReader> consumer);

  std::string pki_dir_;
  // By driver; used by the reading thread only.
  std::map<std::string, std::unique_ptr<Opener>> openers_;
  mutable absl::Mutex mu_;
  std::vector<v1::DriverUpdate> updates_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  KafkaWakeList wake_;  // the thread's reader, woken when stop_ is set
  std::thread thread_;
};

}  // namespace evnet::test

#endif  // EVNET_TESTING_UPDATE_LOG_H_
