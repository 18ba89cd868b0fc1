#include "common/trust/audit_log.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/json_codec.h"
#include "common/proto_time.h"
#include "common/kafka/topics.h"
#include "glog/logging.h"

namespace evnet {

v1::AuditRecord AuditLog::Make(const Actor& actor, const std::string& action,
                               const std::string& target, const std::string& result,
                               const std::string& reason, absl::Time at) {
  // What outsiders wrote (a login name, a CP id) is kept, but never a
  // control character: a newline would forge a line where records are printed.
  auto clean = [](const std::string& text) {
    std::string out;
    for (char c : text.substr(0, 512)) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        absl::StrAppend(&out, "\\x", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
      } else {
        out += c;
      }
    }
    return out;
  };
  v1::AuditRecord record;
  *record.mutable_at() = ToProto(at);
  record.set_actor(clean(actor.name));
  record.set_source(clean(actor.source));
  record.set_action(clean(action));
  record.set_target(clean(target));
  record.set_result(result);
  record.set_reason(clean(reason));
  return record;
}

void AuditLog::Record(const Actor& actor, const std::string& action, const std::string& target,
                      const std::string& result, const std::string& reason) {
  Write(Make(actor, action, target, result, reason, clock_.Now()));
}

void AuditLog::RecordBoundedRefusal(const std::string& budget, const Actor& actor,
                                    const std::string& action, const std::string& target,
                                    const std::string& reason) {
  RecordBounded(budget, actor, action, target, "refused", reason);
}

void AuditLog::RecordBounded(const std::string& budget, const Actor& actor,
                             const std::string& action, const std::string& target,
                             const std::string& result, const std::string& reason) {
  const absl::Time now = clock_.Steady();
  uint64_t left_out = 0;
  {
    absl::MutexLock lock(&mu_);
    Budget& b = budgets_.try_emplace(budget, Budget{now}).first->second;
    if (now - b.window_start >= kRepeatWindow) {
      b.window_start = now;
      b.written = 0;
    }
    if (b.written >= kBudgetPerWindow) {
      ++b.left_out;
      return;
    }
    ++b.written;
    left_out = std::exchange(b.left_out, 0);
  }
  v1::AuditRecord record = Make(actor, action, target, result, reason, clock_.Now());
  if (left_out > 0) {  // after Make's cut at 512 characters, so that it is never cut off
    record.set_reason(absl::StrCat(record.reason(), " [and ", left_out, " more ",
                                   result == "refused" ? "refusals" : "records", " of ", budget,
                                   " before this one, not recorded one by one]"));
  }
  Write(std::move(record));
}

void AuditLog::RecordRetriedRefusal(const Actor& actor, const std::string& action,
                                    const std::string& target, const std::string& reason) {
  const absl::Time now = clock_.Steady();
  v1::AuditRecord record = Make(actor, action, target, "refused", reason, clock_.Now());
  {
    const std::string key = absl::StrCat(actor.name, "\n", action, "\n", target, "\n", reason);
    absl::MutexLock lock(&mu_);
    if (repeats_.size() > 10000) {  // forget what has not repeated lately
      absl::erase_if(repeats_, [now](const auto& entry) {
        return now - entry.second.written >= kRepeatWindow;
      });
    }
    auto [it, first] = repeats_.try_emplace(key, Repeats{now, 0});
    if (!first) {
      if (now - it->second.written < kRepeatWindow) {
        ++it->second.since;
        return;
      }
      record.set_repeats_since_last(it->second.since);
      it->second = Repeats{now, 0};
    }
  }
  Write(std::move(record));
}

void KafkaAuditLog::Write(v1::AuditRecord record) {
  record.set_program(program_);
  // Targets and reasons may quote what an outsider sent: escaped, so that a
  // record is one line.
  LOG(INFO) << program_ << " | AUDIT " << record.action() << " "
            << absl::CHexEscape(record.target()) << " by " << record.actor() << " from "
            << absl::CHexEscape(record.source()) << ": " << record.result()
            << (record.reason().empty() ? "" : " (" + absl::CHexEscape(record.reason()) + ")")
            << (record.repeats_since_last() == 0
                    ? ""
                    : absl::StrCat(", and ", record.repeats_since_last(),
                                   " times more since the last record"));
  const std::string json = ToJson(record);
  auto failed = [this, json](absl::Status delivered) {
    if (!delivered.ok()) {
      LOG(ERROR) << program_ << " | The audit record was not written to " << kAuditTopic << " ("
                 << delivered.message() << "): " << json;
    }
  };
  absl::Status queued = producer_.Produce(kAuditTopic, record.target(), json, failed);
  if (!queued.ok()) failed(queued);
}

std::vector<v1::AuditRecord> MemoryAuditLog::records() const {
  absl::MutexLock lock(&mu_);
  return records_;
}

std::vector<v1::AuditRecord> MemoryAuditLog::WaitFor(
    const std::function<bool(const v1::AuditRecord&)>& match, size_t count,
    absl::Duration timeout) const {
  std::vector<v1::AuditRecord> matching;
  auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    matching.clear();
    for (const v1::AuditRecord& r : records_) {
      if (match(r)) matching.push_back(r);
    }
    return matching.size() >= count;
  };
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  enough();
  return matching;
}

void MemoryAuditLog::Write(v1::AuditRecord record) {
  absl::MutexLock lock(&mu_);
  records_.push_back(std::move(record));
}

}  // namespace evnet
