#include "central/link_hub.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "google/protobuf/descriptor.h"

namespace evnet {

absl::StatusOr<uint64_t> LinkHub::Attach(const std::string& cp_id,
                                         std::shared_ptr<Stream> stream) {
  std::shared_ptr<Stream> replaced;
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    auto it = links_.find(cp_id);
    if (it != links_.end()) {
      if (clock_.Now() - it->second.last_heard <= monitor_timeout_) {
        return absl::AlreadyExistsError(
            absl::StrCat(cp_id, " already has a connected monitor; is another one running?"));
      }
      replaced = std::move(it->second.stream);
    }
    id = next_id_++;
    Link& link = links_[cp_id];
    link.id = id;
    link.stream = std::move(stream);
    link.last_heard = clock_.Now();
    auto& order = order_[cp_id];
    if (order == nullptr) order = std::make_shared<absl::Mutex>();
    link.order = order;
  }
  if (replaced != nullptr) {
    LOG(WARNING) << "Central | CP " << cp_id << ": a new monitor replaces a silent one";
    // The stream object stays valid while we hold it, whatever its call does.
    replaced->Close(absl::AbortedError("a new monitor took over this CP"));
  }
  return id;
}

void LinkHub::Close(const std::string& cp_id, const absl::Status& reason) {
  std::shared_ptr<Stream> stream;
  {
    absl::MutexLock lock(&mu_);
    auto it = links_.find(cp_id);
    if (it == links_.end()) return;
    stream = it->second.stream;
  }
  stream->Close(reason);  // outside the lock: the stream may call back in
}

bool LinkHub::Detach(const std::string& cp_id, uint64_t link_id) {
  std::vector<Answered> failed;
  bool was_current = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = links_.find(cp_id);
    if (it != links_.end() && it->second.id == link_id) {
      links_.erase(it);
      was_current = true;
    }
    // Commands sent on this link will not hear back.
    for (auto p = pending_.begin(); p != pending_.end();) {
      if (p->second.cp_id == cp_id && p->second.link_id == link_id) {
        failed.push_back(std::move(p->second.answered));
        p = pending_.erase(p);
      } else {
        ++p;
      }
    }
  }
  for (Answered& answered : failed) {
    answered(absl::UnavailableError(absl::StrCat("the monitor of ", cp_id, " disconnected")));
  }
  return was_current;
}

void LinkHub::Touch(const std::string& cp_id, uint64_t link_id) {
  absl::MutexLock lock(&mu_);
  auto it = links_.find(cp_id);
  if (it != links_.end() && it->second.id == link_id) it->second.last_heard = clock_.Now();
}

void LinkHub::Complete(const std::string& cp_id, const v1::CommandResult& result) {
  Answered answered;
  absl::string_view kind;
  absl::Duration took;
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(result.command_id());
    // Only the CP the command went to may answer it.
    if (it == pending_.end() || it->second.cp_id != cp_id) return;
    answered = std::move(it->second.answered);
    kind = it->second.kind;
    took = clock_.Now() - it->second.sent;
    pending_.erase(it);
  }
  if (on_answer_) on_answer_(kind, took);
  if (result.code() == 0) return answered(result);
  answered(absl::Status(static_cast<absl::StatusCode>(result.code()), result.message()));
}

bool LinkHub::Write(const std::string& cp_id, uint64_t link_id,
                    const v1::CentralCommand& command) {
  std::shared_ptr<Stream> stream;
  {
    absl::MutexLock lock(&mu_);
    auto it = links_.find(cp_id);
    if (it == links_.end() || it->second.id != link_id) return false;
    stream = it->second.stream;
  }
  return stream->Write(command);
}

namespace {

absl::string_view KindOf(const v1::CentralCommand& command) {
  const google::protobuf::FieldDescriptor* field =
      command.GetDescriptor()->FindFieldByNumber(command.kind_case());
  return field == nullptr ? absl::string_view("none") : absl::string_view(field->name());
}

}  // namespace

std::shared_ptr<absl::Mutex> LinkHub::OrderOf(const std::string& cp_id) {
  absl::MutexLock lock(&mu_);
  auto& order = order_[cp_id];
  if (order == nullptr) order = std::make_shared<absl::Mutex>();
  return order;
}

void LinkHub::SendCommand(const std::string& cp_id, v1::CentralCommand command,
                          absl::Duration timeout, std::function<absl::Status()> precondition,
                          Done done) {
  Send(cp_id, std::move(command), timeout, std::move(precondition),
       [done = std::move(done)](absl::StatusOr<v1::CommandResult> result) {
         done(result.status());
       });
}

void LinkHub::SendForAnswer(const std::string& cp_id, v1::CentralCommand command,
                            absl::Duration timeout, Answered answered) {
  Send(cp_id, std::move(command), timeout, [] { return absl::OkStatus(); }, std::move(answered));
}

void LinkHub::Send(const std::string& cp_id, v1::CentralCommand command, absl::Duration timeout,
                   std::function<absl::Status()> precondition, Answered done) {
  absl::Status status;
  {
    std::shared_ptr<absl::Mutex> order = OrderOf(cp_id);
    absl::MutexLock ordered(order.get());
    status = precondition();
    if (status.ok()) {
      std::shared_ptr<Stream> stream;
      {
        absl::MutexLock lock(&mu_);
        auto it = links_.find(cp_id);
        if (it == links_.end()) {
          status = absl::UnavailableError(absl::StrCat("the monitor of ", cp_id, " is not connected"));
        } else {
          stream = it->second.stream;
          const absl::Time now = clock_.Now();
          pending_[command.command_id()] = Pending{
              cp_id, it->second.id, now + timeout, timeout, std::move(done), now, KindOf(command)};
        }
      }
      if (stream != nullptr && !stream->Write(command)) {
        absl::MutexLock lock(&mu_);
        auto it = pending_.find(command.command_id());
        if (it != pending_.end()) {
          done = std::move(it->second.answered);
          pending_.erase(it);
          status = absl::UnavailableError(absl::StrCat("the link to ", cp_id, " broke"));
        }
      }
    }
  }
  if (!status.ok() && done) done(status);
}

void LinkHub::ExpireCommands() {
  std::vector<std::pair<Answered, absl::Status>> expired;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    for (auto p = pending_.begin(); p != pending_.end();) {
      if (p->second.deadline > now) {
        ++p;
        continue;
      }
      expired.emplace_back(std::move(p->second.answered),
                           absl::DeadlineExceededError(absl::StrCat(
                               p->second.cp_id, " did not answer within ",
                               absl::FormatDuration(p->second.timeout))));
      p = pending_.erase(p);
    }
  }
  for (auto& [done, status] : expired) done(status);
}

int LinkHub::Connected() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(links_.size());
}

void LinkHub::StreamStarted() {
  absl::MutexLock lock(&streams_mu_);
  ++running_streams_;
}

void LinkHub::StreamFinished() {
  absl::MutexLock lock(&streams_mu_);
  --running_streams_;
}

bool LinkHub::WaitForStreams(absl::Duration timeout) {
  absl::MutexLock lock(&streams_mu_);
  auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(streams_mu_) { return running_streams_ == 0; };
  return streams_mu_.AwaitWithTimeout(absl::Condition(&none), timeout);
}

}  // namespace evnet
