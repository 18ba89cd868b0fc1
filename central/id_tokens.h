// Drivers' id tokens (RFID cards, app tokens), as central holds them: which
// driver each starts sessions for, and whether it may. Central records a
// change in Kafka (evnet.id.tokens) before it applies it here, and reads the
// topic back at start. OCPP compares idTags without regard to case, and so
// does this. Thread-safe; nothing here blocks, so MonitorLink's callbacks
// may ask.
#ifndef EVNET_CENTRAL_ID_TOKENS_H_
#define EVNET_CENTRAL_ID_TOKENS_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "evnet/v1/central.pb.h"

namespace evnet {

// OCPP 1.6's IdToken: at most 20 characters.
inline constexpr size_t kMaxIdTagLength = 20;

class IdTokens {
 public:
  // At start, from the topic; then FinishRestore.
  void Restore(const v1::IdToken& token);
  void FinishRestore();
  bool restored() const;

  // What a charger is told of `id_tag` at `now`: OCPP's status (Accepted,
  // Blocked, Expired, Invalid), and for an accepted one its expiry and
  // group; `driver_id` is set for an accepted one only.
  struct Verdict {
    v1::Authorization authorization;
    std::string driver_id;
  };
  Verdict Check(const std::string& id_tag, absl::Time now) const;

  // The record that `request` by `by` makes at `now`, once saved:
  // INVALID_ARGUMENT saying what is wrong with it; NOT_FOUND for a change
  // naming no driver of a token nobody added.
  absl::StatusOr<v1::IdToken> Putting(const v1::PutIdTokenRequest& request, const std::string& by,
                                      absl::Time now) const;
  // A saved change.
  void Apply(const v1::IdToken& token) { Restore(token); }

  // In id tag order (upper case), after `page_token`, at most `page_size`;
  // one driver's or, with an empty `driver_id`, all.
  v1::ListIdTokensResponse List(const v1::ListIdTokensRequest& request, size_t page_size) const;
  size_t size() const;

  // The key a token is kept under: its id tag in upper case.
  static std::string KeyOf(const std::string& id_tag);

 private:
  mutable absl::Mutex mu_;
  bool restored_ ABSL_GUARDED_BY(mu_) = false;
  absl::btree_map<std::string, v1::IdToken> by_tag_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_ID_TOKENS_H_
