// The Kafka topics of evnet (DESIGN.md, "Who talks to whom") and their keys.
#ifndef EVNET_COMMON_TOPICS_H_
#define EVNET_COMMON_TOPICS_H_

namespace evnet {

// driver -> central, keyed by driver id. Payload: evnet.v1.DriverRequest.
inline constexpr char kDriverRequestsTopic[] = "evnet.driver.requests";
// central -> driver, keyed by driver id. Payload: evnet.v1.DriverUpdate.
inline constexpr char kDriverUpdatesTopic[] = "evnet.driver.updates";
// engine -> central, keyed by CP id. Payload: evnet.v1.SupplyTelemetry.
inline constexpr char kSupplyTelemetryTopic[] = "evnet.supply.telemetry";
// engine -> central, keyed by CP id. Payload: evnet.v1.SessionResult.
inline constexpr char kSessionResultsTopic[] = "evnet.session.results";
// central -> central, keyed by CP id, compacted. Payload: evnet.v1.CpRegistryRecord.
inline constexpr char kCpRegistryTopic[] = "evnet.cp.registry";
// central -> central, keyed by CP id, compacted: which CPs may join, with
// which certificate, and which were revoked. Payload: evnet.v1.Enrolment.
inline constexpr char kCpEnrolmentsTopic[] = "evnet.cp.enrolments";
// central -> central, keyed by id tag in upper case, compacted: drivers' id
// tokens (RFID cards, app tokens) and whether each may start a session.
// Payload: evnet.v1.IdToken.
inline constexpr char kIdTokensTopic[] = "evnet.id.tokens";

// central -> central, keyed by driver id, compacted: the public key each
// driver last signed a request with, which its updates are sealed to.
// Payload: evnet.v1.DriverKey.
inline constexpr char kDriverKeysTopic[] = "evnet.driver.keys";
// central -> central, keyed by certificate SHA-256, compacted: the driver
// and operator certificates central no longer accepts (RevokeCertificate).
// Payload: evnet.v1.RevokedCertificate.
inline constexpr char kRevokedCertificatesTopic[] = "evnet.certificates.revoked";

// OCPP gateways -> OCPP gateways, keyed by chargeBoxId, compacted: each OCPP
// charger's open transactions, so that a charger that reconnects to another
// gateway mid-session is billed as if it had not moved. Central creates it.
// Payload: evnet.v1.OcppChargerJournal.
inline constexpr char kOcppChargersTopic[] = "evnet.ocpp.chargers";

// central -> central, keyed by request id, kept an hour: central's decisions
// (accepted, rejected, ended with the ticket, interrupted), which it reads
// back for its dedupe windows at start instead of every update ever sent.
// Payload: evnet.v1.DriverUpdate.
inline constexpr char kCentralLedgerTopic[] = "evnet.central.ledger";

// central -> central, keyed by session id, compacted: every session central
// holds open (accepted, or refused but possibly running at its CP), written
// in the Kafka transaction of the decision that opened it and tombstoned in
// the one that closed it. Payload: evnet.v1.OpenSession.
inline constexpr char kCentralSessionsTopic[] = "evnet.central.sessions";

// any program -> operators, keyed by the original key: messages set aside
// because they will never be handled. Payload: evnet.v1.DeadLetter.
inline constexpr char kDeadLetterTopic[] = "evnet.deadletter";

// central -> operators and auditors, keyed by target: one record per
// security-relevant event (operator actions, refused connections, refused
// and forged messages). Append-only. Payload: evnet.v1.AuditRecord.
inline constexpr char kAuditTopic[] = "evnet.audit";

// How many partitions each topic gets when a program creates it: work for
// several consumers, and a driver reads only the sixth that holds its own
// updates. Keys keep each driver's and each CP's messages in order.
inline constexpr int kTopicPartitions = 6;

}  // namespace evnet

#endif  // EVNET_COMMON_TOPICS_H_
