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

// How many partitions each topic gets when a program creates it.
inline constexpr int kTopicPartitions = 1;

}  // namespace evnet

#endif  // EVNET_COMMON_TOPICS_H_
