// The OCPP gateway: accepts OCPP 1.6J chargers at wss://HOST:PORT/ocpp/<id>
// (subprotocol ocpp1.6) and makes each of its connectors a CP of evnet (see
// charger.h): connector 1 the chargeBoxId, connector n <chargeBoxId>-<n>,
// each with its own certificate from --pki_dir.
// GET /readyz on the same port is its readiness: 200, or 503 and why.
//
// Threading: one network thread runs Boost.Asio: it owns every WebSocket,
// every Charger and the maps of them, and runs the one-second tick. gRPC's
// callbacks (central's commands, a link's end) and Kafka's delivery reports
// only post work to it. Per CP, the MonitorLink pointer is guarded by its
// slot's mutex, as the link's end arrives on a gRPC thread.
#ifndef EVNET_OCPP_GATEWAY_GATEWAY_H_
#define EVNET_OCPP_GATEWAY_GATEWAY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/kafka/kafka_producer.h"
#include "evnet/v1/types.pb.h"

namespace evnet::ocpp {

struct GatewayOptions {
  std::string listen = "127.0.0.1:9000";  // HOST:PORT; port 0 picks one
  std::string central_address = "127.0.0.1:50051";
  // Holds ca.crt and each CP's cp/<cp id>.crt and .key (a charger's, and
  // its connectors' from the second on), with which the gateway speaks for
  // it to central and signs its results.
  // Empty: plaintext gRPC and unsigned results (--insecure).
  std::string pki_dir;
  std::string state_dir;  // created 0700 (MakePrivateDir)
  // wss:// with this certificate (OCPP security profiles 2 and 3: a client
  // certificate of the CA in `tls_ca_file`, or a password from
  // `credentials_file`); empty: plain ws://, nobody's identity checked.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  std::string credentials_file;
  v1::ChargingPointInfo defaults;  // location, price and power of every charger
  // The operator's chargers file (chargers_file.h): each charger's own
  // figures over the defaults, followed as it is edited; empty: none.
  std::string chargers_file;
  // Keep the chargers' local authorization lists (local_list.h).
  bool local_lists = true;
  int heartbeat_interval_s = 60;
  absl::Duration call_timeout = absl::Seconds(4);
  // Reconciliation (ChargerOptions): when a silent transaction is asked
  // for a meter value, and when one its charger dropped is closed.
  absl::Duration meter_silence = absl::Minutes(5);
  absl::Duration stop_grace = absl::Minutes(2);
  KafkaProducerOptions kafka;
  // Timeouts and relinking on its steady reading; timestamps on its wall.
  const Clock* clock = &SystemClock::Get();
};

class Gateway {
 public:
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(GatewayOptions options);
  // Closes every WebSocket and MonitorLink, flushes Kafka.
  ~Gateway();

  int port() const;

  // Fails the gateway's Kafka producer for good, as librdkafka can.
  void InjectKafkaFatalErrorForTesting(const std::string& reason);

  class Impl;

 private:
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace evnet::ocpp

#endif  // EVNET_OCPP_GATEWAY_GATEWAY_H_
