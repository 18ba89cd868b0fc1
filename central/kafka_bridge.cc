#include "central/kafka_bridge.h"

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_codec.h"
#include "common/kafka/kafka_admin.h"
#include "common/kafka/kafka_consumer.h"
#include "common/kafka/kafka_reader.h"
#include "common/trust/peer_identity.h"
#include "common/trust/sealing.h"
#include "common/trust/signing.h"
#include "common/validation.h"
#include "common/kafka/kafka_dispatcher.h"
#include "common/kafka/topics.h"
#include "common/trust/transport_security.h"
#include "glog/logging.h"

namespace evnet {
namespace {

constexpr absl::Duration kKafkaTimeout = absl::Seconds(10);

// A message's JSON, or INVALID_ARGUMENT saying why it is not one: a
// malformed message is set aside, never allowed to block its topic.
template <typename T>
absl::StatusOr<T> Parse(const KafkaMessage& message) {
  absl::StatusOr<T> parsed = FromJson<T>(message.value);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("malformed: ", parsed.status().message()));
  }
  return parsed;
}

}  // namespace

namespace {

// What an output's failure means for the input that caused it: Kafka
// refusing what central writes (a message too large, say) says nothing about
// the input, so it is never INVALID_ARGUMENT, which would set the input
// aside as malformed; it is retried, and set aside only as failing.
Done AsOutput(Done done) {
  return [done = std::move(done)](absl::Status status) {
    if (absl::IsInvalidArgument(status)) {
      status = absl::InternalError(absl::StrCat("central cannot write it: ", status.message()));
    }
    done(std::move(status));
  };
}

void ProduceOrFail(KafkaProducer& producer, absl::string_view topic, const std::string& key,
                   const std::string& value, Done done) {
  // On success the delivery report runs `done`; on failure it was never queued.
  auto shared = std::make_shared<Done>(AsOutput(std::move(done)));
  absl::Status queued =
      producer.Produce(topic, key, value, [shared](absl::Status delivered) { (*shared)(delivered); });
  if (!queued.ok()) (*shared)(queued);
}

}  // namespace

absl::StatusOr<std::string> KafkaUpdatePublisher::ForDriver(const v1::DriverUpdate& update,
                                                            const std::string& json) {
  if (seal_to_ == nullptr) return json;
  absl::StatusOr<std::string> key = seal_to_->KeyOf(update.driver_id());
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> sealed = sealer_.Seal(*key, json);
  if (!sealed.ok()) return sealed.status();
  // Only whom it is for shows: its id would tell the request and the kind.
  v1::DriverUpdate envelope;
  envelope.set_driver_id(update.driver_id());
  envelope.set_sealed(*std::move(sealed));
  return ToJson(envelope);
}

void KafkaUpdatePublisher::Publish(const v1::DriverUpdate& update, Done done) {
  absl::StatusOr<std::string> for_driver = ForDriver(update, ToJson(update));
  if (!for_driver.ok()) {
    VLOG(1) << "update " << update.update_id() << " not sent: " << for_driver.status();
    return done(absl::OkStatus());  // progress: the next one may go
  }
  ProduceOrFail(producer_, kDriverUpdatesTopic, update.driver_id(), *for_driver, std::move(done));
}

void KafkaUpdatePublisher::Commit(const Decision& decision, Done done) {
  std::vector<KafkaRecord> records;
  for (const v1::DriverUpdate& update : decision.updates) {
    const std::string json = ToJson(update);
    records.push_back({kCentralLedgerTopic, update.request_id(), json});
    absl::StatusOr<std::string> for_driver = ForDriver(update, json);
    if (!for_driver.ok()) {
      // Never in the clear: the decision is on the ledger (and ListSessions)
      // but the driver is not told. Only a driver whose key was lost from
      // evnet.driver.keys gets here; its next request teaches it again.
      LOG(ERROR) << "Central | Update " << update.update_id() << " not sent to "
                 << update.driver_id() << ": " << for_driver.status().message();
      continue;
    }
    records.push_back({kDriverUpdatesTopic, update.driver_id(), *std::move(for_driver)});
  }
  if (decision.open.has_value()) {
    records.push_back(
        {kCentralSessionsTopic, decision.open->session_id(), ToJson(*decision.open)});
  }
  if (!decision.closed_session_id.empty()) {
    records.push_back({kCentralSessionsTopic, decision.closed_session_id, std::nullopt});
  }
  if (records.empty()) return done(absl::OkStatus());
  transactions_.Commit(std::move(records), AsOutput(std::move(done)));
}

void KafkaRegistryStore::Save(const v1::CpRegistryRecord& record, Done done) {
  ProduceOrFail(producer_, kCpRegistryTopic, record.info().cp_id(), ToJson(record),
                std::move(done));
}

void KafkaEnrolmentStore::Save(const v1::Enrolment& enrolment, Done done) {
  ProduceOrFail(producer_, kCpEnrolmentsTopic, enrolment.cp_id(), ToJson(enrolment),
                std::move(done));
}

void KafkaIdTokenStore::Save(const v1::IdToken& token, Done done) {
  ProduceOrFail(producer_, kIdTokensTopic, IdTokens::KeyOf(token.id_tag()), ToJson(token),
                std::move(done));
}

void SaveDriverKey(KafkaProducer& producer, const v1::DriverKey& key) {
  ProduceOrFail(producer, kDriverKeysTopic, key.driver_id(), ToJson(key),
                [driver = key.driver_id()](absl::Status saved) {
                  // Kept in memory regardless; lost only if central restarts
                  // before the driver's next request.
                  if (!saved.ok()) {
                    LOG(WARNING) << "Central | Key of " << driver << " not saved: " << saved;
                  }
                });
}

void SaveRevocation(KafkaProducer& producer, const v1::RevokedCertificate& record, Done done) {
  ProduceOrFail(producer, kRevokedCertificatesTopic, record.certificate_sha256(), ToJson(record),
                std::move(done));
}

KafkaBridge::KafkaBridge(KafkaBridgeOptions options, Registry& registry, RegistryStore& store,
                         Enrolments& enrolments, DriverKeys& driver_keys,
                         SessionCoordinator& coordinator, DeadLetters& dead_letters,
                         AuditLog& audit)
    : options_(std::move(options)),
      registry_(registry),
      store_(store),
      enrolments_(enrolments),
      driver_keys_(driver_keys),
      coordinator_(coordinator),
      dead_letters_(dead_letters),
      audit_(audit),
      request_signatures_(options_.kafka_ca_pem, options_.revocations, driver_keys, *options_.clock),
      thread_([this] { Run(); }) {}

KafkaBridge::~KafkaBridge() {
  stop_.Notify();
  wake_.WakeAll();
  thread_.join();  // after it started requests_thread_, if it did
  if (requests_thread_.joinable()) requests_thread_.join();
}

int64_t KafkaBridge::consumer_lag() const {
  const int64_t requests = request_lag_, events = event_lag_;
  if (requests < 0 && events < 0) return -1;
  return std::max<int64_t>(requests, 0) + std::max<int64_t>(events, 0);
}

bool KafkaBridge::Retry(const char* what, const std::function<absl::Status()>& step) {
  std::string last;
  absl::Duration wait = absl::Milliseconds(50);
  while (!stop_.HasBeenNotified()) {
    absl::Status status = step();
    if (status.ok()) return true;
    if (std::string(status.message()) != last) {
      LOG(WARNING) << "Central | " << what << ": " << status.message() << "; retrying";
      last = std::string(status.message());
    }
    stop_.WaitForNotificationWithTimeout(wait);
    wait = std::min(2 * wait, absl::Seconds(1));
  }
  return false;
}

namespace {

// What each role may do where the broker authorizes (tools/kafka/broker
// --tls); central is a super user there, and nobody else may do anything:
// only engines write telemetry and results (and read the revoked
// certificates), only drivers write requests and read updates, operators
// read the audit log and the set-aside messages, and only central writes
// updates, the registry, the ledger, enrolments and the audit log.
//
// Each driver is a principal of its own (User:driver.<id>), so that Kafka's
// quota per user is a quota per driver; Kafka's ACLs name no pattern of
// principals, so a driver's two permissions go to everyone ("*") and are
// denied, with the DESCRIBE they imply, to each other role and to a
// certificate the broker maps to no role ("unmapped"), which no allow
// overrides.
std::vector<KafkaAcl> NetworkPermissions() {
  using A = KafkaAcl;
  std::vector<KafkaAcl> acls = {
      {A::kTopic, kSupplyTelemetryTopic, false, kRoleCp, A::kWrite},
      {A::kTopic, kSessionResultsTopic, false, kRoleCp, A::kWrite},
      // An engine that lets operators simulate refuses revoked ones.
      {A::kTopic, kRevokedCertificatesTopic, false, kRoleCp, A::kRead},
      // An OCPP gateway writes for its chargers, signing with their keys.
      {A::kTopic, kSupplyTelemetryTopic, false, kRoleGateway, A::kWrite},
      {A::kTopic, kSessionResultsTopic, false, kRoleGateway, A::kWrite},
      {A::kTopic, kOcppChargersTopic, false, kRoleGateway, A::kWrite},
      {A::kTopic, kOcppChargersTopic, false, kRoleGateway, A::kRead},
      // ... and pushes drivers' cards to their local lists.
      {A::kTopic, kIdTokensTopic, false, kRoleGateway, A::kRead},
      {A::kTopic, kAuditTopic, false, kRoleOperator, A::kRead},
      {A::kTopic, kDeadLetterTopic, false, kRoleOperator, A::kRead},
      // Every driver.
      {A::kTopic, kDriverRequestsTopic, false, "*", A::kWrite},
      {A::kTopic, kDriverUpdatesTopic, false, "*", A::kRead},
  };
  for (const char* role : {kRoleCp, kRoleGateway, kRoleOperator, "unmapped"}) {
    for (const char* topic : {kDriverRequestsTopic, kDriverUpdatesTopic}) {
      for (A::Operation operation : {A::kRead, A::kWrite, A::kDescribe}) {
        acls.push_back({A::kTopic, topic, false, role, operation, A::kDeny});
      }
    }
  }
  return acls;
}

// What earlier versions granted and this one takes back: every driver's
// certificate could read and commit in every driver's consumer group (and
// so move another driver's offsets past its tickets); drivers now keep
// their place themselves, without a group.
std::vector<KafkaAcl> RevokedPermissions() {
  return {{KafkaAcl::kGroup, "evnet-driver-", true, kRoleDriver, KafkaAcl::kRead},
          // Drivers were one principal, User:driver, before each had its own.
          {KafkaAcl::kTopic, kDriverRequestsTopic, false, kRoleDriver, KafkaAcl::kWrite},
          {KafkaAcl::kTopic, kDriverUpdatesTopic, false, kRoleDriver, KafkaAcl::kRead}};
}

}  // namespace

std::vector<KafkaTopicSpec> NetworkTopics() {
  return {
      {kDriverRequestsTopic, kTopicPartitions, false},
      {kDriverUpdatesTopic, kTopicPartitions, false},
      {kSupplyTelemetryTopic, kTopicPartitions, false},
      {kSessionResultsTopic, kTopicPartitions, false},
      {kCpRegistryTopic, 1, true},
      {kCpEnrolmentsTopic, 1, true},
      {kIdTokensTopic, 1, true},
      {kDriverKeysTopic, 1, true},
      {kRevokedCertificatesTopic, 1, true},
      {kOcppChargersTopic, 1, true},
      // A week: the books (books/) follow it, and may be behind that long.
      {kCentralLedgerTopic, kTopicPartitions, false, absl::Hours(24 * 7)},
      {kCentralSessionsTopic, kTopicPartitions, true},
      {kDeadLetterTopic, kTopicPartitions, false},
      {kAuditTopic, 1, false, absl::Hours(24 * 365)},
  };
}

void KafkaBridge::Run() {
  const std::vector<KafkaTopicSpec> topics = NetworkTopics();
  bool ok = Retry("Kafka topics", [&] {
    absl::StatusOr<std::unique_ptr<KafkaAdmin>> admin = KafkaAdmin::Create(options_.bootstrap_servers);
    if (!admin.ok()) return admin.status();
    if (absl::Status made = (*admin)->EnsureTopics(topics, kKafkaTimeout); !made.ok()) return made;
    if (options_.kafka_ca_pem.empty()) return absl::OkStatus();
    absl::Status granted = (*admin)->EnsureAcls(NetworkPermissions(), kKafkaTimeout);
    if (granted.ok()) granted = (*admin)->RevokeAcls(RevokedPermissions(), kKafkaTimeout);
    if (absl::IsFailedPrecondition(granted)) {
      LOG(WARNING) << "Central | " << granted.message()
                   << "; every client with a certificate of the network may do anything";
      return absl::OkStatus();
    }
    return granted;
  });
  if (!ok || !Retry("Central's transactional producer", options_.decisions_ready) ||
      !Retry("Rebuilding state from Kafka", [&] { return Rebuild(); })) {
    return;
  }
  coordinator_.FinishRestore();
  enrolments_.FinishRestore();
  if (options_.revocations != nullptr) options_.revocations->FinishRestore();
  if (options_.id_tokens != nullptr) options_.id_tokens->FinishRestore();
  for (const v1::CpRegistryRecord& record : registry_.FinishRestore()) {
    if (!Retry("Recording a CP in Kafka",
               [&] {
                 return Await([&](Done done) { store_.Save(record, std::move(done)); },
                              kKafkaTimeout);
               })) {
      return;
    }
  }
  ready_.Notify();
  WaitForMonitors();
  // Requests on their own consumer: a backlog of telemetry (thousands a
  // second in a busy network) never delays a driver's request.
  requests_thread_ = std::thread([this] {
    Serve({kDriverRequestsTopic}, "central-requests", request_lag_);
  });
  Serve({kSessionResultsTopic, kSupplyTelemetryTopic}, "central", event_lag_);
}

absl::Status KafkaBridge::Rebuild() {
  const absl::Time started = options_.clock->Steady();
  absl::StatusOr<std::unique_ptr<KafkaAdmin>> admin = KafkaAdmin::Create(options_.bootstrap_servers);
  if (!admin.ok()) return admin.status();
  absl::StatusOr<std::vector<KafkaTopicPartition>> partitions =
      (*admin)->Partitions(
          {kCpRegistryTopic, kCpEnrolmentsTopic, kIdTokensTopic, kDriverKeysTopic,
           kRevokedCertificatesTopic,
           kCentralSessionsTopic, kCentralLedgerTopic},
          kKafkaTimeout);
  if (!partitions.ok()) return partitions.status();
  // What central must remember about CPs and its open sessions: compacted
  // topics, one record each, read whole. Its decisions within the dedupe
  // windows: however long the history, this is what the last minutes held.
  const absl::Time since = options_.clock->Now() - options_.ledger_window;
  for (KafkaTopicPartition& tp : *partitions) {
    if (tp.topic == kCentralLedgerTopic) tp.since = since;
  }
  KafkaReaderOptions options;
  options.bootstrap_servers = options_.bootstrap_servers;
  options.client_id = "central-rebuild";
  options.partitions = *std::move(partitions);
  absl::StatusOr<std::unique_ptr<KafkaReader>> reader = KafkaReader::Create(options);
  if (!reader.ok()) return reader.status();
  int cps = 0, enrolments = 0, decisions = 0, session_records = 0;
  absl::Status read = (*reader)->ReadToEnd(absl::Seconds(60), [&](const KafkaMessage& m) {
    if (m.topic == kCpRegistryTopic) {
      if (auto record = Parse<v1::CpRegistryRecord>(m); record.ok() && !record->info().cp_id().empty()) {
        registry_.Restore(*record);
        ++cps;
      }
    } else if (m.topic == kCpEnrolmentsTopic) {
      if (auto enrolment = Parse<v1::Enrolment>(m); enrolment.ok() && !enrolment->cp_id().empty()) {
        enrolments_.Restore(*enrolment);
        ++enrolments;
      }
    } else if (m.topic == kIdTokensTopic) {
      if (auto token = Parse<v1::IdToken>(m);
          token.ok() && !token->id_tag().empty() && options_.id_tokens != nullptr) {
        options_.id_tokens->Restore(*token);
      }
    } else if (m.topic == kDriverKeysTopic) {
      if (auto key = Parse<v1::DriverKey>(m); key.ok() && !key->driver_id().empty()) {
        driver_keys_.Restore(*key);
      }
    } else if (m.topic == kRevokedCertificatesTopic) {
      if (auto revoked = Parse<v1::RevokedCertificate>(m);
          revoked.ok() && !revoked->certificate_sha256().empty() && options_.revocations != nullptr) {
        options_.revocations->Restore(*revoked);
      }
    } else if (m.topic == kCentralSessionsTopic) {
      ++session_records;
      if (m.value.empty()) {
        coordinator_.RestoreClosedSession(m.key);
      } else if (auto open = Parse<v1::OpenSession>(m); open.ok() && open->session_id() == m.key) {
        coordinator_.RestoreOpenSession(*open);
      } else {
        LOG(ERROR) << "Central | Unreadable open session " << m.key << " in "
                   << kCentralSessionsTopic << " (offset " << m.offset << ") ignored";
      }
    } else if (m.timestamp >= since) {  // else written late, stamped before
      if (auto update = Parse<v1::DriverUpdate>(m); update.ok()) {
        coordinator_.RestoreUpdate(*update);
        ++decisions;
      }
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  // A sessions topic that never held a record (its every partition ends at
  // offset 0; compaction never moves an end back) next to a ledger that
  // did: central was upgraded from a version without it.
  bool sessions_new = true, ledger_used = false;
  std::vector<KafkaTopicPartition> ledger;
  for (const KafkaTopicPartition& tp : options.partitions) {
    const int64_t end = (*reader)->Position(tp.topic, tp.partition);
    if (tp.topic == kCentralSessionsTopic && end != 0) sessions_new = false;
    if (tp.topic == kCentralLedgerTopic) {
      ledger.push_back({tp.topic, tp.partition});
      ledger_used |= end > 0;
    }
  }
  if (sessions_new && ledger_used) {
    if (absl::Status imported = ImportOpenSessionsFromLedger(std::move(ledger)); !imported.ok()) {
      return imported;
    }
  }
  LOG(INFO) << "Central | Rebuilt from Kafka in " << absl::FormatDuration(options_.clock->Steady() - started)
            << ": " << registry_.size() << " CPs (" << cps << " records), " << enrolments
            << " enrolment records, " << session_records << " open-session records, "
            << coordinator_.RunningSessions() << " sessions open, " << decisions
            << " decisions of the last " << absl::FormatDuration(options_.ledger_window);
  return absl::OkStatus();
}

absl::Status KafkaBridge::ImportOpenSessionsFromLedger(std::vector<KafkaTopicPartition> ledger) {
  if (!options_.commit) return absl::OkStatus();
  KafkaReaderOptions options;
  options.bootstrap_servers = options_.bootstrap_servers;
  options.client_id = "central-import";
  options.partitions = std::move(ledger);  // whole, whatever its retention kept
  absl::StatusOr<std::unique_ptr<KafkaReader>> reader = KafkaReader::Create(options);
  if (!reader.ok()) return reader.status();
  std::map<std::string, v1::DriverUpdate> accepted;  // by session id, not ended
  absl::Status read = (*reader)->ReadToEnd(absl::Seconds(60), [&](const KafkaMessage& m) {
    absl::StatusOr<v1::DriverUpdate> update = Parse<v1::DriverUpdate>(m);
    if (!update.ok() || update->session_id().empty()) return absl::OkStatus();
    if (update->kind() == v1::UPDATE_KIND_ACCEPTED) {
      accepted[update->session_id()] = *update;
    } else if (update->kind() == v1::UPDATE_KIND_ENDED ||
               update->kind() == v1::UPDATE_KIND_REJECTED) {
      // Ticketed, or a start that failed (never billed: should its CP still
      // run it, reconciliation stops it as unasked).
      accepted.erase(update->session_id());
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  if (accepted.empty()) return absl::OkStatus();
  std::vector<v1::OpenSession> opened;
  std::vector<KafkaRecord> records;
  for (const auto& [id, update] : accepted) {
    opened.push_back(coordinator_.RecordOfAccepted(update));
    records.push_back({kCentralSessionsTopic, id, ToJson(opened.back())});
  }
  // All or none: a crash before the commit finds the topic new again.
  absl::Status committed = Await(
      [&](Done done) { options_.commit(std::move(records), std::move(done)); }, kKafkaTimeout);
  if (!committed.ok()) return committed;
  for (const v1::OpenSession& record : opened) coordinator_.RestoreOpenSession(record);
  LOG(WARNING) << "Central | " << kCentralSessionsTopic << " was new: imported " << opened.size()
               << " open session(s) from the ledger of an earlier version";
  return absl::OkStatus();
}

void KafkaBridge::WaitForMonitors() {
  const Clock& clock = *options_.clock;
  const absl::Time deadline = clock.Steady() + options_.startup_grace;
  int reported = 0;
  absl::Time grew = clock.Steady();
  while (clock.Steady() < deadline && !stop_.HasBeenNotified()) {
    std::map<v1::CpStatus, int> counts = registry_.CountByStatus();
    if (counts[v1::CP_STATUS_DISCONNECTED] == 0) return;
    int now_reported = 0;
    for (const auto& [status, count] : counts) {
      if (status != v1::CP_STATUS_DISCONNECTED) now_reported += count;
    }
    if (now_reported > reported) {
      reported = now_reported;
      grew = clock.Steady();
    } else if (reported > 0 && clock.Steady() - grew >= options_.startup_quiet) {
      return;  // every monitor that is alive has had time to come back
    }
    stop_.WaitForNotificationWithTimeout(absl::Milliseconds(100));
  }
}

void KafkaBridge::Serve(const std::vector<std::string>& topics, const std::string& client_id,
                        std::atomic<int64_t>& lag_out) {
  std::unique_ptr<KafkaConsumer> consumer;
  const std::string what = absl::StrCat("Reading ", absl::StrJoin(topics, ", "));
  if (!Retry(what.c_str(), [&]() -> absl::Status {
        absl::StatusOr<std::unique_ptr<KafkaAdmin>> admin =
            KafkaAdmin::Create(options_.bootstrap_servers);
        if (!admin.ok()) return admin.status();
        absl::StatusOr<std::vector<KafkaTopicPartition>> partitions =
            (*admin)->Partitions(topics, kKafkaTimeout);
        if (!partitions.ok()) return partitions.status();
        KafkaConsumerOptions options;
        options.bootstrap_servers = options_.bootstrap_servers;
        options.group_id = options_.group_id;
        options.client_id = client_id;
        options.partitions = *partitions;
        options.properties = options_.consumer_properties;
        absl::StatusOr<std::unique_ptr<KafkaConsumer>> created = KafkaConsumer::Create(options);
        if (!created.ok()) return created.status();
        consumer = *std::move(created);
        return absl::OkStatus();
      })) {
    return;
  }
  if (topics.front() == kDriverRequestsTopic) LOG(INFO) << "Central | Serving driver requests";
  {
    // Ends before Close: a wake during the close would cut it short.
    const KafkaWakeList::Entry polling = wake_.Add(*consumer);
    KafkaDispatcherOptions dispatch;
    dispatch.clock = options_.clock;
    dispatch.set_aside = [this](const KafkaMessage& m, const absl::Status& reason,
                                KafkaDone done) {
      // Refused for good: malformed, invalid, or forged (a result for a
      // session central did not start, or from another CP). Audited once,
      // when it is on the dead-letter topic (setting aside may be retried);
      // a flood is audited up to a budget per topic, and counted beyond it.
      dead_letters_.SetAside(m, reason, [this, m, reason, done](absl::Status kept) {
        if (kept.ok()) {
          audit_.RecordBoundedRefusal(
              m.topic,
              {absl::StrCat("producer of ", m.topic),
               absl::StrCat(m.topic, "/", m.partition, "@", m.offset)},
              "message", m.key, std::string(reason.message()));
        }
        done(kept);
      });
    };
    KafkaDispatcher dispatcher(
        *consumer,
        [this](const KafkaMessage& m, KafkaDone done) { Dispatch(m, std::move(done)); },
        std::move(dispatch));
    std::string last_error;
    while (!stop_.HasBeenNotified()) {
      absl::Status polled = dispatcher.Poll(absl::Milliseconds(100));
      if (absl::StatusOr<int64_t> lag = consumer->Lag(); lag.ok()) lag_out = *lag;
      if (polled.ok()) continue;
      if (std::string(polled.message()) != last_error) {
        LOG(WARNING) << "Central | Kafka consumer " << client_id << ": " << polled;
        last_error = std::string(polled.message());
      }
      stop_.WaitForNotificationWithTimeout(absl::Milliseconds(500));
    }
  }  // handlers still running finish (or are replayed after a restart)
  absl::Status closed = consumer->Close();
  if (!closed.ok()) LOG(WARNING) << "Central | " << closed;
}

absl::Status KafkaBridge::CheckSignature(const v1::SessionResult& result) const {
  if (!options_.verify_results) return absl::OkStatus();
  // What is wrong with its figures says more than a signature that fails.
  if (absl::Status valid = ValidateSessionResult(result); !valid.ok()) return valid;
  absl::StatusOr<std::string> certificate = enrolments_.Certificate(result.cp_id());
  // Not known yet (its monitor has not connected since central started):
  // the result waits for it, rather than being called forged.
  if (absl::IsUnavailable(certificate.status())) return certificate.status();
  absl::Status verified =
      certificate.ok() ? Verify(*certificate, SignedBytes(result), result.signature())
                       : certificate.status();
  if (verified.ok()) return verified;
  return absl::InvalidArgumentError(absl::StrCat("forged: a result for ", result.cp_id(),
                                                 " not signed by it (", verified.message(), ")"));
}

void KafkaBridge::Dispatch(const KafkaMessage& m, KafkaDone done) {
  if (m.topic == kDriverRequestsTopic) {
    absl::StatusOr<v1::DriverRequest> request = Parse<v1::DriverRequest>(m);
    if (!request.ok()) return done(request.status());
    if (absl::Status signed_by_driver = request_signatures_.Check(*request);
        !signed_by_driver.ok()) {
      return done(signed_by_driver);
    }
    return coordinator_.HandleRequest(*request, m, std::move(done));
  }
  if (m.topic == kSessionResultsTopic) {
    absl::StatusOr<v1::SessionResult> result = Parse<v1::SessionResult>(m);
    if (!result.ok()) return done(result.status());
    if (absl::Status signed_by_cp = CheckSignature(*result); !signed_by_cp.ok()) {
      return done(signed_by_cp);
    }
    return coordinator_.HandleResult(*result, std::move(done));
  }
  if (m.topic == kSupplyTelemetryTopic) {
    absl::StatusOr<v1::SupplyTelemetry> telemetry = Parse<v1::SupplyTelemetry>(m);
    if (!telemetry.ok()) return done(telemetry.status());
    return done(coordinator_.HandleTelemetry(*telemetry));
  }
  done(absl::OkStatus());
}

}  // namespace evnet
