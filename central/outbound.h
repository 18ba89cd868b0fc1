// What central's logic sends out, as interfaces its libraries depend on: a
// command down a CP's monitor link, an update to a driver, a registry record
// to Kafka. Each is asynchronous: `done` runs once, on any thread (possibly
// before the call returns), with OK when the effect is done.
#ifndef EVNET_CENTRAL_OUTBOUND_H_
#define EVNET_CENTRAL_OUTBOUND_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "evnet/v1/central.pb.h"
#include "evnet/v1/events.pb.h"

namespace evnet {

using Done = std::function<void(absl::Status)>;

// A Done to hand to `n` operations: runs `done` once all of them finished,
// with the first error if any failed.
inline Done Join(int n, Done done) {
  struct State {
    absl::Mutex mu;
    int left;
    absl::Status status;
    Done done;
  };
  auto state = std::make_shared<State>();
  state->left = n;
  state->done = std::move(done);
  return [state](absl::Status status) {
    Done finish;
    absl::Status result;
    {
      absl::MutexLock lock(&state->mu);
      if (state->status.ok()) state->status = status;
      if (--state->left > 0) return;
      finish = std::move(state->done);
      result = state->status;
    }
    finish(result);
  };
}

// Sends commands down the CPs' monitor links.
class CommandSender {
 public:
  virtual ~CommandSender() = default;
  // `precondition` is checked when the command is queued on the link, in
  // the order of every other command to that CP; a non-OK result is
  // returned through `done` and nothing is sent. `done` gets the monitor's
  // answer, UNAVAILABLE when the link is gone, DEADLINE_EXCEEDED after
  // `timeout`.
  virtual void SendCommand(const std::string& cp_id, v1::CentralCommand command,
                           absl::Duration timeout, std::function<absl::Status()> precondition,
                           Done done) = 0;
};

// One decision of central's, written everywhere or nowhere: its updates to
// the driver (each also on central's ledger) and what it changes in the
// sessions central holds open.
struct Decision {
  std::vector<v1::DriverUpdate> updates;
  // Held open from now on (written whole, replacing what was held).
  std::optional<v1::OpenSession> open;
  // No longer held open (its record tombstoned).
  std::string closed_session_id;
};

// Publishes to evnet.driver.updates; OK once Kafka has it.
class UpdatePublisher {
 public:
  virtual ~UpdatePublisher() = default;
  // Best effort (progress): nothing is decided by it.
  virtual void Publish(const v1::DriverUpdate& update, Done done) = 0;
  // A decision, atomically: OK once all of it is in Kafka; otherwise none of
  // it is visible. By default (fakes that only watch updates), its updates
  // published one by one.
  virtual void Commit(const Decision& decision, Done done) {
    if (decision.updates.empty()) return done(absl::OkStatus());
    Done all = Join(static_cast<int>(decision.updates.size()), std::move(done));
    for (const v1::DriverUpdate& update : decision.updates) Publish(update, all);
  }
};

// Where central keeps what it must remember about CPs (evnet.cp.registry).
class RegistryStore {
 public:
  virtual ~RegistryStore() = default;
  virtual void Save(const v1::CpRegistryRecord& record, Done done) = 0;
};

// Where central keeps which CPs are enrolled (evnet.cp.enrolments).
class EnrolmentStore {
 public:
  virtual ~EnrolmentStore() = default;
  virtual void Save(const v1::Enrolment& enrolment, Done done) = 0;
};

// Where central keeps drivers' id tokens (evnet.id.tokens).
class IdTokenStore {
 public:
  virtual ~IdTokenStore() = default;
  virtual void Save(const v1::IdToken& token, Done done) = 0;
};

// Starts an asynchronous operation and waits for its `done`, at most
// `timeout`: only for threads that may block (the operator's unary calls,
// the Kafka bridge's own thread), never a gRPC callback.
inline absl::Status Await(const std::function<void(Done)>& start, absl::Duration timeout) {
  struct Result {
    absl::Notification done;
    absl::Status status;
  };
  auto result = std::make_shared<Result>();
  start([result](absl::Status status) {
    result->status = std::move(status);
    result->done.Notify();
  });
  if (!result->done.WaitForNotificationWithTimeout(timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("no answer within ", absl::FormatDuration(timeout)));
  }
  return result->status;
}

}  // namespace evnet

#endif  // EVNET_CENTRAL_OUTBOUND_H_
