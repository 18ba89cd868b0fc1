// request_signatures_cost: what a forged driver request costs central to
// refuse, against what it cost before verdicts were kept (the CA's chain
// check on every request), measured in the same run.
//
//   tools/pki/evpki init /tmp/p
//   tools/pki/evpki issue /tmp/p driver driver-bench
//   bazel run -c opt //central:request_signatures_cost -- --pki_dir=/tmp/p
#include <functional>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "central/request_signatures.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/trust/peer_identity.h"
#include "common/trust/signing.h"

ABSL_FLAG(std::string, pki_dir, "", "a CA of tools/pki/evpki with driver/driver-bench.{crt,key}");
ABSL_FLAG(int, iterations, 5000, "requests checked of each kind");

namespace {

double MicrosPer(int n, const std::function<void(int)>& op) {
  const absl::Time start = evnet::SystemClock::Get().Steady();
  for (int i = 0; i < n; ++i) op(i);
  return absl::ToDoubleMicroseconds(evnet::SystemClock::Get().Steady() - start) / n;
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
    std::cerr << "request_signatures_cost: give --pki_dir with ca.crt and "
                 "driver/driver-bench.{crt,key} (see the top of this file)\n";
    return 2;
  }
  const int n = absl::GetFlag(FLAGS_iterations);
  DriverKeys keys([](const v1::DriverKey&) {});
  RequestSignatures signatures(*ca, nullptr, keys);

  // driver-bench's certificate and key, asking as driver-<i>: forged.
  v1::DriverRequest forged;
  forged.set_request_id("r-1");
  forged.set_cp_id("CP-001");
  forged.set_certificate_pem(*cert);
  forged.set_signature(*Sign(*key, SignedBytes(forged)));
  v1::DriverRequest own = forged;
  own.set_driver_id("driver-bench");
  own.set_signature(*Sign(*key, SignedBytes(own)));

  const double before = MicrosPer(n, [&](int) {
    if (CheckIssuedBy(*ca, forged.certificate_pem()).ok()) {
      (void)IdentityOfCertificate(forged.certificate_pem());
    }
  });
  const double now = MicrosPer(n, [&](int i) {
    forged.set_driver_id(absl::StrCat("driver-", i));
    (void)signatures.Check(forged);
  });
  const double honest = MicrosPer(n, [&](int) { (void)signatures.Check(own); });
  std::cout << absl::StrFormat(
      "| request | us each |\n|---|---|\n"
      "| forged (another driver's name), the CA's check each time (before) | %.1f |\n"
      "| forged (another driver's name), verdict kept (now) | %.1f |\n"
      "| the driver's own, verdict kept (signature checked each time) | %.1f |\n"
      "CA checks made: %d for %d requests\n",
      before, now, honest, signatures.chain_checks(), 2 * n);
  return 0;
}
