// The engine's journal in --state_dir: the running supply and the results
// Kafka has not acknowledged yet, written atomically (temp file, fsync,
// rename) so that a crash at any moment leaves the previous or the new copy.
#ifndef EVNET_CP_ENGINE_JOURNAL_H_
#define EVNET_CP_ENGINE_JOURNAL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evnet/v1/engine.pb.h"

namespace evnet {

class Journal {
 public:
  explicit Journal(std::string dir) : dir_(std::move(dir)) {}

  // Creates the folder if needed.
  [[nodiscard]] absl::Status Open();
  // The journal as last saved; empty when there is none.
  [[nodiscard]] absl::StatusOr<v1::EngineJournal> Load() const;
  [[nodiscard]] absl::Status Save(const v1::EngineJournal& journal) const;

  std::string path() const { return dir_ + "/journal.json"; }

 private:
  const std::string dir_;
};

}  // namespace evnet

#endif  // EVNET_CP_ENGINE_JOURNAL_H_
