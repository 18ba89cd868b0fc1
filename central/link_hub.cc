#include "central/link_hub.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace evnet {

absl::StatusOr<uint64_t> LinkHub::Attach(const std::string& cp_id, Stream* stream,
                                         grpc::ServerContext* context) {
  std::shared_ptr<Link> replaced;
  auto link = std::make_shared<Link>();
  {
    absl::MutexLock lock(&mu_);
    auto it = links_.find(cp_id);
    if (it != links_.end()) {
      if (clock_.Now() - it->second->last_heard <= monitor_timeout_) {
        return absl::AlreadyExistsError(
            absl::StrCat(cp_id, " already has a connected monitor; is another one running?"));
      }
      replaced = it->second;
    }
    link->id = next_id_++;
    link->context = context;
    link->last_heard = clock_.Now();
    {
      absl::MutexLock link_lock(&link->mu);
      link->stream = stream;
    }
    links_[cp_id] = link;
  }
  if (replaced != nullptr) {
    LOG(WARNING) << "Central | CP " << cp_id << ": a new monitor replaces a silent one";
    replaced->context->TryCancel();
  }
  return link->id;
}

void LinkHub::Detach(const std::string& cp_id, uint64_t link_id) {
  std::shared_ptr<Link> link;
  {
    absl::MutexLock lock(&mu_);
    auto it = links_.find(cp_id);
    if (it != links_.end() && it->second->id == link_id) {
      link = it->second;
      links_.erase(it);
    }
    // Commands waiting on this CP will not hear back.
    for (auto& [id, pending] : pending_) {
      if (pending->cp_id != cp_id || pending->done.HasBeenNotified()) continue;
      if (links_.count(cp_id) > 0) continue;
      pending->result.set_code(static_cast<int>(absl::StatusCode::kUnavailable));
      pending->result.set_message(absl::StrCat("the monitor of ", cp_id, " disconnected"));
      pending->done.Notify();
    }
  }
  if (link != nullptr) {
    absl::MutexLock link_lock(&link->mu);
    link->closed = true;
    link->stream = nullptr;
  }
}

void LinkHub::Touch(const std::string& cp_id, uint64_t link_id) {
  absl::MutexLock lock(&mu_);
  auto it = links_.find(cp_id);
  if (it != links_.end() && it->second->id == link_id) it->second->last_heard = clock_.Now();
}

void LinkHub::Complete(const v1::CommandResult& result) {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(result.command_id());
  if (it == pending_.end() || it->second->done.HasBeenNotified()) return;
  it->second->result = result;
  it->second->done.Notify();
}

std::shared_ptr<LinkHub::Link> LinkHub::Find(const std::string& cp_id, uint64_t link_id) {
  absl::MutexLock lock(&mu_);
  auto it = links_.find(cp_id);
  if (it == links_.end() || (link_id != 0 && it->second->id != link_id)) return nullptr;
  return it->second;
}

bool LinkHub::WriteTo(Link& link, const v1::CentralCommand& command) {
  absl::MutexLock lock(&link.mu);
  return !link.closed && link.stream != nullptr && link.stream->Write(command);
}

bool LinkHub::Write(const std::string& cp_id, uint64_t link_id,
                    const v1::CentralCommand& command) {
  std::shared_ptr<Link> link = Find(cp_id, link_id);
  return link != nullptr && WriteTo(*link, command);
}

absl::Status LinkHub::SendCommand(const std::string& cp_id, v1::CentralCommand command,
                                  absl::Duration timeout) {
  std::shared_ptr<Link> link = Find(cp_id, 0);
  if (link == nullptr) {
    return absl::UnavailableError(absl::StrCat("the monitor of ", cp_id, " is not connected"));
  }
  auto pending = std::make_shared<Pending>();
  pending->cp_id = cp_id;
  {
    absl::MutexLock lock(&mu_);
    pending_[command.command_id()] = pending;
  }
  absl::Status status;
  if (!WriteTo(*link, command)) {
    status = absl::UnavailableError(absl::StrCat("the link to ", cp_id, " broke"));
  } else if (!pending->done.WaitForNotificationWithTimeout(timeout)) {
    status = absl::DeadlineExceededError(absl::StrCat(
        cp_id, " did not answer within ", absl::FormatDuration(timeout)));
  } else if (pending->result.code() != 0) {
    status = absl::Status(static_cast<absl::StatusCode>(pending->result.code()),
                          pending->result.message());
  }
  absl::MutexLock lock(&mu_);
  pending_.erase(command.command_id());
  return status;
}

}  // namespace evnet

namespace evnet {

int LinkHub::Connected() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(links_.size());
}

}  // namespace evnet
