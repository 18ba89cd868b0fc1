// The engine's journal in --state_dir: the running supply and the results
// Kafka has not acknowledged yet, written atomically (temp file, fsync,
// rename) so that a crash at any moment leaves the previous or the new copy.
#ifndef EVNET_CP_ENGINE_JOURNAL_H_
#define EVNET_CP_ENGINE_JOURNAL_H_

#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "evnet/v1/engine.pb.h"

namespace evnet {

class Journal {
 public:
  explicit Journal(std::string dir) : dir_(std::move(dir)) {}

  // Creates the folder if needed.
  [[nodiscard]] absl::Status Open();
  // The journal as last saved; empty when there is none. DATA_LOSS, naming
  // the file and what is wrong, when it cannot be read or makes no sense
  // (figures out of range, ids missing): the engine then refuses to start
  // rather than bill what it cannot trust.
  [[nodiscard]] absl::StatusOr<v1::EngineJournal> Load() const;
  [[nodiscard]] absl::Status Save(const v1::EngineJournal& journal) const;

  std::string path() const { return dir_ + "/journal.json"; }

 private:
  const std::string dir_;
};

// Writes the latest journal on its own thread, so that the engine never
// holds its lock across a write and an fsync: with a slow disk, a health
// check waiting behind the journal would report a fault that is not there.
// Each journal is the whole state, so a newer one replaces one still
// waiting. A crash loses at most the journal not yet written (milliseconds
// old); the one before it is on disk whole.
class JournalWriter {
 public:
  using Save = std::function<absl::Status(const v1::EngineJournal&)>;
  // `save` runs on the writer's thread; its errors are logged (and told to
  // whoever waits), and the next journal is written all the same.
  explicit JournalWriter(Save save);
  // Writes what is waiting, then stops.
  ~JournalWriter();

  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Returns at once, with the journal's number for Wait.
  uint64_t Post(v1::EngineJournal journal);
  // Waits until journal `seq`, or a newer one (which holds all it held), has
  // been written: OK when one of them is on disk, else why the last write
  // failed. Takes no lock of the caller's: call it with none held.
  [[nodiscard]] absl::Status Wait(uint64_t seq);
  // Waits until everything posted so far is written.
  void Flush();

 private:
  void Run();

  const Save save_;
  absl::Mutex mu_;
  std::optional<v1::EngineJournal> waiting_ ABSL_GUARDED_BY(mu_);
  uint64_t posted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;  // the newest journal tried
  uint64_t saved_ ABSL_GUARDED_BY(mu_) = 0;    // the newest on disk
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace evnet

#endif  // EVNET_CP_ENGINE_JOURNAL_H_
