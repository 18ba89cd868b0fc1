// Fuzzes what every evnet program reads from outside: the JSON of each Kafka
// message type, and the checks of validation.h on it (the monitors' gRPC
// messages, health reports and CP info, are checked by the same code).
//
// Input: the first byte ('0' to '8') picks the message type, the rest is
// its JSON.
// Beyond "no crash, no sanitizer report", two properties:
//  - whatever decodes, encodes and decodes again to the same message
//    (no value that central could write and then not read back);
//  - whatever passes validation has finite, non-negative figures.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/message_differencer.h"
#include "common/json_codec.h"
#include "common/validation.h"
#include "evnet/v1/central.pb.h"
#include "evnet/v1/engine.pb.h"
#include "evnet/v1/events.pb.h"

namespace evnet {
namespace {

void Require(bool holds, const char* what, const google::protobuf::Message& message) {
  if (holds) return;
  std::fprintf(stderr, "property broken: %s\n%s\n", what, message.DebugString().c_str());
  std::abort();
}

void RoundTrips(const google::protobuf::Message& message) {
  std::unique_ptr<google::protobuf::Message> again(message.New());
  const std::string json = ToJson(message);
  Require(FromJson(json, again.get()).ok(), "what was encoded does not decode", message);
  // By value: NaN equals NaN here, and -0.0 equals 0.0 and an unset field
  // (proto3 JSON leaves out a zero of either sign).
  google::protobuf::util::DefaultFieldComparator values;
  values.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differ;
  differ.set_field_comparator(&values);
  differ.set_message_field_comparison(google::protobuf::util::MessageDifferencer::EQUIVALENT);
  Require(differ.Compare(message, *again), "decode(encode(m)) differs from m", message);
}

bool Finite(double x) { return std::isfinite(x) && x >= 0; }

template <typename T>
bool Decode(absl::string_view json, T* message) {
  if (!FromJson(json, message).ok()) return false;
  RoundTrips(*message);
  return true;
}

}  // namespace
}  // namespace evnet

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace evnet;
  if (size == 0) return 0;
  const absl::string_view json(reinterpret_cast<const char*>(data) + 1, size - 1);
  // '0' to '8', so that a seed reads as text.
  switch (static_cast<uint8_t>(data[0] - '0') % 9) {
    case 0: {
      v1::DriverRequest m;
      if (Decode(json, &m)) (void)ValidateDriverRequest(m);
      break;
    }
    case 1: {
      v1::SessionResult m;
      if (Decode(json, &m) && ValidateSessionResult(m).ok()) {
        Require(Finite(m.energy_kwh()) && Finite(m.amount_eur()) &&
                    Finite(m.price_eur_per_kwh()),
                "a valid result has finite, non-negative figures", m);
      }
      break;
    }
    case 2: {
      v1::SupplyTelemetry m;
      if (Decode(json, &m) && ValidateTelemetry(m).ok()) {
        Require(Finite(m.supply().energy_kwh()) && Finite(m.supply().power_kw()),
                "valid telemetry has finite, non-negative figures", m);
      }
      break;
    }
    case 3: {
      v1::DriverUpdate m;  // what drivers read
      (void)Decode(json, &m);
      break;
    }
    case 4: {
      v1::CpRegistryRecord m;  // what central rebuilds from
      if (Decode(json, &m)) (void)ValidateCpInfo(m.info());
      break;
    }
    case 5: {
      v1::ChargingPointInfo m;
      if (Decode(json, &m) && ValidateCpInfo(m).ok()) {
        Require(Finite(m.price_eur_per_kwh()) && Finite(m.power_kw()),
                "valid CP info has finite, non-negative figures", m);
      }
      break;
    }
    case 6: {
      v1::HealthReport m;
      if (Decode(json, &m)) (void)ValidateHealthReport(m);
      break;
    }
    case 7: {
      v1::DeadLetter m;
      (void)Decode(json, &m);
      break;
    }
    default: {
      v1::EngineJournal m;
      (void)Decode(json, &m);
    }
  }
  return 0;
}
