// Central's side of Kafka: writes its decisions (the ledger record, the
// driver's update and the change to its open sessions, in one Kafka
// transaction) and registry records, rebuilds state at start from the
// registry, the enrolments, the id tokens, the open sessions (whole, however old) and the
// ledger's last minutes (for dedupe; never the whole history), then
// consumes requests, results and telemetry and hands them to the
// coordinator, on one thread it owns; a request waiting for its CP does not
// hold up the messages behind it.
#ifndef EVNET_CENTRAL_KAFKA_BRIDGE_H_
#define EVNET_CENTRAL_KAFKA_BRIDGE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "central/coordinator.h"
#include "central/driver_keys.h"
#include "central/enrolments.h"
#include "central/id_tokens.h"
#include "central/outbound.h"
#include "central/registry.h"
#include "central/request_signatures.h"
#include "central/revocations.h"
#include "common/trust/audit_log.h"
#include "common/clock.h"
#include "common/kafka/dead_letters.h"
#include "common/kafka/kafka_admin.h"
#include "common/kafka/kafka_dispatcher.h"
#include "common/kafka/kafka_producer.h"
#include "common/kafka/kafka_transactions.h"
#include "common/kafka/kafka_wake_list.h"
#include "common/trust/sealing.h"

namespace evnet {

// A decision goes to central's ledger as it is, to the driver sealed to its
// key when `seal_to` is given (Kafka authenticates: any driver may fetch the
// topic, only its own driver opens an update), and to the open sessions,
// all in one transaction. Progress goes to the driver alone, on `producer`.
class KafkaUpdatePublisher final : public UpdatePublisher {
 public:
  KafkaUpdatePublisher(KafkaProducer& producer, KafkaTransactions& transactions,
                       const DriverKeys* seal_to = nullptr)
      : producer_(producer), transactions_(transactions), seal_to_(seal_to) {}
  void Publish(const v1::DriverUpdate& update, Done done) override;
  void Commit(const Decision& decision, Done done) override;

 private:
  // What goes on evnet.driver.updates for `update` (whose JSON is `json`).
  absl::StatusOr<std::string> ForDriver(const v1::DriverUpdate& update, const std::string& json);

  KafkaProducer& producer_;
  KafkaTransactions& transactions_;
  const DriverKeys* const seal_to_;
  Sealer sealer_;
};

// Saves a driver's key to evnet.driver.keys (DriverKeys::Save).
void SaveDriverKey(KafkaProducer& producer, const v1::DriverKey& key);
// Writes a revoked certificate to evnet.certificates.revoked; `done` once stored.
void SaveRevocation(KafkaProducer& producer, const v1::RevokedCertificate& record, Done done);

class KafkaRegistryStore final : public RegistryStore {
 public:
  explicit KafkaRegistryStore(KafkaProducer& producer) : producer_(producer) {}
  void Save(const v1::CpRegistryRecord& record, Done done) override;

 private:
  KafkaProducer& producer_;
};

class KafkaIdTokenStore final : public IdTokenStore {
 public:
  explicit KafkaIdTokenStore(KafkaProducer& producer) : producer_(producer) {}
  void Save(const v1::IdToken& token, Done done) override;

 private:
  KafkaProducer& producer_;
};

class KafkaEnrolmentStore final : public EnrolmentStore {
 public:
  explicit KafkaEnrolmentStore(KafkaProducer& producer) : producer_(producer) {}
  void Save(const v1::Enrolment& enrolment, Done done) override;

 private:
  KafkaProducer& producer_;
};

// Every topic of the network, as central makes it when it is missing.
std::vector<KafkaTopicSpec> NetworkTopics();

struct KafkaBridgeOptions {
  std::string bootstrap_servers;
  std::string group_id = "evnet-central";
  // Further librdkafka properties of the consumers of the input topics.
  KafkaProperties consumer_properties;
  // Now() for the ledger's window (Kafka's timestamps are wall time),
  // Steady() for waits and durations; never null.
  const Clock* clock = &SystemClock::Get();
  // After rebuilding, how long to give monitors to report before serving
  // the requests that waited; cut short once every known CP has reported,
  // or when no more came back for `startup_quiet` (CPs retired for good
  // never report).
  absl::Duration startup_grace = absl::Seconds(3);
  absl::Duration startup_quiet = absl::Milliseconds(1500);
  // How far back central's ledger is read at start: its longest dedupe window.
  absl::Duration ledger_window = absl::Minutes(11);
  // OK once central's transactional producer holds its id: until then a
  // dead central's unfinished transaction may hide its open sessions from
  // the rebuild (read_committed readers wait for it to end).
  std::function<absl::Status()> decisions_ready = [] { return absl::OkStatus(); };
  // Writes records in one Kafka transaction (central's decisions producer):
  // used once, to import an earlier version's open sessions. Unset: no
  // import.
  std::function<void(std::vector<KafkaRecord>, Done)> commit;
  // The revoked driver and operator certificates: filled from Kafka at
  // start; a request signed with a revoked certificate is refused. May be null.
  Revocations* revocations = nullptr;
  // Drivers' id tokens: filled from Kafka at start. May be null.
  IdTokens* id_tokens = nullptr;
  // Bill only results signed by their CP's enrolled key (identities on).
  bool verify_results = false;
  // Where Kafka authenticates its clients: the network's CA (PEM). Then
  // central grants each role its permissions on the broker, and serves only
  // requests signed by their driver, with a certificate of this CA naming it.
  std::string kafka_ca_pem;
};

class KafkaBridge {
 public:
  KafkaBridge(KafkaBridgeOptions options, Registry& registry, RegistryStore& store,
              Enrolments& enrolments, DriverKeys& driver_keys, SessionCoordinator& coordinator,
              DeadLetters& dead_letters, AuditLog& audit);
  // Stops the thread and closes the consumer (committing what was handled).
  ~KafkaBridge();

  // Whether central's state is rebuilt, so that monitors and operators can
  // be served (/readyz). Driver requests wait in Kafka a little longer, for
  // the monitors to come back (`startup_grace`); gating readiness on the
  // monitors would keep them out where a load balancer follows /readyz.
  bool ready() const { return ready_.HasBeenNotified(); }
  // Messages on the input topics not yet handled; -1 until known.
  int64_t consumer_lag() const;

 private:
  void Run();
  // Retries `step` until it succeeds or the bridge stops; false if stopped.
  // The waits start at 50 ms (a producer still starting is ready within
  // milliseconds) and double up to a second (a broker that is away).
  bool Retry(const char* what, const std::function<absl::Status()>& step);
  absl::Status Rebuild();
  // An earlier version kept its open sessions on its ledger only: records
  // every session accepted there and not ended in evnet.central.sessions
  // (one transaction) and in the coordinator. Run while that topic has
  // never held a record.
  absl::Status ImportOpenSessionsFromLedger(std::vector<KafkaTopicPartition> ledger);
  void WaitForMonitors();
  // Reads `topics` with their own consumer until the bridge stops; its lag
  // goes to `lag_out`.
  void Serve(const std::vector<std::string>& topics, const std::string& client_id,
             std::atomic<int64_t>& lag_out);
  void Dispatch(const KafkaMessage& message, KafkaDone done);
  // OK when `result` is signed by the key of its CP's enrolled certificate;
  // INVALID_ARGUMENT (set aside, audited) otherwise.
  absl::Status CheckSignature(const v1::SessionResult& result) const;

  const KafkaBridgeOptions options_;
  Registry& registry_;
  RegistryStore& store_;
  Enrolments& enrolments_;
  DriverKeys& driver_keys_;
  SessionCoordinator& coordinator_;
  DeadLetters& dead_letters_;
  AuditLog& audit_;
  absl::Notification stop_;
  KafkaWakeList wake_;  // the consumers' polls, woken when stop_ is set
  absl::Notification ready_;
  std::atomic<int64_t> request_lag_{-1};
  std::atomic<int64_t> event_lag_{-1};
  // Requests that are not their driver's are set aside (and audited).
  RequestSignatures request_signatures_;
  std::thread thread_;           // rebuilds, then reads results and telemetry
  std::thread requests_thread_;  // started by thread_: reads driver requests
};

}  // namespace evnet

#endif  // EVNET_CENTRAL_KAFKA_BRIDGE_H_
