// The audit log: one record per security-relevant event, on evnet.audit and
// in the program's log ("AUDIT ..."), so that an operator can answer "who
// did what, from where, and was it allowed" after the fact.
#ifndef EVNET_COMMON_AUDIT_LOG_H_
#define EVNET_COMMON_AUDIT_LOG_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/kafka/kafka_producer.h"
#include "evnet/v1/events.pb.h"

namespace evnet {

// Who acted, and from where (a peer address as gRPC or HTTP gives it).
struct Actor {
  std::string name;
  std::string source;
};

class AuditLog {
 public:
  explicit AuditLog(const Clock& clock = SystemClock::Get()) : clock_(clock) {}
  virtual ~AuditLog() = default;
  // Records `action` on `target` by `actor`; `result` is "done", "refused"
  // or "failed", `reason` says why for a person. Never blocks.
  void Record(const Actor& actor, const std::string& action, const std::string& target,
              const std::string& result, const std::string& reason = "");
  // A refusal its actor will retry on its own (a refused monitor reconnects
  // every second): the same one again within kRepeatWindow is counted, not
  // written (the next record of it says how many).
  void RecordRetriedRefusal(const Actor& actor, const std::string& action,
                            const std::string& target, const std::string& reason);

  // A refusal of what anyone may send as often as they like (a message set
  // aside on a topic): at most kBudgetPerWindow records under `budget` are
  // written in each kRepeatWindow, so that a flood cannot fill the log kept a
  // year. The rest are counted, and the first record written after them says
  // how many were left out (what was refused is kept elsewhere, on the
  // dead-letter topic).
  void RecordBoundedRefusal(const std::string& budget, const Actor& actor,
                            const std::string& action, const std::string& target,
                            const std::string& reason);
  // The same for any record its actor may send as often as it likes (a
  // charger's security events).
  void RecordBounded(const std::string& budget, const Actor& actor, const std::string& action,
                     const std::string& target, const std::string& result,
                     const std::string& reason);

  static constexpr absl::Duration kRepeatWindow = absl::Minutes(1);
  static constexpr int kBudgetPerWindow = 60;

 protected:
  virtual void Write(v1::AuditRecord record) = 0;

 private:
  static v1::AuditRecord Make(const Actor& actor, const std::string& action,
                              const std::string& target, const std::string& result,
                              const std::string& reason, absl::Time at);

  struct Repeats {
    absl::Time written;
    uint32_t since = 0;
  };
  struct Budget {
    absl::Time window_start;
    int written = 0;
    uint64_t left_out = 0;
  };
  const Clock& clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Repeats> repeats_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Budget> budgets_ ABSL_GUARDED_BY(mu_);
};

// On evnet.audit, keyed by target, and in the log. A record Kafka does not
// take is logged as an error with the whole record, so the log keeps it.
class KafkaAuditLog final : public AuditLog {
 public:
  KafkaAuditLog(KafkaProducer& producer, std::string program,
                const Clock& clock = SystemClock::Get())
      : AuditLog(clock), producer_(producer), program_(std::move(program)) {}

 protected:
  void Write(v1::AuditRecord record) override;

 private:
  KafkaProducer& producer_;
  const std::string program_;
};

// Keeps the records in memory: for tests.
class MemoryAuditLog final : public AuditLog {
 public:
  explicit MemoryAuditLog(const Clock& clock = SystemClock::Get()) : AuditLog(clock) {}
  std::vector<v1::AuditRecord> records() const;
  // Waits until at least `count` records satisfy `match`, at most `timeout`;
  // returns those that do.
  std::vector<v1::AuditRecord> WaitFor(const std::function<bool(const v1::AuditRecord&)>& match,
                                       size_t count, absl::Duration timeout) const;

 protected:
  void Write(v1::AuditRecord record) override;

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::AuditRecord> records_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_COMMON_AUDIT_LOG_H_
