#include "central/watch.h"

namespace evnet {

Watchers::~Watchers() { CloseAll(); }

grpc::ServerWriteReactor<v1::ChargingPoint>* Watchers::Start(grpc::CallbackServerContext*,
                                                             std::string certificate_sha256) {
  auto* reactor = new WatchReactor(registry_, *this, std::move(certificate_sha256));
  {
    absl::MutexLock lock(&mu_);
    open_.insert(reactor);
  }
  reactor->Poke();  // the whole network first
  return reactor;
}

void Watchers::Poke() {
  absl::MutexLock lock(&mu_);
  for (WatchReactor* reactor : open_) reactor->Poke();
}

void Watchers::CloseAll() {
  absl::MutexLock lock(&mu_);
  for (WatchReactor* reactor : open_) reactor->Close();
}

int Watchers::CloseHeldWith(const std::string& certificate_sha256, const grpc::Status& status) {
  if (certificate_sha256.empty()) return 0;
  int closed = 0;
  absl::MutexLock lock(&mu_);
  for (WatchReactor* reactor : open_) {
    if (reactor->certificate_sha256() != certificate_sha256) continue;
    reactor->Close(status);
    ++closed;
  }
  return closed;
}

void Watchers::Remove(WatchReactor* reactor) {
  absl::MutexLock lock(&mu_);
  open_.erase(reactor);
}

void WatchReactor::Poke() {
  absl::MutexLock lock(&mu_);
  if (!writing_ && !closing_) NextLocked();
}

void WatchReactor::Close(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  if (closing_) return;
  closing_ = true;
  close_status_ = status;
  if (!writing_) FinishLocked(status);
}

void WatchReactor::FinishLocked(const grpc::Status& status) {
  closing_ = true;  // a Poke after a failed write must not write again
  if (finished_) return;
  finished_ = true;
  Finish(status);
}

void WatchReactor::NextLocked() {
  if (closing_ || finished_) return;  // no write may follow Finish
  std::optional<std::pair<uint64_t, v1::ChargingPoint>> next = registry_.NextChange(cursor_);
  if (!next.has_value()) return;
  cursor_ = next->first;
  out_ = std::move(next->second);
  writing_ = true;
  StartWrite(&out_);
}

void WatchReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (!ok || closing_) {  // the watcher went away, or the watch is being closed
    FinishLocked(ok ? close_status_ : grpc::Status::CANCELLED);
    return;
  }
  NextLocked();
}

void WatchReactor::OnCancel() {
  absl::MutexLock lock(&mu_);
  closing_ = true;
  if (!writing_) FinishLocked(grpc::Status::CANCELLED);  // else the write ends with !ok
}

void WatchReactor::OnDone() {
  watchers_.Remove(this);
  delete this;
}

}  // namespace evnet
