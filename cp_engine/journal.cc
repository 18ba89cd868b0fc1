#include "cp_engine/journal.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/json_codec.h"
#include "common/validation.h"
#include "glog/logging.h"

namespace evnet {
namespace {

// What the engine would act on must make sense: a result it publishes from
// here is billed, and a running supply is billed when it ends.
absl::Status ValidateJournal(const v1::EngineJournal& journal) {
  for (int i = 0; i < journal.pending_results_size(); ++i) {
    const v1::SessionResult& result = journal.pending_results(i);
    if (absl::Status valid = ValidateSessionResult(result); !valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("pending result ", i, ": ", valid.message()));
    }
  }
  if (!journal.has_request()) return absl::OkStatus();
  const v1::StartSupplyRequest& request = journal.request();
  for (const absl::Status& valid :
       {ValidateId("request.session_id", request.session_id()),
        ValidateId("request.driver_id", request.driver_id()),
        request.request_id().empty() ? absl::OkStatus()
                                     : ValidateId("request.request_id", request.request_id()),
        ValidateSupply(journal.supply())}) {
    if (!valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("running supply: ", valid.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Journal::Open() { return MakePrivateDir(dir_); }

absl::StatusOr<v1::EngineJournal> Journal::Load() const {
  std::ifstream in(path());
  if (!in) return v1::EngineJournal();
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<v1::EngineJournal> journal = FromJson<v1::EngineJournal>(text.str());
  absl::Status valid = journal.ok() ? ValidateJournal(*journal) : journal.status();
  if (!valid.ok()) {
    return absl::DataLossError(
        absl::StrCat("the journal ", path(), " is damaged: ", valid.message()));
  }
  return journal;
}

absl::Status Journal::Save(const v1::EngineJournal& journal) const {
  return WriteFileDurably(path(), ToJson(journal));
}

JournalWriter::JournalWriter(Save save) : save_(std::move(save)), thread_([this] { Run(); }) {}

JournalWriter::~JournalWriter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

uint64_t JournalWriter::Post(v1::EngineJournal journal) {
  absl::MutexLock lock(&mu_);
  waiting_ = std::move(journal);
  return ++posted_;
}

absl::Status JournalWriter::Wait(uint64_t seq) {
  absl::MutexLock lock(&mu_);
  auto written = [this, seq]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return written_ >= seq; };
  mu_.Await(absl::Condition(&written));
  return saved_ >= seq ? absl::OkStatus() : last_error_;
}

void JournalWriter::Flush() {
  absl::MutexLock lock(&mu_);
  const uint64_t target = posted_;
  auto written = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return written_ >= target;
  };
  mu_.Await(absl::Condition(&written));
}

void JournalWriter::Run() {
  while (true) {
    v1::EngineJournal journal;
    uint64_t seq = 0;
    {
      absl::MutexLock lock(&mu_);
      auto work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return waiting_.has_value() || stopping_;
      };
      mu_.Await(absl::Condition(&work));
      if (!waiting_.has_value()) return;  // stopping, and everything is written
      journal = std::move(*waiting_);
      waiting_.reset();
      seq = posted_;
    }
    absl::Status saved = save_(journal);  // no lock held: the slow part
    if (!saved.ok()) LOG(ERROR) << "cannot journal: " << saved;
    absl::MutexLock lock(&mu_);
    written_ = seq;
    if (saved.ok()) {
      saved_ = seq;
    } else {
      last_error_ = saved;
    }
  }
}

}  // namespace evnet
