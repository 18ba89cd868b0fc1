#include "common/grpc/monitor_uplink.h"

namespace evnet {
namespace {

constexpr size_t kMaxQueued = 4;

}  // namespace

MonitorUplink* MonitorUplink::Start(v1::CentralService::Stub* stub,
                                    const v1::MonitorMessage& hello, Callbacks callbacks) {
  auto* uplink = new MonitorUplink(std::move(callbacks));
  // Keepalive on the channel notices a dead central; OnDone a lost stream.
  stub->async()->MonitorLink(&uplink->context_, uplink);
  // gRPC destroys the call's stream as soon as its last operation is done,
  // before OnDone runs: a Write from another thread in between would start
  // on a destroyed stream. The hold keeps the call until the read has failed
  // (the call is ending) and `ended_` turns every later Write away.
  uplink->AddHold();
  uplink->Write(hello);
  uplink->StartRead(&uplink->in_);
  uplink->StartCall();
  return uplink;
}

void MonitorUplink::Write(const v1::MonitorMessage& message) {
  absl::MutexLock lock(&mu_);
  if (failed_ || ended_ || out_.size() >= kMaxQueued) return;
  out_.push_back(message);
  if (out_.size() == 1) StartWrite(&out_.front());
}

void MonitorUplink::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  out_.pop_front();
  if (!ok) {
    failed_ = true;
    out_.clear();
    return;
  }
  if (!out_.empty() && !ended_) StartWrite(&out_.front());
}

void MonitorUplink::OnReadDone(bool ok) {
  if (!ok) {
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
    }
    RemoveHold();
    return;
  }
  callbacks_.on_command(*this, in_);
  StartRead(&in_);
}

void MonitorUplink::OnDone(const grpc::Status& status) {
  callbacks_.on_done(this, status);
  delete this;
}

}  // namespace evnet
