// One MonitorLink call from a monitor's side (a CP speaking to central),
// with gRPC's callback API: the first message registers the CP, writes go
// through a short queue with one write in flight (a slow link drops reports
// rather than piling them up), and every command read is handed on. It
// deletes itself when the call is done, after `on_done` returned: whoever
// holds the pointer must forget it in `on_done`, under the lock it writes
// under, and never touch it after.
//
// Threading: `on_command` and `on_done` run on gRPC's callback threads and
// must not block; Write and Cancel may be called from any thread, up to
// `on_done` (a Write once the call is ending is dropped, never started).
#ifndef EVNET_COMMON_GRPC_MONITOR_UPLINK_H_
#define EVNET_COMMON_GRPC_MONITOR_UPLINK_H_

#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "evnet/v1/central.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace evnet {

class MonitorUplink final
    : public grpc::ClientBidiReactor<v1::MonitorMessage, v1::CentralCommand> {
 public:
  struct Callbacks {
    std::function<void(MonitorUplink& uplink, const v1::CentralCommand&)> on_command;
    std::function<void(MonitorUplink* uplink, const grpc::Status&)> on_done;
  };

  // Starts the call; `hello` is the registration.
  static MonitorUplink* Start(v1::CentralService::Stub* stub, const v1::MonitorMessage& hello,
                              Callbacks callbacks);

  // Queues `message`; dropped when 4 are already waiting or the call ended.
  void Write(const v1::MonitorMessage& message);
  // Ends the call; `on_done` follows.
  void Cancel() { context_.TryCancel(); }

  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  explicit MonitorUplink(Callbacks callbacks) : callbacks_(std::move(callbacks)) {}

  const Callbacks callbacks_;
  grpc::ClientContext context_;
  v1::CentralCommand in_;
  absl::Mutex mu_;
  std::deque<v1::MonitorMessage> out_ ABSL_GUARDED_BY(mu_);
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;  // the read failed: no write starts
};

}  // namespace evnet

#endif  // EVNET_COMMON_GRPC_MONITOR_UPLINK_H_
