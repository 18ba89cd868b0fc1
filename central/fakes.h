// In-memory stand-ins for what central sends out (outbound.h), for its unit
// tests and fuzzers: one of each, so that every test fakes Kafka and the
// monitor links the same way. Not thread-safe unless said: a test drives
// them from its own thread, or under `mu` where a gRPC thread calls them.
#ifndef EVNET_CENTRAL_FAKES_H_
#define EVNET_CENTRAL_FAKES_H_

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "central/outbound.h"

namespace evnet {

// Answers every command at once with `status` (after its precondition), or,
// with `hold`, keeps it for the test to answer later (a CP that has not
// answered yet).
class FakeCommandSender : public CommandSender {
 public:
  void SendCommand(const std::string& cp_id, v1::CentralCommand command, absl::Duration,
                   std::function<absl::Status()> precondition, Done done) override {
    if (hold) {
      held.push_back({cp_id, command, std::move(precondition), std::move(done)});
      return;
    }
    if (absl::Status ok = precondition(); !ok.ok()) return done(ok);
    sent.push_back({cp_id, command});
    done(status);
  }
  // Queues the held command `i` (if its precondition holds) and answers it.
  void Answer(size_t i, absl::Status answer) {
    Held& h = held[i];
    if (absl::Status ok = h.precondition(); !ok.ok()) return h.done(ok);
    sent.push_back({h.cp_id, h.command});
    h.done(answer);
  }
  struct Held {
    std::string cp_id;
    v1::CentralCommand command;
    std::function<absl::Status()> precondition;
    Done done;
  };
  std::vector<std::pair<std::string, v1::CentralCommand>> sent;
  std::vector<Held> held;
  absl::Status status;
  bool hold = false;
};

// Keeps every update and decision it was given, all or nothing as Kafka's
// transactions do: while `status` is an error, nothing. With `hold`,
// decisions wait in `queued` (a slow transaction) until Release.
class FakeUpdatePublisher : public UpdatePublisher {
 public:
  void Publish(const v1::DriverUpdate& update, Done done) override {
    if (status.ok()) updates.push_back(update);
    done(status);
  }
  void Commit(const Decision& decision, Done done) override {
    if (hold) {
      queued.push_back({decision, std::move(done)});
      return;
    }
    if (status.ok()) {
      decisions.push_back(decision);
      for (const v1::DriverUpdate& update : decision.updates) updates.push_back(update);
      if (decision.open.has_value()) held[decision.open->session_id()] = *decision.open;
      if (!decision.closed_session_id.empty()) held.erase(decision.closed_session_id);
    }
    done(status);
  }
  std::vector<v1::UpdateKind> kinds() const {
    std::vector<v1::UpdateKind> out;
    for (const auto& u : updates) out.push_back(u.kind());
    return out;
  }
  // Writes the held decisions, in the order they were committed.
  void Release() {
    hold = false;
    std::vector<std::pair<Decision, Done>> now = std::move(queued);
    queued.clear();
    for (auto& [decision, done] : now) Commit(decision, std::move(done));
  }
  std::vector<v1::DriverUpdate> updates;
  std::vector<Decision> decisions;
  bool hold = false;
  std::vector<std::pair<Decision, Done>> queued;
  // As evnet.central.sessions would hold it, by session id.
  std::map<std::string, v1::OpenSession> held;
  absl::Status status;
};

// Saves registry records, enrolments and id tokens with `status`; with `hold`, keeps
// their `done` until Release (Kafka's delivery report, later).
// Thread-safe: central's gRPC threads save through it.
class FakeStore : public RegistryStore, public EnrolmentStore, public IdTokenStore {
 public:
  void Save(const v1::CpRegistryRecord&, Done done) override { Saved(std::move(done)); }
  void Save(const v1::Enrolment& enrolment, Done done) override {
    {
      absl::MutexLock lock(&mu);
      enrolments.push_back(enrolment);
    }
    Saved(std::move(done));
  }
  void Save(const v1::IdToken& token, Done done) override {
    {
      absl::MutexLock lock(&mu);
      id_tokens.push_back(token);
    }
    Saved(std::move(done));
  }
  void Release() {
    std::vector<Done> now;
    absl::Status answer;
    {
      absl::MutexLock lock(&mu);
      now.swap(held);
      hold = false;
      answer = status;
    }
    for (Done& done : now) done(answer);
  }
  absl::Mutex mu;
  absl::Status status ABSL_GUARDED_BY(mu);
  bool hold ABSL_GUARDED_BY(mu) = false;
  std::vector<Done> held ABSL_GUARDED_BY(mu);
  std::vector<v1::Enrolment> enrolments ABSL_GUARDED_BY(mu);
  std::vector<v1::IdToken> id_tokens ABSL_GUARDED_BY(mu);

 private:
  void Saved(Done done) {
    absl::Status answer;
    {
      absl::MutexLock lock(&mu);
      if (hold) return held.push_back(std::move(done));
      answer = status;
    }
    done(answer);
  }
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_FAKES_H_
