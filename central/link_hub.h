// The monitors' links as central holds them: one open MonitorLink stream per
// CP, commands queued on it in one order and their results matched back by
// command id. A second monitor claiming a CP is refused while the first
// still reports; a link silent for the monitor timeout gives way to a new
// one, and the old one is closed. Nothing here blocks: commands complete
// through callbacks, and ExpireCommands fails those past their deadline.
#ifndef EVNET_CENTRAL_LINK_HUB_H_
#define EVNET_CENTRAL_LINK_HUB_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "central/outbound.h"
#include "common/clock.h"
#include "evnet/v1/central.pb.h"

namespace evnet {

class LinkHub final : public CommandSender {
 public:
  // One monitor's stream, as the hub writes to it.
  class Stream {
   public:
    virtual ~Stream() = default;
    // Queues a command; false once the stream is closing (then it is dropped).
    virtual bool Write(const v1::CentralCommand& command) = 0;
    // Ends the stream with `reason` (e.g. a newer monitor took the CP).
    virtual void Close(const absl::Status& reason) = 0;
  };

  // Told of every command a monitor answered: the command's kind (e.g.
  // "start_supply") and the time from sending it to the answer. Called
  // outside the hub's lock; must not block.
  using AnswerObserver = std::function<void(absl::string_view kind, absl::Duration)>;

  // A stream whose monitor has not said which CP it is within
  // `register_timeout` is closed (MonitorLinkReactor).
  LinkHub(Clock& clock, absl::Duration monitor_timeout, AnswerObserver on_answer = nullptr,
          absl::Duration register_timeout = absl::Seconds(10))
      : clock_(clock),
        monitor_timeout_(monitor_timeout),
        register_timeout_(register_timeout),
        on_answer_(std::move(on_answer)) {}

  absl::Duration register_timeout() const { return register_timeout_; }

  // Takes `stream` as the link of `cp_id`; returns its link id, or
  // ALREADY_EXISTS while another monitor's link is open and reporting.
  [[nodiscard]] absl::StatusOr<uint64_t> Attach(const std::string& cp_id,
                                                std::shared_ptr<Stream> stream);
  // The stream ended. Returns whether it was still the CP's link (and so
  // the CP has no link now); commands waiting on it fail.
  bool Detach(const std::string& cp_id, uint64_t link_id);
  // Ends the link of `cp_id`, if it has one, with `reason` (it was revoked).
  void Close(const std::string& cp_id, const absl::Status& reason);
  // The monitor said something; keeps the link from counting as silent.
  void Touch(const std::string& cp_id, uint64_t link_id);
  // A command's outcome, as the monitor of `cp_id` reported it.
  void Complete(const std::string& cp_id, const v1::CommandResult& result);
  // Writes to one link (e.g. the registration answer).
  bool Write(const std::string& cp_id, uint64_t link_id, const v1::CentralCommand& command);

  void SendCommand(const std::string& cp_id, v1::CentralCommand command, absl::Duration timeout,
                   std::function<absl::Status()> precondition, Done done) override;
  // The same, for a command whose answer says more than OK (a charger
  // operation's answer_json): `answered` gets the monitor's CommandResult
  // when it answered OK, else why not.
  using Answered = std::function<void(absl::StatusOr<v1::CommandResult>)>;
  void SendForAnswer(const std::string& cp_id, v1::CentralCommand command, absl::Duration timeout,
                     Answered answered);
  // Fails the commands whose timeout passed; call every few hundred ms.
  void ExpireCommands();

  // Monitors with an open link.
  int Connected() const;

  // A stream's reactor began, and finished its last callback (OnDone). gRPC
  // may run OnDone after its server's Shutdown returned, so whoever owns
  // the hub (and what the streams use) waits for every stream to finish
  // before those go away.
  void StreamStarted();
  void StreamFinished();
  // False if some stream had not finished within `timeout`.
  bool WaitForStreams(absl::Duration timeout);

 private:
  struct Link {
    uint64_t id = 0;
    std::shared_ptr<Stream> stream;
    absl::Time last_heard;
    // Held while a command is checked and queued, so that commands reach
    // the link in the order they were decided.
    std::shared_ptr<absl::Mutex> order;
  };
  struct Pending {
    std::string cp_id;
    uint64_t link_id = 0;
    absl::Time deadline;
    absl::Duration timeout;
    Answered answered;
    absl::Time sent;
    absl::string_view kind;  // the command's oneof field name (descriptor-owned)
  };

  std::shared_ptr<absl::Mutex> OrderOf(const std::string& cp_id);
  void Send(const std::string& cp_id, v1::CentralCommand command, absl::Duration timeout,
            std::function<absl::Status()> precondition, Answered done);

  Clock& clock_;
  const absl::Duration monitor_timeout_;
  const absl::Duration register_timeout_;
  const AnswerObserver on_answer_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Mutex streams_mu_;
  int running_streams_ ABSL_GUARDED_BY(streams_mu_) = 0;
  absl::flat_hash_map<std::string, Link> links_ ABSL_GUARDED_BY(mu_);
  // Per CP, outlives its links: one order for every command to that CP.
  absl::flat_hash_map<std::string, std::shared_ptr<absl::Mutex>> order_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);  // by command id
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_LINK_HUB_H_
