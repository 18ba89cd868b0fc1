// The monitor's stream to central (CentralService.MonitorLink), kept up by
// its own thread: connects, registers, sends the latest health, relays the
// commands that come down, and when central goes away says so in one line
// and reconnects (common/grpc/reconnect_backoff.h: within a second while
// central is away, further apart while it is too busy to finish a
// handshake), each failed attempt followed by one on a new connection.
// Refused (not enrolled, revoked, another monitor alive), it keeps trying
// the same way.
#ifndef EVNET_CP_MONITOR_CENTRAL_LINK_H_
#define EVNET_CP_MONITOR_CENTRAL_LINK_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/trust/transport_security.h"
#include "cp_monitor/health_monitor.h"
#include "evnet/v1/central.grpc.pb.h"

namespace evnet {

class CentralLink final : public CentralUplink {
 public:
  // `clock` times how long a connection lasted (on its Steady reading).
  CentralLink(std::string central_address, const TransportSecurity& security, Monitor& monitor,
              Clock& clock);
  ~CentralLink() override;

  bool Send(const v1::MonitorMessage& message) override;

 private:
  using Stream = grpc::ClientReaderWriter<v1::MonitorMessage, v1::CentralCommand>;

  void Run();
  // One connection, until it breaks; returns why it ended.
  // One attempt and, if it registers, the link's whole life; says whether
  // it registered.
  grpc::Status Connect(bool* registered);
  std::string Tag() const;

  const std::string address_;
  const TransportSecurity security_;
  Monitor& monitor_;
  Clock& clock_;
  // Owned by thread_. A refused monitor starts over on a new connection, so
  // that a renewed certificate is presented in a new handshake.
  std::unique_ptr<v1::CentralService::Stub> stub_;
  int connection_ = 0;
  absl::Notification stop_;

  absl::Mutex mu_;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;  // set while connected
  int writers_ ABSL_GUARDED_BY(mu_) = 0;           // Sends writing on stream_
  absl::Mutex write_mu_;  // one writer at a time on the stream; never taken with mu_
  std::thread thread_;
};

}  // namespace evnet

#endif  // EVNET_CP_MONITOR_CENTRAL_LINK_H_
