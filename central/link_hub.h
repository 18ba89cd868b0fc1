// The monitors' links as central holds them: one open MonitorLink stream per
// CP, commands written down it and their results matched back by command id.
// A second monitor claiming a CP is refused while the first still reports;
// a link silent for the monitor timeout gives way to a new one.
#ifndef EVNET_CENTRAL_LINK_HUB_H_
#define EVNET_CENTRAL_LINK_HUB_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "central/coordinator.h"
#include "common/clock.h"
#include "evnet/v1/central.grpc.pb.h"

namespace evnet {

class LinkHub final : public CommandSender {
 public:
  using Stream = grpc::ServerReaderWriter<v1::CentralCommand, v1::MonitorMessage>;

  LinkHub(Clock& clock, absl::Duration monitor_timeout)
      : clock_(clock), monitor_timeout_(monitor_timeout) {}

  // Takes `stream` as the link of `cp_id`; returns its link id, or
  // ALREADY_EXISTS while another monitor's link is open and reporting.
  [[nodiscard]] absl::StatusOr<uint64_t> Attach(const std::string& cp_id, Stream* stream,
                                                grpc::ServerContext* context);
  // The stream's handler is about to return: nothing may write to it after.
  void Detach(const std::string& cp_id, uint64_t link_id);
  // The monitor said something; keeps the link from counting as silent.
  void Touch(const std::string& cp_id, uint64_t link_id);
  // A command's outcome, as the monitor reported it.
  void Complete(const v1::CommandResult& result);
  // Writes to one link (e.g. the registration answer).
  bool Write(const std::string& cp_id, uint64_t link_id, const v1::CentralCommand& command);

  absl::Status SendCommand(const std::string& cp_id, v1::CentralCommand command,
                           absl::Duration timeout) override;

  // Monitors with an open link.
  int Connected() const;

 private:
  struct Link {
    uint64_t id = 0;
    grpc::ServerContext* context = nullptr;
    absl::Mutex mu;  // serializes writes; guards closed
    Stream* stream ABSL_GUARDED_BY(mu) = nullptr;
    bool closed ABSL_GUARDED_BY(mu) = false;
    absl::Time last_heard;  // guarded by the hub's mu_
  };
  struct Pending {
    std::string cp_id;
    absl::Notification done;
    v1::CommandResult result;
  };

  static bool WriteTo(Link& link, const v1::CentralCommand& command);
  std::shared_ptr<Link> Find(const std::string& cp_id, uint64_t link_id);

  Clock& clock_;
  const absl::Duration monitor_timeout_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, std::shared_ptr<Link>> links_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Pending>> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_LINK_HUB_H_
