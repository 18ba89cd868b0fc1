#include "cp_monitor/central_link.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/grpc_channel.h"
#include "common/grpc/reconnect_backoff.h"
#include "glog/logging.h"

namespace evnet {

CentralLink::CentralLink(std::string central_address, const TransportSecurity& security,
                         Monitor& monitor, Clock& clock)
    : address_(std::move(central_address)),
      security_(security),
      monitor_(monitor),
      clock_(clock),
      stub_(v1::CentralService::NewStub(MakeCentralChannel(address_, security_))),
      thread_([this] { Run(); }) {}

CentralLink::~CentralLink() {
  stop_.Notify();
  {
    absl::MutexLock lock(&mu_);
    if (context_ != nullptr) context_->TryCancel();
  }
  thread_.join();
}

std::string CentralLink::Tag() const {
  return absl::StrCat("CP_M:", monitor_.Registration().register_().cp_id(), " | ");
}

bool CentralLink::Send(const v1::MonitorMessage& message) {
  Stream* stream;
  {
    absl::MutexLock lock(&mu_);
    if (stream_ == nullptr) return false;
    stream = stream_;
    ++writers_;  // keeps the stream alive (Connect waits for us)
  }
  // A Write blocks while central does not read (frozen, or its window is
  // full): never with mu_ held, which cancelling needs.
  bool written;
  {
    absl::MutexLock write_lock(&write_mu_);
    written = stream->Write(message);
  }
  absl::MutexLock lock(&mu_);
  --writers_;
  return written;
}

void CentralLink::Run() {
  ReconnectBackoff backoff;
  std::string last_problem;
  while (!stop_.HasBeenNotified()) {
    const absl::Time started = clock_.Steady();
    bool registered = false;
    grpc::Status ended = Connect(&registered);
    if (stop_.HasBeenNotified()) break;
    const absl::Duration attempt = clock_.Steady() - started;
    const bool refused = ended.error_code() == grpc::StatusCode::ALREADY_EXISTS ||
                         ended.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                         ended.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
                         ended.error_code() == grpc::StatusCode::UNAUTHENTICATED;
    std::string problem = refused
                              ? absl::StrCat("Central refused this monitor: ", ended.error_message())
                              : absl::StrCat("Central unavailable at ", address_);
    // Refused, the next attempt shakes hands anew (with the certificate the
    // files hold now). Failed, gRPC would go on reconnecting the channel on
    // its own pace (at most a second apart, however overloaded central is)
    // behind ours: a new one makes `backoff` the only pace of attempts.
    if (refused || !registered) {
      stub_ = v1::CentralService::NewStub(
          MakeDedicatedChannel(address_, security_, ++connection_));
    }
    const absl::Duration wait = backoff.Next(registered, attempt);
    if (problem != last_problem) {
      LOG(WARNING) << Tag() << problem << "; reconnecting within "
                   << absl::FormatDuration(backoff.cap()) << ", later if it stays slow ("
                   << ended.error_message() << ")";
      last_problem = problem;
    }
    stop_.WaitForNotificationWithTimeout(wait);
  }
}

grpc::Status CentralLink::Connect(bool* registered_out) {
  grpc::ClientContext context;
  // Published before the call: on a new connection its start waits for the
  // connection (up to kCentralConnectTimeout), and a Stop meanwhile cancels
  // it (a context cancelled before its call cancels the call when made).
  {
    absl::MutexLock lock(&mu_);
    context_ = &context;
    if (stop_.HasBeenNotified()) context.TryCancel();
  }
  std::unique_ptr<Stream> stream = stub_->MonitorLink(&context);
  bool registered = false;
  if (stream->Write(monitor_.Registration())) {
    v1::CentralCommand command;
    while (stream->Read(&command)) {
      if (command.has_registered()) {
        LOG(INFO) << Tag() << "Registered with Central at " << address_;
        registered = true;
        *registered_out = true;
        {
          absl::MutexLock lock(&mu_);
          stream_ = stream.get();
        }
        Send(monitor_.LastReport());
        continue;
      }
      v1::MonitorMessage reply;
      *reply.mutable_command_result() = monitor_.HandleCommand(command);
      Send(reply);
    }
  }
  {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
    // The call is over (or cancelled), so a Write still running returns.
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return writers_ == 0; };
    mu_.Await(absl::Condition(&idle));
    context_ = nullptr;
  }
  grpc::Status status = stream->Finish();
  if (registered && status.ok()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "Central closed the link");
  }
  return status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "no answer") : status;
}

}  // namespace evnet
