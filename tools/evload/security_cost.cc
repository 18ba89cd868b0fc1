// security_cost: what central's per-message security costs in CPU, next to
// a baseline measured in the same run (encoding the same update as JSON).
//
//   tools/pki/evpki init /tmp/p && tools/pki/evpki issue /tmp/p driver driver-bench
//   bazel run -c opt //tools/evload:security_cost -- --pki_dir=/tmp/p
//
// Prints microseconds per operation: checking a driver's request (its
// certificate against the CA, then its signature), sealing an update to the
// driver's key, what the driver does (signing, opening), and checking a
// telemetry sample's MAC next to what an ECDSA signature on it would cost.
#include <functional>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/json_codec.h"
#include "common/trust/sealing.h"
#include "common/trust/signing.h"
#include "evnet/v1/events.pb.h"

ABSL_FLAG(std::string, pki_dir, "", "a CA of tools/pki/evpki with driver/driver-bench.{crt,key}");
ABSL_FLAG(int, iterations, 2000, "operations timed of each kind");

namespace {

// Microseconds per call of `op`, over `n` calls.
double MicrosPer(int n, const std::function<void()>& op) {
  const absl::Time start = absl::Now();
  for (int i = 0; i < n; ++i) op();
  return absl::ToDoubleMicroseconds(absl::Now() - start) / n;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace evnet;
  const std::string dir = absl::GetFlag(FLAGS_pki_dir);
  absl::StatusOr<std::string> ca = ReadFile(dir + "/ca.crt");
  absl::StatusOr<std::string> cert = ReadFile(dir + "/driver/driver-bench.crt");
  absl::StatusOr<std::string> key = ReadFile(dir + "/driver/driver-bench.key");
  if (!ca.ok() || !cert.ok() || !key.ok()) {
    std::cerr << "security_cost: give --pki_dir with ca.crt and driver/driver-bench.{crt,key} "
                 "(see the top of tools/evload/security_cost.cc)\n";
    return 2;
  }
  const int n = absl::GetFlag(FLAGS_iterations);

  v1::DriverRequest request;
  request.set_request_id("driver-bench-1");
  request.set_driver_id("driver-bench");
  request.set_cp_id("CP-001");
  request.set_signature(*Sign(*key, SignedBytes(request)));
  request.set_certificate_pem(*cert);
  v1::DriverUpdate update;
  update.set_update_id("driver-bench-1/ended");
  update.set_driver_id("driver-bench");
  update.set_kind(v1::UPDATE_KIND_ENDED);
  update.mutable_ticket()->set_energy_kwh(12.5);
  update.mutable_ticket()->set_amount_eur(3.75);
  const std::string json = ToJson(update);
  const std::string public_key = *PublicKeyOf(*cert);
  const std::string sealed = *Seal(public_key, json);

  const double baseline = MicrosPer(n, [&] { (void)ToJson(update); });
  const double check = MicrosPer(n, [&] {
    (void)CheckIssuedBy(*ca, request.certificate_pem());
    (void)Verify(request.certificate_pem(), SignedBytes(request), request.signature());
  });
  const double chain = MicrosPer(n, [&] { (void)CheckIssuedBy(*ca, request.certificate_pem()); });
  const double seal = MicrosPer(n, [&] { (void)Seal(public_key, json); });
  Sealer sealer;
  const double seal_again = MicrosPer(n, [&] { (void)sealer.Seal(public_key, json); });
  const double sign = MicrosPer(n, [&] { (void)Sign(*key, SignedBytes(request)); });
  const double open = MicrosPer(n, [&] { (void)Open(*key, sealed); });
  Opener opener;
  const std::string sealed_by_sealer = *sealer.Seal(public_key, json);
  const double open_again = MicrosPer(n, [&] { (void)opener.Open(*key, sealed_by_sealer); });
  v1::SupplyTelemetry sample;
  sample.set_cp_id("CP-001");
  sample.mutable_supply()->set_session_id("s-driver-bench-1");
  sample.mutable_supply()->set_driver_id("driver-bench");
  sample.mutable_supply()->set_energy_kwh(12.5);
  sample.mutable_supply()->set_power_kw(22);
  const std::string telemetry_key = NewTelemetryKey();
  MacTelemetry(telemetry_key, sample);
  const std::string sample_signature = *Sign(*key, TelemetryMacBytes(sample));
  const double mac_check = MicrosPer(n, [&] { (void)CheckTelemetryMac(telemetry_key, sample); });
  const double signature_check =
      MicrosPer(n, [&] { (void)Verify(*cert, TelemetryMacBytes(sample), sample_signature); });
  std::cout << absl::StrFormat(
      "| operation | us each | baseline: the update as JSON, us |\n|---|---|---|\n"
      "| central checks a driver's request (CA, then signature) | %.1f | %.1f |\n"
      "| ... of which the CA | %.1f | %.1f |\n"
      "| sealing an update with a new key agreement | %.1f | %.1f |\n"
      "| central seals an update (Sealer: key agreed once per driver) | %.1f | %.1f |\n"
      "| a driver signs a request | %.1f | %.1f |\n"
      "| opening an update with a new key agreement | %.1f | %.1f |\n"
      "| a driver opens an update (Opener: agreed key kept) | %.1f | %.1f |\n"
      "| central checks a telemetry sample's MAC (HMAC-SHA256) | %.1f | %.1f |\n"
      "| ... what an ECDSA signature on it would cost to check | %.1f | %.1f |\n",
      check, baseline, chain, baseline, seal, baseline, seal_again, baseline, sign, baseline, open,
      baseline, open_again, baseline, mac_check, baseline, signature_check, baseline);
  return 0;
}
